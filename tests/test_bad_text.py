"""Lone UTF-16 surrogates ("\\ud800" escaped in JSON, or ED A0 80 in raw bytes) are bad input at
every entry: REST JSON, nested JSON strings, forms, queries, multipart fields, admin page forms,
the WeChat callback and chat frames (live and for an offline recipient). Each is refused as
such (a 400 envelope, an HTML 400 page, or a refusal frame on a socket that stays open), writes
no row and logs no traceback. Both databases."""
import hashlib
import json
import logging
import urllib.parse
import uuid

import pytest

from services import admin_accounts, tokens
from tests import chat_helpers
from tests.chat_helpers import read, send, silent, users
from tests.security_helpers import goods_body, snapshot

LONE = "\ud800"
CALLBACK_TOKEN = "callback-token-bad-text"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def settings_env(settings_env):
    settings_env.update(MARKET_MODERATION_CALLBACK_TOKEN=CALLBACK_TOKEN)
    return settings_env


def raw_json(data):
    """JSON as a client sends it: every non-ASCII character (a lone surrogate too) escaped."""
    return json.dumps(data).encode()


def no_traceback(caplog):
    """Nothing logged at ERROR, and no record carries a traceback."""
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]
    assert "Traceback" not in caplog.text


def refused(reply, status=400):
    assert reply.status == status and reply.code == 100, reply
    assert isinstance(reply.json["msg"], str) and reply.json["msg"]


async def db_state(app):
    return await app.run_db(snapshot)


JSON_CASES = {
    "register": ("/wx/user/register",
                 lambda o: {"openid": o, "wxname": "名" + LONE, "headImg": "https://img.example/x",
                            "sex": 1, "uname": "u", "qq": "1", "wx": "w"}),
    "register-key": ("/wx/user/register",
                     lambda o: {"openid": o, "wxname": "ok", "sex": 1, LONE: "x"}),
    "updateUserInfo": ("/wx/user/updateUserInfo",
                       lambda o: {"openid": o, "school": LONE, "xuehao": "1", "uclass": "c"}),
    "goodsIssue": ("/wx/goods/goodsIssue", lambda o: goods_body(o, goodsDec="好" + LONE + "书")),
    "goodsIssue-raw-bytes": ("/wx/goods/goodsIssue", None),  # ED A0 80, not an escape
    "report": ("/wx/report", lambda o: {"openid": o, "targetType": "user", "targetId": "bob",
                                        "reason": "spam " + LONE}),
    "report-nested": ("/wx/report", lambda o: {"openid": o, "targetType": "user",
                                               "targetId": "bob", "reason": "spam",
                                               "messages": [{"content": ["x", LONE]}]}),
    "comment-info-string": ("/wx/pl/addMainComments", None),  # info: a JSON string inside JSON
    "admin-api-json": ("/wx/admin/getNotice", None),
}


@pytest.mark.parametrize("case", sorted(JSON_CASES))
@pytest.mark.gen_test(timeout=30)
async def test_json_bodies_with_a_lone_surrogate_are_refused(api, app, config, caplog, case):
    t = await users(api, "alice", "bob")
    token = t["alice"]
    path, build = JSON_CASES[case]
    if case == "goodsIssue-raw-bytes":
        body = json.dumps(goods_body("alice", goodsDec="好" + LONE), ensure_ascii=False) \
            .encode("utf-8", "surrogatepass")
        assert b"\xed\xa0\x80" in body
    elif case == "comment-info-string":
        gid = (await api.post_json("/wx/goods/goodsIssue", goods_body("bob"), t["bob"])).extend["gid"]
        from models.goods import Goods
        await app.run_db(lambda: Goods.update(state=1).where(Goods.gid == gid).execute())
        # the outer JSON is clean: the inner string holds the escape "\ud800" as six characters
        info = '{"goodId": %d, "fromOpenid": "alice", "content": "hi \\ud800"}' % gid
        body = json.dumps({"info": info}).encode()
        assert "\\\\ud800" in body.decode()
    elif case == "admin-api-json":
        token = tokens.issue(config["auth"]["token_secret"], "root", 3600, role="admin")
        body = raw_json({"mid": 1, "noticeInfo": "公告" + LONE})
    else:
        body = raw_json(build("alice"))
    before = await db_state(app)
    caplog.clear()
    reply = await api.fetch("POST", path, None, token, body, {"Content-Type": "application/json"})
    refused(reply)
    assert await db_state(app) == before
    no_traceback(caplog)


