"""Privacy (issue 26, items 1-2), over real HTTP on both databases: a student's archive holds
every stored row that names them (compared with the database itself) and their photos byte for
byte; another student, a deleted account and a second request the same day are refused; the
sweep removes it; consents and withdrawal (subscribe grants go and stay off); the page /privacy
with the configured operator and the retention settings the server runs with."""
import asyncio
import datetime
import io
import json
import os
import re
import zipfile

import pytest

from models import utcnow
from models.admin import AdminAction
from models.privacy import Consent, DataExport
from models.subscription import NotifyGrant
from tests.test_accounts import bob_world, delete, rows_naming
from tests.test_goods import roomy_limits  # noqa: F401
from tests.test_images import picture, upload
from tests.test_ratings import confirm, mark, rate


@pytest.fixture
def settings_env(settings_env, tmp_path):
    settings_env.update(MARKET_PRIVACY_OPERATOR="理工大学学生会",
                        MARKET_PRIVACY_CONTACT="privacy@example.edu",
                        MARKET_PRIVACY_POLICY_VERSION="2026-12-07",
                        MARKET_PRIVACY_EXPORT_DIR=str(tmp_path / "exports"),
                        MARKET_CHAT_HISTORY_DAYS="123", MARKET_PRIVACY_EXPORT_KEEP_HOURS="6",
                        MARKET_NOTIFY_ENABLED="true", MARKET_NOTIFY_CHAT_TEMPLATE="tpl-chat",
                        MARKET_LIMITS_PUBLISH_PER_MINUTE_USER="1000",
                        MARKET_LIMITS_PER_MINUTE_ADDRESS="100000",
                        MARKET_RATINGS_PER_MINUTE_USER="1000")
    return settings_env


async def export(api, token, openid=None):
    return await api.post_json("/wx/user/export", {"openid": openid} if openid else {}, token)


async def download(api, token, **params):
    return await api.fetch("GET", "/wx/user/export", params or None, token)


def unpack(body):
    archive = zipfile.ZipFile(io.BytesIO(body))
    names = archive.namelist()
    return {n: (json.loads(archive.read(n)) if n.endswith(".json") else archive.read(n))
            for n in names}


# where each table's rows about the student are in the archive: (file, key or None, id field)
PLACES = {
    "User": ("profile.json", "user", "id"), "Goods": ("listings.json", None, "gid"),
    "Image": (None, None, "id"), "Comment": ("comments.json", "comments", "in_id"),
    "Reply": ("comments.json", "replies", "rid"), "Liked": ("likes.json", None, "id"),
    "Favourite": ("favourites.json", None, "id"),
    "ChatMessage": ("chat.json", "messages", "seq"),
    "ChatList": ("chat.json", "conversations", "list_id"),
    "Rating": ("ratings.json", None, "id"), "WantedPost": ("wanted.json", None, "id"),
    "HandOver": ("handovers.json", None, "id"), "Report": ("reports.json", None, "id"),
    "Notice": ("notices.json", None, "id"), "NotifyGrant": ("subscriptions.json", None, "id"),
    "Consent": ("consents.json", None, "id"), "UserBlock": ("blocks.json", None, "id"),
    "AdminAction": ("moderation.json", None, "id"), "SearchCounted": ("searches.json", None, "id"),
    "NotifySent": ("subscriptions.json", None, "id"),
}


def others(table, row, me):
    """Rows that name the student but are someone else's (documented in docs/privacy.md as not
    exported): another student's conversation list row or inbox line about them, a report or a
    block against them, a chat notice sent to another about them, the token epoch and the
    archive's own bookkeeping."""  # noqa: D401
    return (table in ("SessionEpoch", "DataExport")
            or table == "ChatList" and row["to_openid"] != me
            or table == "Notice" and row["openid"] != me
            or table == "Report" and row["reporter"] != me
            or table == "UserBlock" and row["blocker"] != me
            or table == "NotifySent" and row["to_openid"] != me
            # written after the archive was packed: the download's own audit line
            or table == "AdminAction" and row["action"] == "data_export_download")


