"""Property tests (hypothesis) over every REST endpoint's parameters and over chat frames.

Hypothesis drives a blocking client on a worker thread while the test's IOLoop serves, so every
example is a real request and a failure shrinks to the smallest one. Properties:
- REST: every answer is below 500 and a well-formed envelope (JSON, numeric `code` 200/100; the
  one bare-array answer, getAllComments, only on success);
- chat (?v=2): every frame gets exactly one answer (ack, refusal or pong), or the documented close
  (1009 too large, 1008 after 100 refusals in a row); acked messages reach the recipient;
- afterwards the process is up and clients connected before the barrage still chat.
"""
import asyncio
import http.client
import json
import urllib.parse
import uuid

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from services import tokens
from tests.chat_helpers import read, send, users
from tests.security_helpers import route_patterns, scene

EXAMPLES = 50  # per endpoint; two backends × ~50 endpoints
CHAT_EXAMPLES = 500

SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


@pytest.fixture(autouse=True)
def roomy_limits(settings_env):
    """The properties are about input, not about limits (tests/test_security_abuse.py)."""
    for key in ("PUBLISH_PER_MINUTE_USER", "COMMENT_PER_MINUTE_USER", "PER_MINUTE_ADDRESS",
                "LOGIN_PER_MINUTE_USER", "LOGIN_PER_MINUTE_ADDRESS"):
        settings_env["MARKET_LIMITS_" + key] = "1000000"
    settings_env["MARKET_CHAT_RATE_PER_SECOND"] = "100000"
    settings_env["MARKET_CHAT_RATE_BURST"] = "100000"
    settings_env["MARKET_REPORTS_PER_HOUR_USER"] = "1000000"


# -- every REST endpoint and its parameters ----------------------------------------------------
PROFILE = ["openid", "wxname", "headImg", "sex", "uname", "qq", "wx"]
GOODS = ["openid", "goodsName", "goodsTitle", "goodsPriceNew", "goodsPriceOld", "goodsXueyuan",
         "goodsDec", "goodsAddress"]
