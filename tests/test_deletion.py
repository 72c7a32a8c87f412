"""Deletion leaves nothing behind (issue 23, items 1 and 2), on both databases: a deleted
account's token is refused by every route of the application's table (REST, streamed uploads,
pages, static files, the chat socket), nothing recreates the user row, and every table that can
name a person is handled by deletion (services.accounts.DELETION, checked against the schema),
so a fresh login with the same openid finds nothing of the old account."""
import os
import re
import urllib.parse

import pytest
import tornado.web
import tornado.websocket
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from models.goods import ON_SALE, RESERVED, Goods
from models.rating import HandOver, Rating
from models.user import DELETED, User
from models.wanted import WantedKey, WantedPost
from services import accounts, blocks, favourites, subscriptions, users as user_rules
from errors import NotFound
from tests.test_accounts import bob_world, delete, rows_naming
from tests.test_goods import approve, publish, roomy_limits  # noqa: F401
from tests.house import ROOMS, ROOT, files
from tests.test_images import picture, upload


@pytest.fixture
def settings_env(settings_env):
    settings_env["MARKET_LOCALE_DEFAULT"] = "en_US"
    settings_env["MARKET_LIMITS_PER_MINUTE_ADDRESS"] = "100000"
    return settings_env


# -- item 1: every route refuses a deleted account's token --------------------------------------
# A value for each shape of group the route patterns use (a new shape fails loudly below).
GROUP_SAMPLES = [
    (r"^\\d", "1"), (r"^\[0-9\]", "1"), (r"^\[0-9a-f\]\{32\}", "0" * 32 + ".jpg"), (r"^\[A-Za-z0-9_-\]", "bob"),
    (r"^\[\^/\]", "bob"), (r"^\.\*", "x"),
]
METHODS = ("get", "post", "put", "patch", "delete")


def _sample(group):
    if re.fullmatch(r"[\w\\.-]+(\|[\w\\.-]+)*", group):  # a literal or alternatives: the first
        return group.split("|")[0].replace("\\", "")
    for shape, value in GROUP_SAMPLES:
        if re.match(shape, group):
            return value
    raise AssertionError("add a sample for the route group %r to GROUP_SAMPLES" % group)


def concrete(pattern):
    """A path matching a route pattern: each top-level group replaced by a sample."""
    out, depth, group = "", 0, ""
    for ch in pattern.rstrip("$"):
        if ch == "(":
            depth += 1
            if depth == 1:
                group = ""
                continue
        elif ch == ")":
            depth -= 1
            if depth == 0:
                out += _sample(group)
                continue
        if depth:
            group += ch
        elif ch != "\\":
            out += ch
    assert re.fullmatch(pattern, out), (pattern, out)
    return out


def served(target):
    """The HTTP methods a handler class answers."""
    return [m for m in METHODS if getattr(target, m) is not getattr(tornado.web.RequestHandler, m)]


async def xsrf(api):
    """An XSRF cookie and header pair (so admin page POSTs reach the identity check)."""
    reply = await api.get("/admin/login")
    cookie = reply.headers.get_list("Set-Cookie")
    value = next(c.split(";")[0].split("=", 1)[1] for c in cookie if c.startswith("_xsrf="))
    return {"Cookie": "_xsrf=" + value, "X-Xsrftoken": value}