@pytest.mark.gen_test(timeout=30)
async def test_paired_surrogate_escapes_are_ordinary_text(api, app):
    """A JSON-escaped pair ("\\ud83d\\udeb2", as JSON.stringify may write) is one emoji: accepted."""
    t = await users(api, "alice")
    body = b'{"openid": "alice", "school": "\\ud83d\\udeb2 U", "xuehao": "1", "uclass": "c"}'
    reply = await api.fetch("POST", "/wx/user/updateUserInfo", None, t["alice"], body,
                            {"Content-Type": "application/json"})
    assert reply.code == 200, reply
    from models.user import User
    assert (await app.run_db(lambda: User.by_openid("alice").school)) == "🚲 U"


SURROGATE_BYTES = urllib.parse.quote_from_bytes("名\ud800".encode("utf-8", "surrogatepass"))


@pytest.mark.gen_test(timeout=30)
async def test_query_and_form_arguments_with_a_lone_surrogate_are_refused(api, app, config, caplog):
    t = await users(api, "alice")
    admin = tokens.issue(config["auth"]["token_secret"], "root", 3600, role="admin")
    before = await db_state(app)
    caplog.clear()
    # a query argument (search words are counted as hot words: nothing may be written)
    reply = await api.fetch("GET", "/wx/goods/query?flag=" + SURROGATE_BYTES + "&pageNum=0")
    refused(reply)
    # a form body: the admin notice through the mini-program's admin call
    reply = await api.fetch("POST", "/wx/admin/getNotice", None, admin,
                            "mid=1&noticeInfo=" + SURROGATE_BYTES,
                            {"Content-Type": "application/x-www-form-urlencoded"})
    refused(reply)
    reply = await api.fetch("POST", "/wx/admin/adminLogin", None, None,
                            "username=" + SURROGATE_BYTES + "&passwd=x",
                            {"Content-Type": "application/x-www-form-urlencoded"})
    refused(reply)
    # a multipart field
    boundary = uuid.uuid4().hex
    body = (b"--%s\r\nContent-Disposition: form-data; name=\"openid\"\r\n\r\nalice\xed\xa0\x80\r\n"
            b"--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n"
            b"Content-Type: image/jpeg\r\n\r\nnot an image\r\n--%s--\r\n"
            % (boundary.encode(), boundary.encode(), boundary.encode()))
    reply = await api.fetch("POST", "/wx/images/upload", None, t["alice"], body,
                            {"Content-Type": "multipart/form-data; boundary=" + boundary})
    refused(reply)
    assert await db_state(app) == before
    no_traceback(caplog)


@pytest.mark.gen_test(timeout=30)
async def test_wechat_callback_with_a_lone_surrogate_is_refused(api, app, caplog):
    signature = hashlib.sha1("".join(sorted([CALLBACK_TOKEN, "1700000000", "n0nce"]))
                             .encode()).hexdigest()
    params = {"signature": signature, "timestamp": "1700000000", "nonce": "n0nce"}
    event = {"Event": "wxa_media_check", "trace_id": "t" + LONE,
             "result": {"suggest": "risky", "label": 20001}}
    before = await db_state(app)
    caplog.clear()
    reply = await api.fetch("POST", "/wx/wechat/callback", params, body=raw_json(event))
    refused(reply)
    assert await db_state(app) == before
    no_traceback(caplog)