FILTERS = ["priceMin", "priceMax", "free", "goodsXueyuan", "goodsAddress", "sort"]  # newer clients
ENDPOINTS = {  # path -> (method, how parameters travel, their names)
    "/wx/user/getOpenid": ("GET", "query", ["code", "appid", "secret"]),
    "/wx/user/devLogin": ("GET", "query", ["openid"]),
    "/wx/user/isRegister": ("GET", "query", ["openid"]),
    "/wx/user/register": ("POST", "json", PROFILE),
    "/wx/user/getUserInfo": ("GET", "query", ["openid"]),
    "/wx/user/getUserDeInfo": ("GET", "query", ["openid"]),
    "/wx/user/updateUserInfo": ("POST", "json", ["openid", "school", "xuehao", "uclass"]),
    "/wx/admin/userIsOk": ("GET", "query", ["openid"]),
    "/wx/admin/isAdmin": ("GET", "query", ["openid"]),
    "/wx/goods/goodsIssue": ("POST", "json", GOODS),
    "/wx/goods/edit": ("POST", "json", ["gid", "photos"] + GOODS),  # issue 18
    "/wx/goods/state": ("POST", "json", ["openid", "gid", "saleState"]),
    "/wx/goods/renew": ("POST", "json", ["openid", "gid"]),
    "/wx/goods/getSimpleGoods": ("GET", "query", ["state", "pageNum"] + FILTERS),
    "/wx/goods/getSimFrGoods": ("GET", "query", ["pageNum"] + FILTERS),
    "/wx/goods/getMyIssGoods": ("GET", "query", ["openid", "pageNum"]),
    "/wx/goods/getAllSimpleGoods": ("GET", "query", ["openid", "pageNum"] + FILTERS),
    "/wx/goods/getMyCheckSimGoods": ("GET", "query", ["openid", "pageNum"]),
    "/wx/goods/getDeGoodfwl": ("GET", "query", ["gid", "openid"]),
    "/wx/goods/query": ("GET", "query", ["flag", "pageNum"] + FILTERS),
    "/wx/goods/hotWords": ("GET", "query", ["limit"]),
    "/wx/goods/suggest": ("GET", "query", ["q"]),
    "/wx/user/whyNot": ("GET", "query", ["gid", "openid"]),
    "/wx/user/deleteMyIssue": ("GET", "query", ["gid", "openid"]),
    "/wx/user/deleteCheckFail": ("GET", "query", ["gid", "state", "openid"]),
    "/wx/user/getFavorites": ("GET", "query", ["openid"]),
    "/wx/user/addGoodsToCar": ("POST", "json", ["openid", "gid"]),
    "/wx/user/getMyCarSimpleInfo": ("GET", "query", ["openid"]),
    "/wx/images/upload": ("POST", "multipart", ["openid", "flag"]),
    "/wx/images/getHomeImages": ("GET", "query", []),
    "/wx/images/studentId": ("GET", "query", ["openid"]),
    "/wx/images/private/" + "0" * 32 + ".jpg": ("GET", "query", ["e", "s"]),
    "/wx/pl/getAllComments": ("GET", "query", ["gid", "openid"]),
    "/wx/pl/addMainComments": ("POST", "info", ["goodId", "fromOpenid", "content"]),
    "/wx/pl/addSonCommments": ("POST", "json", ["fromOpenid", "content", "toOpenid",
                                                 "commentId"]),
    "/wx/pl/getMainAllSonCom": ("GET", "query", ["inId", "openid"]),
    "/wx/liked/like": ("GET", "query", ["openid", "objId", "type"]),
    "/wx/liked/unlike": ("GET", "query", ["openid", "objId", "type"]),
    "/wx/lt/getNoticeInfo": ("GET", "query", ["type", "openid"]),
    "/wx/lt/haveRead": ("GET", "query", ["type", "openid"]),
    "/wx/lt/list": ("GET", "query", ["openid"]),
    "/wx/lt/deleteList1": ("GET", "query", ["myOpenid", "beDeleteOpenid"]),
    "/wx/chat/history": ("GET", "query", ["openid", "peer", "before", "limit"]),
    "/wx/chat/recall": ("POST", "json", ["openid", "peer", "seq"]),
    "/wx/report": ("POST", "json", ["openid", "targetType", "targetId", "reason", "messages"]),
    "/wx/notify/subscribe": ("POST", "json", ["openid", "templateIds", "tmplIds"]),
    "/wx/user/deleteAccount": ("POST", "json", ["openid", "confirm"]),
    "/wx/user/consent": ("POST", "json", ["openid", "version", "withdraw"]),
    "/wx/user/export": ("POST", "json", ["openid"]),
    "/wx/user/block": ("POST", "json", ["openid", "myOpenid"]),
    "/wx/user/unblock": ("POST", "json", ["openid", "myOpenid"]),
    "/wx/user/blocked": ("GET", "query", ["openid"]),
    "/wx/wanted": ("POST", "json", ["openid", "keywords", "maxPrice", "place"]),
    "/wx/wanted/mine": ("GET", "query", ["openid"]),
    "/wx/wanted/delete": ("POST", "json", ["openid", "id"]),
    "/wx/wanted/list": ("GET", "query", ["pageNum"]),
    "/wx/handover": ("POST", "json", ["openid", "gid", "buyer"]),
    "/wx/handover/confirm": ("POST", "json", ["openid", "id"]),
    "/wx/handover/mine": ("GET", "query", ["openid"]),
    "/wx/rating": ("POST", "json", ["openid", "handoverId", "score", "text"]),
    "/wx/handover/dispute": ("POST", "json", ["openid", "hid", "reason", "photos"]),
    "/wx/rating/list": ("GET", "query", ["openid", "pageNum"]),
    "/wx/wechat/callback": ("POST", "json", ["Event", "trace_id", "result"]),
    "/wx/admin/adminLogin": ("POST", "form", ["username", "passwd"]),
    "/wx/admin/captcha": ("GET", "query", []),
    "/wx/admin/setState": ("GET", "query", ["gid", "state", "reason"]),
    "/wx/admin/delete": ("GET", "query", ["gid", "reason"]),
    "/wx/admin/getAllUserSimInfo": ("GET", "query", []),
    "/wx/admin/getDeUserAndImage": ("GET", "query", ["openid"]),
    "/wx/admin/userCheck": ("GET", "query", ["openid", "state", "reason"]),
    "/wx/admin/getNotice": ("GET", "query", ["mid", "noticeInfo"]),
    "/healthz": ("GET", "query", []),
}
NOT_JSON_APIS = {"/(robots\\.txt)$", "/(favicon\\.ico)$", "/static/(.*)$", "/metrics$",
                 "/uploads/([0-9a-f]{32}\\.(?:jpg|png|webp|gif))$", "/wx/([^/]+)/([^/]+)$",
                 # the API reference: tests/test_api_reference.py
                 "/$", "/docs$", "/openapi\\.yaml$", "/docs/assets/(swagger-ui-bundle\\.js|swagger-ui\\.css"
                 "|favicon-32x32\\.png|favicon-16x16\\.png)$",
                 "/privacy$"}  # the privacy page (HTML): tests/test_privacy.py