@pytest.mark.gen_test(timeout=120)
async def test_a_deleted_accounts_token_is_refused_by_every_route_and_recreates_nothing(
        api, app, config):
    await bob_world(api, app, config)
    old = await api.login("bob", register=False)  # a second token of the same account
    assert (await delete(api, old)).code == 200
    headers = await xsrf(api)
    answers = {}
    for rule in app.wildcard_router.rules:  # the whole table, as the application routes it
        path, target = concrete(rule.matcher.regex.pattern), rule.target
        if issubclass(target, tornado.websocket.WebSocketHandler):
            url = api.base.replace("http", "ws", 1) + path + "?v=2"
            with pytest.raises(HTTPClientError) as refused:
                await websocket_connect(HTTPRequest(url, headers={
                    "Authorization": "Bearer " + old}, request_timeout=10))
            answers[("WS", path)] = refused.value.code
            continue
        for method in served(target):
            body = b"{}" if method in ("post", "put", "patch") else None
            reply = await api.fetch(method.upper(), path, {"openid": "bob"}, old, body,
                                    dict(headers, **({"Content-Type": "application/json"}
                                                     if body else {})))
            answers[(method.upper(), path)] = reply.status
    # and the default handler, for a path no route matches
    answers[("GET", "/no/such/path")] = (await api.get("/no/such/path", old)).status
    # the exploit: a student-ID photo and a chat picture, streamed with the old token
    for flag in (1, 3, 0):
        answers[("upload flag=%d" % flag, "")] = (
            await upload(api, old, "bob", picture("PNG"), flag=flag)).status
    assert len(answers) > 100
    assert {k: v for k, v in answers.items() if v != 401} == {}
    assert (await api.get("/uploads/" + "0" * 32 + ".jpg")).status == 404  # no token: served
    # nothing came back: no user row, no photo, only the epoch keeps the tokens dead
    assert await app.run_db(lambda: User.select().where(User.openid == "bob").count()) == 0
    assert [table for table, _ in await app.run_db(rows_naming, "bob")] == ["SessionEpoch"]


def test_every_handler_keeps_the_identity_checks_of_prepare():
    """A handler that defines prepare() (as the streamed upload once did) cannot be declared."""
    from handlers.base import ApiHandler
    with pytest.raises(TypeError, match="prepare"):
        type("Sneaky", (ApiHandler,), {"prepare": lambda self: None})


def test_only_a_login_creates_a_user_row(database):
    """The rules that act for a user never create one: a call for an openid without an account
    (a deleted one racing its deletion) is NotFound and leaves no row; only log_in creates."""
    with database.connection_context():
        for call in (lambda: user_rules.require_active("ghostly"),
                     lambda: user_rules.register("ghostly", {"wxname": "x"}),
                     lambda: user_rules.update_school_info(
                         "ghostly", {"school": "a", "xuehao": "1", "uclass": "c"}),
                     lambda: favourites.replace("ghostly", []),
                     lambda: subscriptions.add_grants("ghostly", ["t"], {"t"}),
                     lambda: blocks.block("ghostly", "someone")):
            with pytest.raises(NotFound):
                call()
        assert User.select().count() == 0
        assert [table for table, _ in rows_naming("ghostly")] == []
        accounts.log_in("ghostly")
        assert User.select().where(User.openid == "ghostly").count() == 1
    callers = []
    for path in files(*ROOMS):
        if re.search(r"ensure_user\(|User\.create\(|User\.insert", open(path, encoding="utf-8").read()):
            callers.append(os.path.relpath(path, ROOT))
    # the login, the row's own definition, and the demo data seeder (scripts, never a request)
    assert sorted(callers) == ["services/accounts.py", "services/users.py", "tools/demo.py"]


# -- item 2: the registry against the schema ----------------------------------------------------
# A column that can name a person: an openid's width (64; "u:<openid>" 80; a pair key 129) or a
# name that says so.
PERSON = re.compile(r"openid|^(who|actor|target|target_id|blocker|blocked|seller|buyer|rater"
                    r"|ratee|reporter|handled_by|pair|owner|author|sub|uid|user|user_id|wxname)$")
WIDTHS = set(range(64, 81)) | {129}


def person_columns(database, table, model):
    """Columns of `table` (read from the database) that may hold a person."""
    found = set()
    for column in database.get_columns(table):
        field = model._meta.columns.get(column.name) if model else None
        declared = re.search(r"CHAR\((\d+)\)", column.data_type or "", re.I)
        width = getattr(field, "max_length", None) or (int(declared.group(1)) if declared else 0)
        if PERSON.search(column.name) or width in WIDTHS:
            found.add(column.name)
    return found


def test_every_table_and_every_column_that_can_name_a_person_has_a_deletion_policy(database):
    models = accounts._models()
    with database.connection_context():
        tables = set(database.get_tables())
        assert sorted(tables - set(accounts.DELETION)) == [], \
            "say in services.accounts.DELETION what deleting an account does to these tables"
        missing = {}
        for table in tables:
            known = set(accounts.DELETION[table])
            columns = {c.name for c in database.get_columns(table)}
            assert known <= columns, ("stale entries", table, known - columns)
            unhandled = person_columns(database, table, models.get(table)) - known
            if unhandled:
                missing[table] = sorted(unhandled)
        assert missing == {}, "give these columns a policy in services.accounts.DELETION"
    policies = {p for columns in accounts.DELETION.values() for p in columns.values()}
    assert policies <= {accounts.REMOVE, accounts.ANONYMISE, accounts.KEEP, accounts.NOT_A_USER}