def in_archive(files, table, row):
    """True when `row` (a database snapshot row) is in the unpacked archive, equal field by field
    (texts and numbers; times and prices are formatted differently)."""
    name, key, pk = PLACES[table]
    if table == "Image":
        return any(n.endswith("/" + row["url"]) for n in files)
    content = files[name]
    if table == "Rating":
        content = content["given"] + content["received"]
    elif key:
        content = content[key]
    if table == "NotifySent":
        content = files[name]["chatNoticesSent"]
    elif table == "NotifyGrant":
        content = files[name]["grants"]
    if isinstance(content, dict):
        content = [content]
    for archived in content:
        if archived.get(pk) == row[pk]:
            for field, value in row.items():
                if isinstance(value, (str, int)) and not isinstance(value, bool) \
                        and field in archived and not re.match(r"^\d{4}-\d\d-\d\d", str(value)):
                    got = archived[field]
                    got = str(got) if isinstance(value, str) and isinstance(got, float) else got
                    expected = str(float(value)) if isinstance(archived[field], float) else value
                    assert got == expected, (table, field, archived[field], value)
            return True
    return False


@pytest.mark.gen_test(timeout=120)
async def test_the_archive_holds_every_row_about_the_student_and_their_photos(api, app, config):
    w = await bob_world(api, app, config)
    t, bob_gid, alice_gid = w["tokens"], w["bob_gid"], w["alice_gid"]
    photo = await upload(api, t["bob"], "bob", picture("JPEG"))  # onto bob's newest listing
    assert photo.code == 200, photo
    # a hand-over and ratings both ways, a want-to-buy post, a report, a consent
    hid = (await mark(api, t["bob"], "bob", bob_gid, "alice")).extend["handover"]["id"]
    assert (await confirm(api, t["alice"], "alice", hid)).code == 200
    assert (await rate(api, t["bob"], "bob", hid, 5, "爽快")).code == 200
    assert (await rate(api, t["alice"], "alice", hid, 4, "车不错")).code == 200
    assert (await api.post_json("/wx/wanted", {"openid": "bob", "keywords": "台灯"},
                                t["bob"])).code == 200
    assert (await api.post_json("/wx/report", {"openid": "bob", "targetType": "goods",
                                               "targetId": str(alice_gid), "reason": "假货"},
                                t["bob"])).code == 200
    assert (await api.post_json("/wx/user/consent", {"version": "2026-12-07"},
                                t["bob"])).code == 200
    await app.list_writer.flush()  # the conversation lists as stored, before packing
    ready = await export(api, t["bob"])
    assert ready.status == 200 and ready.code == 200 and ready.extend["state"] == "ready", ready
    got = await download(api, t["bob"])
    assert got.status == 200 and got.headers["Content-Type"] == "application/zip", got
    assert got.headers["Content-Disposition"].startswith('attachment; filename="market-data-')
    files = unpack(got.body)
    assert files["profile.json"]["user"]["openid"] == "bob"
    assert files["profile.json"]["user"]["school"] == "理工大学"
    # every row that names bob is in the archive, or is someone else's (listed, documented)
    rows = await app.run_db(rows_naming, "bob")
    tables = {table for table, _ in rows}
    assert {"Goods", "Comment", "Reply", "ChatMessage", "Rating", "HandOver", "WantedPost",
            "Report", "Notice", "Favourite", "NotifyGrant", "Consent", "Image"} <= tables
    missing = [(table, row) for table, row in rows
               if not others(table, row, "bob") and not in_archive(files, table, row)]
    assert not missing, missing
    # every file and field is documented (docs/privacy.md, field by field)
    documented = documented_fields()
    for name, content in files.items():
        if name.endswith(".json"):
            assert name in documented, name
            assert fields_of(content) <= documented[name], (name, fields_of(content) -
                                                            documented[name])
    # alice's own words are not bob's: her comment on his listing, her listing
    assert "车还在吗" not in json.dumps(files["comments.json"], ensure_ascii=False)
    assert all(g["openid"] == "bob" for g in files["listings.json"])
    # photos byte for byte: the student-ID photo (private folder) and the listing photo
    id_photo = files["profile.json"]["studentIdPhotos"][0]
    with open(w["photo"], "rb") as f:
        assert files[id_photo] == f.read()
    listing = next(g for g in files["listings.json"] if g["gid"] == bob_gid)
    name = photo.extend["imageUrl"].rsplit("/", 1)[1].split("?")[0]
    with open(os.path.join(config["uploads"]["dir"], name), "rb") as f:
        assert files[next(p for p in listing["photos"] if p.endswith(name))] == f.read()
    # the request and the download are audited
    audit = await app.run_db(lambda: [a.action for a in AdminAction.select().where(
        AdminAction.target == "user:bob")])
    assert "data_export" in audit and "data_export_download" in audit
    # the file is in the configured folder (not under uploads), named unguessably, private
    stored = os.listdir(config["privacy"]["export_dir"])
    assert len(stored) == 1 and len(stored[0]) == len("0" * 32 + ".zip")
    assert oct(os.stat(os.path.join(config["privacy"]["export_dir"], stored[0])).st_mode)[-3:] \
        == "600"
    assert (await api.get("/uploads/" + stored[0])).status == 404