ADMIN_PAGES = "/admin"  # HTML pages: tests/test_security_identity.py


def test_every_rest_route_is_fuzzed(app):
    """A new REST route must be added to ENDPOINTS (or it would escape these properties)."""
    fuzzed = set(ENDPOINTS) | {"/wx/images/private/([0-9a-f]{32}\\.(?:jpg|png|webp|gif))"}
    missing = [p for p in route_patterns(app) if p not in NOT_JSON_APIS
               and not p.startswith(ADMIN_PAGES) and p[:-1] not in fuzzed]
    assert missing == []


# -- strategies -------------------------------------------------------------------------------
SPECIAL = ["", " ", "0", "-1", "1", "2", "3", "10", "100", "-0", "1.5", "0.001", "1e309", "NaN",
           "Infinity", "-Infinity", "9" * 40, "0x10", "alice", "bob", "ghost", "-1 OR 1=1",
           "' OR '1'='1", "%", "_", "\\", "../../etc/passwd", "<script>alert(1)</script>",
           "\x00", "a\x00b", "\r\n", "\u202e", "\ufeff", "🚲😀", "二手单车", "true", "null", "[]",
           "{}", "\ud800", "a\udfffb", "\udc00\ud83d"]
# a lone UTF-16 surrogate inside text: JSON escapes it ("\ud800"), URLs and multipart carry its
# bytes (ED A0 80, which strict UTF-8 refuses); either way it is bad input (tests/test_bad_text.py)
lone_surrogates = st.builds(lambda a, s, b: a + s + b, st.text(max_size=4),
                            st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF,
                                          categories=["Cs"]), st.text(max_size=4))
texts = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(max_size=40),  # any code point but surrogates, control characters included
    lone_surrogates,
    st.integers(-2 ** 80, 2 ** 80).map(str),
    st.text(min_size=1, max_size=4).map(lambda s: s * 1500),  # long (several kB)
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 80, 2 ** 80),
                    st.floats(), texts)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.text(max_size=8), inner, max_size=3), max_leaves=8)
deep = st.integers(1, 20000).map(lambda n: b"[" * n + b"]" * n)


def query_values(names):
    """Each parameter absent, text, or raw bytes (invalid UTF-8 percent-encoded)."""
    one = st.one_of(texts.map(lambda v: urllib.parse.quote(v, safe="",
                                                      errors="surrogatepass")[:6000]),
                    st.binary(max_size=12).map(urllib.parse.quote_from_bytes))
    # (a request head over Tornado's 64 KiB max_header_size is dropped by the HTTP layer before
    # any handler runs; nginx answers 414 in front of it)
    return st.fixed_dictionaries({}, optional={n: one for n in names})


def json_bodies(names):
    known = st.fixed_dictionaries({}, optional={n: st.one_of(json_values, st.just("alice"))
                                                for n in names})
    return st.one_of(
        known.map(lambda d: json.dumps(d).encode()),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=64),  # not JSON, invalid UTF-8
        deep,
        deep.map(lambda d: b'{"openid": "alice", "gid": ' + d + b"}"),
    )


def info_bodies(names):
    inner = st.one_of(
        st.fixed_dictionaries({}, optional={n: json_values for n in names}).map(json.dumps),
        json_values.map(json.dumps), texts, deep.map(bytes.decode))
    return st.one_of(inner.map(lambda i: json.dumps({"info": i}).encode()), json_bodies(names))


