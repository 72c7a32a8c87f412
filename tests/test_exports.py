"""CSV exports on both databases: every row, Chinese readable by Excel (UTF-8 with a BOM),
formula cells neutralised, streamed a page at a time, and nothing for anyone not signed in."""
import csv
import io

import pytest

from models.goods import Goods
from models.report import Report
from models.user import User
from services import admin_accounts, audit, exports
from tests.test_admin_pages import PASSWORD, Session

HOSTILE = ["=HYPERLINK(\"http://evil.example\",\"点我\")", "+1+1", "-2+3", "@SUM(A1:A2)",
           "\tnext", "\r=1", "safe = text", "a,b\n\"c\""]


def parse(body):
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM, once, first
    text = body.decode("utf-8")
    assert text.count("\ufeff") == 1
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def test_formula_cells_get_an_apostrophe_and_numbers_stay_numbers():
    assert [exports.cell(v) for v in HOSTILE] == [
        "'=HYPERLINK(\"http://evil.example\",\"点我\")", "'+1+1", "'-2+3", "'@SUM(A1:A2)",
        "'\tnext", "'\r=1", "safe = text", "a,b\n\"c\""]
    assert [exports.cell(v) for v in (-5, 0, None, True, "")] == [-5, 0, "", 1, ""]


@pytest.mark.gen_test(timeout=90)
async def test_exports_hold_every_row_safely_and_refuse_anonymous(api, app):
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD, "moderator")
    size = exports.PAGE * 2 + 7  # three pages and a bit: the keyset paging is exercised

    def seed():
        with Goods._meta.database.atomic():
            User.insert_many([{"openid": "u%05d" % i, "wxname": "同学%d" % i}
                              for i in range(size)]).execute()
            Goods.insert_many([{"openid": "u%05d" % (i % 50), "goods_name": "二手书%d" % i,
                                "goods_title": HOSTILE[i % len(HOSTILE)], "goods_dec": "d",
                                "goods_price_new": "12.50", "goods_price_old": "30.00"}
                               for i in range(size)]).execute()
        for i, text in enumerate(HOSTILE):
            Report.create(reporter="u%05d" % i, target_type="goods", target_id=str(i + 1),
                          reason=text, context="上下文")
    await app.run_db(seed)

    anonymous = Session(api)
    for kind in ("listings", "users", "reports"):
        away = await anonymous.get("/admin/export/%s.csv" % kind)
        assert away.status == 302 and away.headers["Location"].startswith("/admin/login")
        assert b"HYPERLINK" not in away.body and b"u000" not in away.body
    refused = await api.get("/admin/export/users.csv", "a-bearer-token-is-no-session")
    assert refused.headers["Content-Type"].startswith("text/html")  # the sign-in page
    assert b'name="password"' in refused.body and b"u000" not in refused.body

    s = Session(api)
    await s.sign_in()
    reply = await s.get("/admin/export/listings.csv")
    assert reply.status == 200, reply
    assert reply.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert reply.headers["Content-Disposition"].startswith('attachment; filename="listings-')
    assert reply.headers["Cache-Control"] == "no-store"
    rows = parse(reply.body)
    assert rows[0] == exports.COLUMNS["listings"] and len(rows) == size + 1
    gids = [int(r[0]) for r in rows[1:]]
    assert gids == sorted(gids) and len(set(gids)) == size
    first = dict(zip(rows[0], rows[1]))
    assert first["goods_name"] == "二手书0" and first["seller"] == "同学0"
    assert first["goods_price_new"] == "12.50" and first["state"] == "0"
    titles = [r[rows[0].index("goods_title")] for r in rows[1:len(HOSTILE) + 1]]
    assert titles == [exports.cell(t) for t in HOSTILE]
    for cell in (c for r in rows[1:] for c in r):
        assert not cell.startswith(exports.FORMULA), cell

    users = parse((await s.get("/admin/export/users.csv")).body)
    assert len(users) == size + 1 and users[1][1:3] == ["u00000", "同学0"]
    reports = parse((await s.get("/admin/export/reports.csv")).body)
    assert [r[4] for r in reports[1:]] == [exports.cell(t) for t in HOSTILE]
    assert reports[1][5] == "上下文"
    assert (await s.get("/admin/export/goods.csv")).status == 404
    exported = [r["action"] for r in (await app.run_db(audit.lines, "export.", 0))["items"]]
    assert exported == ["export.reports", "export.users", "export.listings"]


def test_a_page_is_bounded_and_the_next_one_starts_after_it(database):
    User.insert_many([{"openid": "p%03d" % i} for i in range(25)]).execute()
    chunks, after = [], 0
    while after is not None:
        chunk, after = exports.page("users", after, size=10)
        chunks.append(chunk)
    assert len(chunks) == 3 and chunks[0].startswith(b"\xef\xbb\xbfid,")
    assert not chunks[1].startswith(b"\xef\xbb\xbf") and b"openid" not in chunks[1]
    rows = parse(b"".join(chunks))
    assert len(rows) == 26 and [r[1] for r in rows[1:]] == ["p%03d" % i for i in range(25)]