@pytest.mark.gen_test(timeout=120)
async def test_a_fresh_login_finds_no_want_to_buy_post_hand_over_or_rating_of_the_old_account(
        api, app, config):
    w = await bob_world(api, app, config)
    t = w["tokens"]
    # bob wants something; bob sold his listing to alice (confirmed, rated both ways), and
    # alice proposed handing hers over to bob (waiting: her listing is reserved)
    post = await api.post_json("/wx/wanted", {"openid": "bob", "keywords": "台灯 二手"}, t["bob"])
    assert post.code == 200, post
    sold = await api.post_json("/wx/handover", {"openid": "bob", "gid": w["bob_gid"],
                                                "buyer": "alice"}, t["bob"])
    assert sold.code == 200, sold
    hid = sold.extend["handover"]["id"]
    assert (await api.post_json("/wx/handover/confirm", {"openid": "alice", "id": hid},
                                t["alice"])).code == 200
    for who, score in (("alice", 5), ("bob", 4)):
        r = await api.post_json("/wx/rating", {"openid": who, "handoverId": hid,
                                               "score": score}, t[who])
        assert r.code == 200, r
    waiting = await api.post_json("/wx/handover", {"openid": "alice", "gid": w["alice_gid"],
                                                   "buyer": "bob"}, t["alice"])
    assert waiting.code == 200, waiting
    assert await app.run_db(lambda: Goods.get_by_id(w["alice_gid"]).sale_state) == RESERVED
    summary = (await api.get("/wx/rating/list", openid="bob")).extend["summary"]
    assert summary["count"] == 1 and summary["sales"] == 1, summary
    board = (await api.get("/wx/wanted/list")).extend["wanted"]
    assert [p["keywords"] for p in board] == ["台灯 二手"]

    assert (await delete(api, t["bob"])).code == 200
    ghost = await app.run_db(lambda: User.get(User.state == DELETED).openid)
    assert [table for table, _ in await app.run_db(rows_naming, "bob")] == ["SessionEpoch"]
    # the same openid logs in again: nothing of the old account
    fresh = await api.login("bob", register=False)
    assert (await api.get("/wx/wanted/mine", fresh, openid="bob")).extend["wanted"] == []
    assert (await api.get("/wx/wanted/list")).extend["wanted"] == []  # off the public board
    assert await app.run_db(lambda: WantedKey.select().count()) == 0
    assert (await api.get("/wx/handover/mine", fresh, openid="bob")).extend["handovers"] == []
    assert (await api.get("/wx/rating/list", openid="bob")).extend["summary"] == {
        "average": None, "count": 0, "sales": 0}
    assert (await api.get("/wx/rating/list", openid="bob")).extend["ratings"] == []
    # alice keeps her side, naming the pseudonym; her rating summary is unchanged
    mine = (await api.get("/wx/handover/mine", t["alice"], openid="alice")).extend["handovers"]
    assert [(h["seller"], h["buyer"], h["state"]) for h in mine] == [(ghost, "alice",
                                                                      "confirmed")]
    assert (await api.get("/wx/rating/list", openid="alice")).extend["summary"]["count"] == 1
    rated = (await api.get("/wx/rating/list", openid="alice")).extend["ratings"]
    assert [r["rater"] for r in rated] == [ghost]
    # the proposal to bob is withdrawn, and alice's listing is back on sale
    assert await app.run_db(lambda: HandOver.select().count()) == 1
    assert await app.run_db(lambda: Goods.get_by_id(w["alice_gid"]).sale_state) == ON_SALE
    assert await app.run_db(lambda: sorted((r.rater, r.ratee) for r in Rating.select())) == \
        sorted([("alice", ghost), (ghost, "alice")])
    assert await app.run_db(lambda: [p.openid for p in WantedPost.select()]) == [ghost]