class AdminSession:
    """A browser's cookie jar for the admin pages (sign in, then post forms with the XSRF token)."""

    def __init__(self, api):
        self.api, self.cookies = api, {}

    def _keep(self, reply):
        for c in reply.headers.get_list("Set-Cookie"):
            name, value = c.split(";")[0].split("=", 1)
            self.cookies[name] = value

    def _cookie(self):
        return "; ".join("%s=%s" % kv for kv in self.cookies.items())

    async def sign_in(self):
        self._keep(await self.api.fetch("GET", "/admin/login", follow_redirects=False))
        reply = await self.post("/admin/login", "username=root&password=" +
                                urllib.parse.quote(PASSWORD))
        assert reply.status == 302, reply

    async def post(self, path, form):
        reply = await self.api.fetch("POST", path, body=form + "&_xsrf=" + self.cookies["_xsrf"],
                                     follow_redirects=False, headers={
                                         "Content-Type": "application/x-www-form-urlencoded",
                                         "Cookie": self._cookie()})
        self._keep(reply)
        return reply


@pytest.mark.gen_test(timeout=30)
async def test_admin_page_forms_with_a_lone_surrogate_are_refused(api, app, caplog):
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    await users(api, "alice")
    session = AdminSession(api)
    await session.sign_in()
    before = await db_state(app)
    caplog.clear()
    for path, form in [("/admin/notices", "mid=1&text=" + SURROGATE_BYTES),
                       ("/admin/broadcast", "text=" + SURROGATE_BYTES),
                       ("/admin/users/alice/block", "reason=" + SURROGATE_BYTES)]:
        reply = await session.post(path, form)
        assert reply.status == 400, (path, reply)
        assert b"<html" in reply.body.lower() and b"Traceback" not in reply.body
    assert await db_state(app) == before
    no_traceback(caplog)


@pytest.mark.parametrize("recipient_online", [True, False], ids=["live", "offline"])
@pytest.mark.parametrize("where", ["content", "msgId", "toOpenid", "key"])
@pytest.mark.gen_test(timeout=30)
async def test_chat_frames_with_a_lone_surrogate_get_a_refusal_and_the_socket_stays_open(
        api, app, caplog, recipient_online, where):
    from services import chat
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    b = await api.ws("bob", "alice", t["bob"]) if recipient_online else None
    frame = {"toOpenid": "bob", "content": "你好", "msgId": "m1"}
    if where == "key":
        frame[LONE] = "x"
    else:
        frame[where] = frame[where] + LONE
    before = await db_state(app)
    caplog.clear()
    await a.write_message(json.dumps(frame))  # ASCII JSON: the surrogate travels as \ud800
    refusal = await read(a)
    assert refusal["type"] == "error" and refusal["fromOpenid"] == "system", refusal
    assert refusal["code"] == "bad_text" and refusal["content"]
    if b is not None:
        assert await silent(b, 0.2)
    assert await db_state(app) == before
    assert await app.run_db(chat_helpers.pending_offline, "bob", "alice") == []
    no_traceback(caplog)
    # the same socket still works
    await send(a, toOpenid="bob", content="still works", msgId="m2")
    ack = await read(a)
    assert ack["type"] == "ack" and ack["status"] == ("delivered" if b else "stored"), ack
    if b is not None:
        assert (await read(b))["content"] == "still works"
    else:
        assert len(await app.run_db(chat_helpers.pending_offline, "bob", "alice")) == 1


@pytest.mark.gen_test(timeout=30)
async def test_original_client_sees_the_refusal_as_a_bubble(api, app):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"])  # v1: no acks, the refusal is a bubble
    await a.write_message(json.dumps({"fromOpenid": "alice", "toOpenid": "bob",
                                      "content": "x" + LONE}))
    frame = await read(a)
    assert frame["fromOpenid"] == "system" and frame["toOpenid"] == "alice" and frame["content"]
    await send(a, fromOpenid="alice", toOpenid="bob", content="next")
    assert await silent(a)  # stored for bob, no ack for v1