def multipart_bodies(names):
    fields = st.fixed_dictionaries({}, optional={n: texts for n in names})
    files = st.one_of(st.binary(max_size=300), st.just(b"GIF89a" + b"\x00" * 20))
    names_ = st.one_of(texts, st.just("../../x.jpg"))

    def build(args):
        fields, file, filename, broken = args
        boundary = uuid.uuid4().hex.encode()
        out = b"".join(b"--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                       % (boundary, k.encode(), v.encode("utf-8", "surrogatepass"))
                       for k, v in fields.items())
        out += (b"--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
                b"Content-Type: image/jpeg\r\n\r\n%s\r\n--%s--\r\n"
                % (boundary, filename.encode("utf-8", "replace")[:300], file, boundary))
        return (out[:len(out) // 2] if broken else out), boundary.decode()
    return st.tuples(fields, files, names_, st.booleans()).map(build)


TOKEN_KINDS = st.sampled_from(["none", "alice", "admin", "garbage"])


# -- the REST property ------------------------------------------------------------------------
class Client:
    """A blocking HTTP client for the worker thread."""

    def __init__(self, port, token_for):
        self.port, self.token_for = port, token_for

    def request(self, method, path, query="", body=None, ctype=None, token="none"):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {}
        if ctype:
            headers["Content-Type"] = ctype
        if self.token_for[token]:
            headers["Authorization"] = "Bearer " + self.token_for[token]
        try:
            conn.request(method, path + ("?" + query if query else ""), body=body,
                         headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


def well_formed(path, status, body):
    assert status < 500, (path, status, body[:300])
    data = json.loads(body)
    if isinstance(data, list):
        assert path == "/wx/pl/getAllComments" and status == 200, (path, body[:300])
        return
    assert isinstance(data, dict) and isinstance(data.get("code"), int), (path, body[:300])
    assert data["code"] in (200, 100) and isinstance(data.get("msg"), str), (path, body[:300])
    assert (data["code"] == 200) == (status == 200) or status == 200, (path, status, data)


def fuzz_endpoint(client, path):
    method, where, names = ENDPOINTS[path]
    if where == "query":
        @SETTINGS
        @given(values=query_values(names), token=TOKEN_KINDS)
        def check(values, token):
            query = "&".join("%s=%s" % (k, v) for k, v in values.items())
            well_formed(path, *client.request(method, path, query, token=token))
    elif where == "form":
        @SETTINGS
        @given(values=query_values(names), token=TOKEN_KINDS)
        def check(values, token):
            body = "&".join("%s=%s" % (k, v) for k, v in values.items())
            well_formed(path, *client.request(method, path, body=body, token=token,
                                              ctype="application/x-www-form-urlencoded"))
    elif where == "multipart":
        @SETTINGS
        @given(built=multipart_bodies(names), token=TOKEN_KINDS)
        def check(built, token):
            body, boundary = built
            well_formed(path, *client.request(method, path, body=body, token=token,
                                              ctype="multipart/form-data; boundary=" + boundary))
    else:
        bodies = info_bodies(names) if where == "info" else json_bodies(names)

        @SETTINGS
        @given(body=bodies, token=TOKEN_KINDS)
        def check(body, token):
            well_formed(path, *client.request(method, path, body=body, token=token,
                                              ctype="application/json"))
    check()


@pytest.mark.gen_test(timeout=600)
async def test_every_rest_endpoint_answers_any_input_with_an_envelope(api, app, config):
    s = await scene(api, app)
    t = await users(api, "carol")
    secret = config["auth"]["token_secret"]
    token_for = {"none": None, "alice": s["tokens"]["alice"], "garbage": "x.y.z",
                 "admin": tokens.issue(secret, "root", 3600, role="admin")}
    bob = await api.ws("bob", "carol", s["tokens"]["bob"])
    carol = await api.ws("carol", "bob", t["carol"])
    client = Client(int(api.base.rsplit(":", 1)[1]), token_for)
    loop = asyncio.get_running_loop()
    for path in ENDPOINTS:
        await loop.run_in_executor(None, fuzz_endpoint, client, path)
    # the process is up and the clients connected before the barrage are unaffected
    assert (await api.get("/healthz")).status == 200
    await send(bob, toOpenid="carol", content="still here")
    assert (await read(carol))["content"] == "still here"
    reply = await api.get("/wx/lt/list", t["carol"], openid="carol")
    assert reply.code == 200


# -- the chat property ------------------------------------------------------------------------
messages = st.fixed_dictionaries(
    {"toOpenid": st.sampled_from(["bob", "carol", "erin"]),  # live, live elsewhere, offline
     "content": st.one_of(st.text(min_size=1, max_size=60).filter(str.strip),
                          lone_surrogates)},
    optional={"fromOpenid": st.just("alice"), "type": st.sampled_from(["text", "image", "goods"]),
              "msgId": st.one_of(st.text(max_size=10), lone_surrogates)}).map(json.dumps)
frames = st.one_of(
    messages,
    st.fixed_dictionaries({}, optional={
        "fromOpenid": st.one_of(st.just("alice"), json_values),
        "toOpenid": st.one_of(st.just("bob"), st.just("carol"), json_values),
        "content": st.one_of(st.text(max_size=30), json_values,
                             st.text(min_size=1, max_size=3).map(lambda s: s * 1000)),
        "type": st.one_of(st.sampled_from(["text", "image", "goods", "ping", "video"]),
                          json_values),
        "msgId": st.one_of(st.text(max_size=70), st.integers(), json_values),
    }).map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=80),
    st.binary(max_size=80),
    deep.map(bytes.decode),
    st.integers(1, 5000).map(lambda n: '{"toOpenid": "bob", "content": ' + "[" * n + "]" * n
                             + "}"),
)


class ChatFuzzer:
    """alice (?v=2) and bob on a private IOLoop of the worker thread."""

    def __init__(self, port, token_for, max_frame_bytes):
        self.port, self.token_for, self.limit = port, token_for, max_frame_bytes
        self.loop = asyncio.new_event_loop()
        self.answers = {"ack": 0, "error": 0, "pong": 0, "closed": 0}

    async def connect(self, me, peer, query=""):
        url = "ws://127.0.0.1:%d/wx/%s/%s%s" % (self.port, me, peer, query)
        request = HTTPRequest(url, headers={"Authorization": "Bearer " + self.token_for[me]})
        return await websocket_connect(request)

    def run(self):
        asyncio.set_event_loop(self.loop)
        self.alice = self.loop.run_until_complete(self.connect("alice", "bob", "?v=2"))
        self.bob = self.loop.run_until_complete(self.connect("bob", "alice"))

        @settings(max_examples=CHAT_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(frame=frames)
        def check(frame):
            self.loop.run_until_complete(self.one(frame))
        try:
            check()
        finally:
            self.alice.close()
            self.bob.close()
            self.loop.run_until_complete(asyncio.sleep(0.1))
            self.loop.close()
            asyncio.set_event_loop(None)

    async def one(self, frame):
        binary = isinstance(frame, bytes)
        size = len(frame if binary else frame.encode())
        await self.alice.write_message(frame, binary=binary)
        answer = await asyncio.wait_for(self.alice.read_message(), 10)
        if answer is None:  # only the documented closes
            expected = 1009 if size > self.limit else 1008
            assert self.alice.close_code == expected, (frame[:200], self.alice.close_code)
            self.answers["closed"] += 1
            # a v2 client resuming where it was (issue 16: else its conversation is replayed)
            self.alice = await self.connect("alice", "bob", "?v=2&since=999999999999")
            return
        answer = json.loads(answer)
        kind = answer.get("type")
        assert kind in ("ack", "error", "pong"), answer
        self.answers[kind] += 1
        if kind == "error":
            assert answer["fromOpenid"] == "system" and isinstance(answer["content"], str)
            assert isinstance(answer["code"], str) and answer["code"] != "refused", answer
        if kind == "ack" and answer["status"] == "delivered" and \
                json.loads(frame).get("toOpenid", "bob") == "bob":
            got = json.loads(await asyncio.wait_for(self.bob.read_message(), 10))
            assert got["fromOpenid"] == "alice" and got["content"] == json.loads(frame)["content"]


@pytest.mark.gen_test(timeout=600)
async def test_every_chat_frame_gets_an_answer_and_others_are_unaffected(api, app, config):
    t = await users(api, "alice", "bob", "carol", "dave", "erin")
    carol = await api.ws("carol", "dave", t["carol"])
    dave = await api.ws("dave", "carol", t["dave"])
    fuzzer = ChatFuzzer(int(api.base.rsplit(":", 1)[1]), t, config["chat"]["max_frame_bytes"])
    await asyncio.get_running_loop().run_in_executor(None, fuzzer.run)
    print("chat answers", fuzzer.answers)
    assert fuzzer.answers["ack"] and fuzzer.answers["error"], fuzzer.answers
    await send(carol, toOpenid="dave", content="unaffected")
    assert (await read(dave))["content"] == "unaffected"
    assert (await api.get("/healthz")).status == 200


@pytest.mark.gen_test(timeout=60)
async def test_a_text_frame_of_invalid_utf8_closes_only_that_socket(api, app):
    """Tornado drops a connection whose text frame is not UTF-8; nobody else notices."""
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"])
    b = await api.ws("bob", "alice", t["bob"])
    a.protocol._write_frame(True, 0x1, b"\xff\xfe{\"content\": \"x\"}")
    assert await asyncio.wait_for(a.read_message(), 5) is None
    a2 = await api.ws("alice", "bob", t["alice"])
    await send(a2, toOpenid="bob", content="after")
    assert (await read(b))["content"] == "after"


@pytest.mark.gen_test(timeout=120)
async def test_every_method_on_every_rest_route_is_an_envelope(api, app):
    """Methods a route does not serve answer 405 as an envelope; none is a 5xx."""
    token = await api.login("alice")
    for path in ENDPOINTS:
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"):
            for auth in (None, token):
                reply = await api.fetch(method, path, token=auth,
                                        body=b"" if method in ("POST", "PUT", "PATCH") else None)
                assert reply.status < 500, (method, path, reply)
                if method != "HEAD":
                    assert isinstance(reply.json, (dict, list)), (method, path, reply)
                    if isinstance(reply.json, dict):
                        assert reply.json.get("code") in (200, 100), (method, path, reply)