def documented_fields():
    """{file: field names} from docs/privacy.md's "#### `file`" sections' tables."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "docs", "privacy.md"), encoding="utf-8") as f:
        text = f.read()
    out, current = {}, None
    for line in text.splitlines():
        heading = re.match(r"^#### `([a-z_]+\.json)`", line)
        if heading:
            current = out.setdefault(heading.group(1), set())
        elif current is not None and line.startswith("## "):
            current = None
        elif current is not None:
            field = re.match(r"^\| `([A-Za-z_]+)` \|", line)
            if field:
                current.add(field.group(1))
    return out


def fields_of(content):
    """Every key of the JSON objects in `content` (nested lists and objects included)."""
    if isinstance(content, list):
        return set().union(*[fields_of(c) for c in content]) if content else set()
    if isinstance(content, dict):
        return set(content) | set().union(*[fields_of(v) for v in content.values()
                                             if isinstance(v, (list, dict))])
    return set()


@pytest.mark.gen_test(timeout=90)
async def test_only_the_owner_once_a_day_never_after_deletion(api, app, config):
    t = await api.login("alice"), await api.login("bob")
    alice, bob = t
    assert (await download(api, alice)).status == 404  # nothing asked yet
    assert (await export(api, None)).status == 401
    assert (await export(api, alice, openid="bob")).status == 403  # alice naming bob
    # 20 parallel requests: one archive, the rest refused with the reason in Chinese
    replies = await asyncio.gather(*[export(api, bob) for _ in range(20)])
    assert sorted(r.status for r in replies) == [200] + [429] * 19, replies
    refused = next(r for r in replies if r.status == 429)
    assert refused.code == 100 and "每天只能导出一次" in refused.json["msg"], refused
    assert await app.run_db(lambda: DataExport.select().count()) == 1
    # another student's token gets their own (none), never bob's, whatever it sends
    assert (await download(api, alice)).status == 404
    assert (await download(api, alice, openid="bob")).status == 403
    got = await download(api, bob)
    assert got.status == 200 and unpack(got.body)["profile.json"]["user"]["openid"] == "bob"
    # twice in a day: refused, also after the first archive expired and was removed
    again = await export(api, bob)
    assert again.status == 429 and "每天只能导出一次" in again.json["msg"], again
    removed = await app.export_sweeper.sweep(utcnow() + datetime.timedelta(hours=7))
    assert removed == 1 and os.listdir(config["privacy"]["export_dir"]) == []
    assert (await download(api, bob)).status == 404
    assert (await export(api, bob)).status == 429
    # a deleted account's token is refused; its archive never reaches the openid's next account
    alice_ready = await export(api, alice)
    assert alice_ready.code == 200
    assert (await delete(api, alice)).code == 200
    assert (await download(api, alice)).status == 401
    assert (await export(api, alice)).status == 401
    fresh = await api.login("alice")
    assert (await download(api, fresh)).status == 404
    assert await app.export_sweeper.sweep() == 1  # the deleted account's file goes at once
    assert os.listdir(config["privacy"]["export_dir"]) == []


@pytest.mark.gen_test(timeout=60)
async def test_consent_version_in_user_info_and_withdrawal_turns_subscriptions_off(api, app):
    token = await api.login("cara")
    info = await api.get("/wx/user/getUserInfo", token, openid="cara")
    # the published client's fields as before, the policy added beside them
    assert info.extend["userinfo"] == {"uname": "u", "qq": "1", "wx": "w"}
    assert info.extend["privacy"] == {"policyVersion": "2026-12-07", "consentedVersion": "",
                                      "consentedAt": "", "current": False, "withdrawn": False}
    subscribe = {"openid": "cara", "templateIds": ["tpl-chat"]}
    assert (await api.post_json("/wx/notify/subscribe", subscribe, token)).code == 200
    for body, status in (({}, 400), ({"version": "2025-01-01"}, 400), ({"version": 1}, 400),
                         ({"withdraw": "yes"}, 400), ({"withdraw": False}, 400)):
        r = await api.post_json("/wx/user/consent", body, token)
        assert r.status == status and r.code == 100, (body, r)
    assert await app.run_db(lambda: Consent.select().count()) == 0
    agreed = await api.post_json("/wx/user/consent", {"version": "2026-12-07"}, token)
    assert agreed.code == 200 and agreed.extend["privacy"]["current"] is True, agreed
    gone = await api.post_json("/wx/user/consent", {"withdraw": True}, token)
    assert gone.code == 200 and gone.json["msg"] == "已撤回同意"
    assert gone.extend["privacy"]["withdrawn"] and not gone.extend["privacy"]["current"]
    assert await app.run_db(lambda: NotifyGrant.select().where(
        NotifyGrant.openid == "cara").count()) == 0
    refused = await api.post_json("/wx/notify/subscribe", subscribe, token)
    assert refused.status == 403 and "撤回" in refused.json["msg"], refused
    info = await api.get("/wx/user/getUserInfo", token, openid="cara")
    assert info.extend["privacy"]["withdrawn"] is True
    again = await api.post_json("/wx/user/consent", {"version": "2026-12-07"}, token)
    assert again.extend["privacy"]["current"] is True
    assert (await api.post_json("/wx/notify/subscribe", subscribe, token)).code == 200
    assert (await api.post_json("/wx/user/consent", {"version": "2026-12-07"}, None)).status \
        == 401
    assert (await delete(api, token)).code == 200
    assert (await api.post_json("/wx/user/consent", {"withdraw": True}, token)).status == 401


@pytest.mark.gen_test(timeout=30)
async def test_the_privacy_page_shows_the_operator_and_real_retention(api, config):
    page = await api.fetch("GET", "/privacy")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.body.decode()
    assert "隐私政策" in html and "理工大学学生会" in html and "privacy@example.edu" in html
    assert '<strong id="chat-days">123</strong>' in html
    assert '<strong id="export-hours">6</strong>' in html
    assert '<strong id="goods-days">%d</strong>' % config["goods"]["expire_days"] in html
    assert '<strong id="policy-version">2026-12-07</strong>' in html
    assert "微信内容安全检测：本服务当前未开启" in html  # moderation.enabled is off here
    assert "withdraw" in html and "/wx/user/export" in html and "/wx/user/deleteAccount" in html
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]


def test_the_archive_keeps_the_students_own_recalled_text_not_the_peers(database):
    """Recall (撤回) withdraws a message from both sides: the sender's archive still holds
    their own text, the recipient's holds the row and its time, not the content."""
    from models.chat import ChatMessage, pair_key
    from models.user import User
    from services import data_export
    with database.connection_context():
        for who in ("amy", "ben"):
            User.create(openid=who, wxname=who)
        now = utcnow()
        ChatMessage.create(pair=pair_key("amy", "ben"), from_openid="amy", to_openid="ben",
                           content="定金先转我", recalled_at=now)
        ChatMessage.create(pair=pair_key("amy", "ben"), from_openid="ben", to_openid="amy",
                           content="好的")
        mine = data_export.collect("amy", "/nonexistent", "/nonexistent")[0]
        theirs = data_export.collect("ben", "/nonexistent", "/nonexistent")[0]
    assert [m["content"] for m in mine["chat.json"]["messages"]] == ["定金先转我", "好的"]
    got = theirs["chat.json"]["messages"]
    assert [m["content"] for m in got] == ["", "好的"] and got[0]["recalled_at"]
