"""Identity and authorization over the whole route table, on both databases.

Every route of `app.wildcard_router.rules` must be classified below: a call acting as the caller
(its openid parameter must match the token), a documented public read, an admin call, an admin
page, or one of the few special routes. A new route that is in none of these lists fails
`test_every_route_is_classified`, so nobody can add an endpoint that skips the check.
"""
import io
import json
import time
import urllib.parse
import uuid

import pytest
from PIL import Image
from tornado.httpclient import HTTPClientError

from services import admin_accounts, tokens
from tests.security_helpers import goods_body, route_patterns, scene, snapshot


@pytest.fixture(autouse=True)
def roomy_limits(settings_env):
    settings_env["MARKET_LIMITS_PUBLISH_PER_MINUTE_USER"] = "1000"
    settings_env["MARKET_LIMITS_COMMENT_PER_MINUTE_USER"] = "1000"
    settings_env["MARKET_LIMITS_PER_MINUTE_ADDRESS"] = "100000"


# -- the classification ---------------------------------------------------------------------
# path -> (method, where the caller's openid goes, its name, other parameters from the scene).
# `where`: query | json | info (addMainComments' JSON string) | multipart.
CALLER = {
    "/wx/user/isRegister": ("GET", "query", "openid", {}),
    "/wx/user/register": ("POST", "json", "openid", {"wxname": "hijacked"}),
    "/wx/user/getUserInfo": ("GET", "query", "openid", {}),
    "/wx/user/getUserDeInfo": ("GET", "query", "openid", {}),
    "/wx/user/updateUserInfo": ("POST", "json", "openid", {"school": "hijacked", "xuehao": "1",
                                                           "uclass": "c"}),
    "/wx/admin/userIsOk": ("GET", "query", "openid", {}),
    "/wx/admin/isAdmin": ("GET", "query", "openid", {}),
    "/wx/goods/goodsIssue": ("POST", "json", "openid", goods_body("x")),
    "/wx/goods/getMyIssGoods": ("GET", "query", "openid", {}),
    "/wx/goods/getMyCheckSimGoods": ("GET", "query", "openid", {}),
    "/wx/user/whyNot": ("GET", "query", "openid", {"gid": "pending"}),
    "/wx/user/deleteMyIssue": ("GET", "query", "openid", {"gid": "approved"}),
    "/wx/user/deleteCheckFail": ("GET", "query", "openid", {"gid": "pending", "state": "0"}),
    "/wx/user/getFavorites": ("GET", "query", "openid", {}),
    "/wx/user/addGoodsToCar": ("POST", "json", "openid", {"gid": []}),
    "/wx/user/getMyCarSimpleInfo": ("GET", "query", "openid", {}),
    "/wx/images/upload": ("POST", "multipart", "openid", {"flag": "1"}),
    "/wx/images/studentId": ("GET", "query", "openid", {}),
    "/wx/pl/addMainComments": ("POST", "info", "fromOpenid",
                               {"goodId": "approved", "content": "forged"}),
    "/wx/pl/addSonCommments": ("POST", "json", "fromOpenid",
                               {"commentId": "comment", "content": "forged"}),
    "/wx/liked/like": ("GET", "query", "openid", {"objId": "comment", "type": "1"}),
    "/wx/liked/unlike": ("GET", "query", "openid", {"objId": "comment", "type": "1"}),
    "/wx/lt/getNoticeInfo": ("GET", "query", "openid", {"type": "0"}),
    "/wx/lt/haveRead": ("GET", "query", "openid", {"type": "0"}),
    "/wx/lt/list": ("GET", "query", "openid", {}),
    "/wx/lt/deleteList1": ("GET", "query", "myOpenid", {"beDeleteOpenid": "alice"}),
    "/wx/chat/history": ("GET", "query", "openid", {"peer": "alice"}),
    "/wx/report": ("POST", "json", "openid",
                   {"targetType": "goods", "targetId": "approved", "reason": "spam"}),
    "/wx/notify/subscribe": ("POST", "json", "openid", {"templateIds": ["tmpl-1"]}),
    "/wx/goods/edit": ("POST", "json", "openid", {"gid": "approved", "goodsPriceNew": "1"}),
    "/wx/goods/state": ("POST", "json", "openid", {"gid": "approved", "saleState": 2}),
    "/wx/goods/renew": ("POST", "json", "openid", {"gid": "approved"}),
    "/wx/user/blocked": ("GET", "query", "openid", {}),
    "/wx/user/block": ("POST", "json", "myOpenid", {"openid": "alice"}),
    "/wx/user/unblock": ("POST", "json", "myOpenid", {"openid": "alice"}),
    "/wx/wanted": ("POST", "json", "openid", {"keywords": "台灯", "maxPrice": "10"}),
    "/wx/wanted/mine": ("GET", "query", "openid", {}),
    "/wx/wanted/delete": ("POST", "json", "openid", {"id": "1"}),
    "/wx/handover": ("POST", "json", "openid", {"gid": "approved", "buyer": "alice"}),
    "/wx/handover/confirm": ("POST", "json", "openid", {"id": "1"}),
    "/wx/handover/mine": ("GET", "query", "openid", {}),
    "/wx/rating": ("POST", "json", "openid", {"handoverId": "1", "score": "5"}),
    # GET (a party's view) is the same handler's caller check: tests/test_disputes.py
    "/wx/handover/dispute": ("POST", "json", "openid", {"hid": "1", "reason": "没收到货"}),
    "/wx/chat/recall": ("POST", "json", "openid", {"peer": "alice", "seq": "1"}),
    "/wx/user/consent": ("POST", "json", "openid", {"version": "2026-12-07"}),  # issue 26
    "/wx/user/export": ("POST", "json", "openid", {}),  # its GET: tests/test_privacy.py
    # last: with the caller's own token it ends the account (tests/test_accounts.py)
    "/wx/user/deleteAccount": ("POST", "json", "openid", {"confirm": "注销"}),
}
# Caller routes an admin token may also use (owner or admin).
ADMIN_MAY = {"/wx/user/whyNot", "/wx/images/studentId"}

# Documented exceptions: no caller identity (public reads, login), or the openid names the user
# being viewed (getAllSimpleGoods, getDeUserAndImage: public fields only, see below).
PUBLIC = {
    "/wx/user/getOpenid", "/wx/user/devLogin", "/wx/goods/getSimpleGoods",
    "/wx/goods/getSimFrGoods", "/wx/goods/getAllSimpleGoods", "/wx/goods/getDeGoodfwl",
    "/wx/goods/query", "/wx/goods/hotWords", "/wx/goods/suggest", "/wx/images/getHomeImages",
    "/wx/pl/getAllComments", "/wx/pl/getMainAllSonCom", "/wx/admin/adminLogin",
    "/wx/admin/captcha", "/wx/admin/getNotice", "/wx/admin/getDeUserAndImage",
    "/wx/wanted/list", "/wx/rating/list",  # the board; a user's ratings (openid: the one viewed)
}
# Admin-only calls of the mini-program (getSimpleGoods?state=0 and getNotice with mid are the
# admin halves of two public reads). path -> parameters.
ADMIN = {
    "/wx/admin/setState": {"gid": "pending", "state": "1"},
    "/wx/admin/delete": {"gid": "approved"},
    "/wx/admin/getAllUserSimInfo": {},
    "/wx/admin/userCheck": {"openid": "bob", "state": "10"},
    "/wx/admin/getNotice": {"mid": "1", "noticeInfo": "hijacked"},
    "/wx/goods/getSimpleGoods": {"state": "0"},
}
# Special routes, each with its own control and test.
SPECIAL = {
    "/(robots\\.txt)$", "/(favicon\\.ico)$", "/static/(.*)$",  # static files of the admin site
    "/healthz$",  # no data; not rate-limited
    "/metrics$",  # metrics.allow by address: tests/test_metrics.py
    "/wx/images/private/([0-9a-f]{32}\\.(?:jpg|png|webp|gif))$",  # signed URLs: below
    "/uploads/([0-9a-f]{32}\\.(?:jpg|png|webp|gif))$",  # public photos with random names
    "/wx/([^/]+)/([^/]+)$",  # the chat socket: below and tests/test_chat.py
    "/wx/wechat/callback$",  # WeChat's signature over the callback token: below
    # the API reference, public: tests/test_api_reference.py
    "/$", "/docs$", "/openapi\\.yaml$",
    "/privacy$",  # the privacy page, the same for everyone: tests/test_privacy.py
    "/docs/assets/(swagger-ui-bundle\\.js|swagger-ui\\.css|favicon-32x32\\.png|favicon-16x16\\.png)$",
}
# Admin pages: every one needs the signed session cookie. pattern -> a concrete path.
PAGES = {
    "/admin$": None,  # only a redirect to /admin/
    "/admin/login$": None,  # the sign-in form itself (its POST is XSRF-checked below)
    "/admin/$": "/admin/", "/admin/logout$": "/admin/logout",
    "/admin/broadcast$": "/admin/broadcast", "/admin/notices$": "/admin/notices",
    "/admin/audit$": "/admin/audit", "/admin/openids$": "/admin/openids",
    "/admin/review$": "/admin/review", "/admin/goods$": "/admin/goods",
    "/admin/review/bulk$": "/admin/review/bulk", "/admin/verify/bulk$": "/admin/verify/bulk",
    "/admin/goods/([0-9]{1,18})/review$": "/admin/goods/{approved}/review",
    "/admin/goods/([0-9]{1,18})/(delete|restore)$": "/admin/goods/{approved}/delete",
    "/admin/users$": "/admin/users", "/admin/users/([A-Za-z0-9_-]{1,64})$": "/admin/users/bob",
    "/admin/users/([A-Za-z0-9_-]{1,64})/(verify|reject|block|unblock)$":
        "/admin/users/bob/block",
    "/admin/banners$": "/admin/banners",
    "/admin/banners/([0-9]{1,18})/delete$": "/admin/banners/1/delete",
    "/admin/reports$": "/admin/reports",
    "/admin/reports/(goods|user|comment|chat|rating|wanted)/([A-Za-z0-9_-]{1,64})/"
    "(dismiss|take_down|block)$":
        "/admin/reports/user/bob/block",
    "/admin/held$": "/admin/held", "/admin/held/release$": "/admin/held/release",
    "/admin/hotwords$": "/admin/hotwords",
    "/admin/words$": "/admin/words",
    "/admin/accounts$": "/admin/accounts",  # owners only: tests/test_admin_accounts.py
    "/admin/accounts/([^/]+)/password$": "/admin/accounts/root/password",
    "/admin/accounts/([^/]+)/role$": "/admin/accounts/root/role",
    "/admin/accounts/([^/]+)/remove$": "/admin/accounts/root/remove",
    "/admin/export/(listings|users|reports)\\.csv$": "/admin/export/users.csv",
    "/admin/wanted$": "/admin/wanted",
    "/admin/wanted/([0-9]{1,10})/(take_down|release)$": "/admin/wanted/1/take_down",
    "/admin/ratings$": "/admin/ratings",
    "/admin/ratings/([0-9]{1,10})/(remove|release)$": "/admin/ratings/1/remove",
    "/admin/disputes$": "/admin/disputes",
    "/admin/disputes/([0-9]{1,10})$": "/admin/disputes/1",
    "/admin/disputes/([0-9]{1,10})/(uphold|dismiss)$": "/admin/disputes/1/dismiss",
    "/admin/.*$": "/admin/anything",
}


def pattern_of(path):
    return "/" + path.lstrip("/") + "$"


def test_every_route_is_classified(app):
    known = {pattern_of(p) for p in list(CALLER) + list(PUBLIC) + list(ADMIN)} | SPECIAL \
        | set(PAGES)
    unclassified = [p for p in route_patterns(app) if p not in known]
    assert unclassified == [], "classify these routes in tests/test_security_identity.py"
    stale = known - set(route_patterns(app))
    assert stale == set(), "these classified routes no longer exist"


# -- calls ------------------------------------------------------------------------------------
def resolve(values, s):
    """Scene names (approved, pending, comment) become the scene's ids."""
    return {k: (s[v] if isinstance(v, str) and v in ("approved", "pending", "comment") else v)
            for k, v in values.items()}


def tiny_png():
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, "PNG")
    return out.getvalue()


async def call(api, path, s, openid, token=None, query_token=False):
    """Call a caller route naming `openid` as the caller; returns the Reply."""
    method, where, name, extra = CALLER[path]
    values = resolve(extra, s)
    params, headers, body = {}, {}, None
    if query_token and token:
        params["token"], token = token, None
    if where == "query":
        params.update(values, **{name: openid})
    elif where == "json":
        body = json.dumps(dict(values, **{name: openid})).encode()
        headers["Content-Type"] = "application/json"
    elif where == "info":
        body = json.dumps({"info": json.dumps(dict(values, **{name: openid}))}).encode()
        headers["Content-Type"] = "application/json"
    else:
        boundary = uuid.uuid4().hex
        fields = dict(values, **{name: openid})
        parts = [b"--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                 % (boundary.encode(), k.encode(), str(v).encode()) for k, v in fields.items()]
        parts.append(b"--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\""
                     b"\r\nContent-Type: image/png\r\n\r\n%s\r\n--%s--\r\n"
                     % (boundary.encode(), tiny_png(), boundary.encode()))
        body = b"".join(parts)
        headers["Content-Type"] = "multipart/form-data; boundary=" + boundary
    return await api.fetch(method, path, params or None, token, body, headers)


def bad_tokens(config):
    secret = config["auth"]["token_secret"]
    good = tokens.issue(secret, "alice", 3600)
    head, payload, sig = good.split(".")
    forged_payload = tokens.issue("x" * 32, "bob", 3600).split(".")[1]
    return {
        "tampered signature": "%s.%s.%s" % (head, payload,
                                            sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")),
        "payload swapped to bob": "%s.%s.%s" % (head, forged_payload, sig),
        "expired": tokens.issue(secret, "alice", 60, now=time.time() - 3600),
        "another secret": tokens.issue("another-secret-of-enough-length-for-hs256", "alice", 3600),
        "alg none": head + "." + payload + ".",
        "garbage": "not-a-token",
    }


@pytest.mark.gen_test(timeout=120)
async def test_a_token_for_alice_never_acts_as_bob_and_changes_nothing(api, app):
    """Every caller route: alice's token naming bob is 403, with the token in the header or in
    ?token=; nothing in any table changes."""
    s = await scene(api, app)
    alice = s["tokens"]["alice"]
    before = await app.run_db(snapshot)
    for path in CALLER:
        for query_token in (False, True):
            reply = await call(api, path, s, "bob", alice, query_token)
            assert reply.status == 403 and reply.code == 100, (path, reply)
            assert "bob" not in reply.body.decode("utf-8", "replace").replace("openid", ""), path
    assert await app.run_db(snapshot) == before


@pytest.mark.gen_test(timeout=120)
async def test_absent_bad_and_wrong_role_tokens_are_refused(api, app, config):
    """Every caller route: no token 401, every kind of bad token 401, an admin token 403 (except
    owner-or-admin routes); nothing changes."""
    s = await scene(api, app)
    admin = tokens.issue(config["auth"]["token_secret"], "root", 3600, role="admin")
    before = await app.run_db(snapshot)
    for path in CALLER:
        reply = await call(api, path, s, "alice")
        assert reply.status == 401 and reply.code == 100, (path, reply)
        for kind, token in bad_tokens(config).items():
            reply = await call(api, path, s, "alice", token)
            assert reply.status == 401 and reply.code == 100, (path, kind, reply)
        if path not in ADMIN_MAY:
            reply = await call(api, path, s, "alice", admin)
            assert reply.status == 403, (path, reply)
    assert await app.run_db(snapshot) == before


@pytest.mark.gen_test(timeout=60)
async def test_the_callers_own_token_works_on_every_caller_route(api, app):
    """The positive control: with the matching token each caller route answers below 400 (or a
    refusal about the data, never about identity)."""
    s = await scene(api, app)
    for path in CALLER:
        reply = await call(api, path, s, "bob", s["tokens"]["bob"])
        assert reply.status not in (401, 403), (path, reply)
        assert reply.status < 500 and isinstance(reply.json, (dict, list)), (path, reply)


@pytest.mark.gen_test(timeout=60)
async def test_admin_calls_refuse_anonymous_users_and_forged_tokens(api, app, config):
    s = await scene(api, app)
    before = await app.run_db(snapshot)
    for path, params in ADMIN.items():
        params = resolve(params, s)
        for token, status in [(None, 401), (s["tokens"]["alice"], 403),
                              (bad_tokens(config)["tampered signature"], 401)]:
            for method in ("GET", "POST"):
                if path == "/wx/goods/getSimpleGoods" and method == "POST":
                    continue
                if method == "GET":
                    reply = await api.fetch("GET", path, params, token)
                else:
                    reply = await api.fetch("POST", path, None, token,
                                            urllib.parse.urlencode(params),
                                            {"Content-Type": "application/x-www-form-urlencoded"})
                assert reply.status == status and reply.code == 100, (path, method, reply)
    # a user token claiming an admin's name is still a user token
    await app.run_db(admin_accounts.create_admin, "root",
                     "a long enough password")
    user_named_root = tokens.issue(config["auth"]["token_secret"], "root", 3600)
    reply = await api.get("/wx/admin/getAllUserSimInfo", user_named_root)
    assert reply.status == 403
    after = await app.run_db(snapshot)
    after.pop("Admin"), before.pop("Admin")
    assert after == before


@pytest.mark.gen_test(timeout=60)
async def test_one_user_cannot_read_anothers_private_data_through_public_reads(api, app):
    """The documented exceptions leak nothing private: bob's pending listing, contacts and
    student-ID photos stay hidden from alice and from anonymous callers."""
    s = await scene(api, app)
    alice, bob = s["tokens"]["alice"], s["tokens"]["bob"]
    reply = await call(api, "/wx/images/upload", s, "bob", bob)  # bob's student-ID photo
    assert reply.code == 200, reply
    await api.post_json("/wx/user/register", {"openid": "bob", "qq": "12345", "wx": "bob-wx"},
                        bob)
    for token in (None, alice):
        detail = await api.get("/wx/goods/getDeGoodfwl", token, gid=s["pending"])
        assert detail.status == 404, detail
        listing = await api.get("/wx/goods/getAllSimpleGoods", token, openid="bob")
        assert [g["gid"] for g in listing.extend.values()] == [s["approved"]]
        profile = await api.get("/wx/admin/getDeUserAndImage", token, openid="bob")
        uimage = profile.extend["uimage"]
        assert uimage["openid"] == "bob" and uimage["image"] == [], uimage
        assert uimage["qq"] == "" and uimage["wx"] == "" and "12345" not in profile.body.decode()
        ids = await api.get("/wx/images/studentId", token, openid="bob")
        assert ids.status in (401, 403), ids
        for path in ("/wx/pl/getAllComments",):  # likeState is the token's user, not openid=
            reply = await api.get(path, token, gid=s["approved"], openid="bob")
            assert reply.status == 200
    own = await api.get("/wx/images/studentId", bob, openid="bob")
    url = own.extend["image"][0]["imageUrl"]
    path = urllib.parse.urlsplit(url).path
    assert (await api.fetch("GET", path)).status == 403  # the signature is required
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    # one hex digit changed (setting the last two to "00" left it valid once in 256 runs)
    signature = query["s"][0]
    bad = {"e": query["e"][0], "s": signature[:-1] + ("0" if signature[-1] != "0" else "1")}
    assert (await api.fetch("GET", path, bad)).status == 403
    late = {"e": str(int(query["e"][0]) + 3600), "s": query["s"][0]}
    assert (await api.fetch("GET", path, late)).status == 403  # the expiry is signed too
    assert (await api.fetch("GET", path, {k: v[0] for k, v in query.items()})).status == 200


@pytest.mark.gen_test(timeout=60)
async def test_admin_pages_need_a_session_and_every_form_an_xsrf_token(api, app):
    """Every /admin/ page: GET without a session goes to the sign-in page; POST without the XSRF
    token is 403; POST with a valid XSRF token but no session is 403; nothing changes."""
    s = await scene(api, app)
    before = await app.run_db(snapshot)
    login = await api.fetch("GET", "/admin/login", follow_redirects=False)
    assert login.status == 200
    cookie = [c for c in login.headers.get_list("Set-Cookie") if c.startswith("_xsrf=")][0]
    xsrf = cookie.split(";")[0].split("=", 1)[1]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    for pattern, path in PAGES.items():
        if path is None:
            continue
        path = path.format(**s)
        reply = await api.fetch("GET", path, follow_redirects=False)
        assert reply.status in (302, 404, 405), (path, reply)
        if reply.status == 302:
            assert reply.headers["Location"].startswith("/admin/login"), (path, reply.headers)
        assert b"bob" not in reply.body or reply.status == 404
        form = urllib.parse.urlencode({"text": "x", "mid": "1", "openid": "alice"})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        reply = await api.fetch("POST", path, body=form, headers=headers, follow_redirects=False)
        assert reply.status == 403, ("no xsrf", path, reply)
        headers["Cookie"] = "_xsrf=" + xsrf
        reply = await api.fetch("POST", path, body=form + "&_xsrf=" + urllib.parse.quote(xsrf),
                                headers=headers, follow_redirects=False)
        assert reply.status in (302, 403, 404, 405), ("no session", path, reply)
        if reply.status == 302:  # logout without a session just goes to the sign-in page
            assert reply.headers["Location"].startswith("/admin/login"), (path, reply.headers)
    form = urllib.parse.urlencode({"username": "root", "password": "x"})
    reply = await api.fetch("POST", "/admin/login", body=form, follow_redirects=False,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 403  # the sign-in form too: no login CSRF
    # an admin *bearer token* is for /wx/admin/* calls, never a page session
    await app.run_db(admin_accounts.create_admin, "root",
                     "a long enough password")
    admin = tokens.issue(app.config["auth"]["token_secret"], "root", 3600, role="admin")
    reply = await api.fetch("GET", "/admin/users", token=admin, follow_redirects=False)
    assert reply.status == 302
    forged = "market_admin=" + urllib.parse.quote('{"u": "root", "exp": 9999999999}')
    reply = await api.fetch("GET", "/admin/users", headers={"Cookie": forged},
                            follow_redirects=False)
    assert reply.status == 302  # an unsigned cookie is no session
    after = await app.run_db(snapshot)
    after.pop("Admin"), before.pop("Admin")
    assert after == before


@pytest.mark.gen_test
async def test_the_wechat_callback_needs_wechats_signature(api, app):
    before = await app.run_db(snapshot)
    event = json.dumps({"Event": "wxa_media_check", "trace_id": "t", "result": {"suggest": "pass"}})
    for params in ({}, {"signature": "0" * 40, "timestamp": "1", "nonce": "2"}):
        for method, body in (("GET", None), ("POST", event)):
            reply = await api.fetch(method, "/wx/wechat/callback", dict(params, echostr="x"),
                                    body=body)
            assert reply.status == 403 and reply.code == 100, (params, method, reply)
    assert await app.run_db(snapshot) == before


# -- the chat socket --------------------------------------------------------------------------
async def refused(api, status, **kwargs):
    with pytest.raises(HTTPClientError) as err:
        await api.ws(**kwargs)
    assert err.value.code == status, kwargs


@pytest.mark.gen_test(timeout=60)
async def test_chat_handshake_identity_and_cross_site_hijacking(api, app, config):
    """Beyond tests/test_chat.py::test_handshake_refusals: the ?token= form, every bad token,
    and Origin tricks a same-host check must not be fooled by."""
    s = await scene(api, app)
    alice = s["tokens"]["alice"]
    host = api.base.split("://", 1)[1]
    await refused(api, 403, from_openid="bob", to_openid="alice", query={"token": alice})
    admin = tokens.issue(config["auth"]["token_secret"], "alice", 3600, role="admin")
    await refused(api, 403, from_openid="alice", to_openid="bob", token=admin)
    for kind, token in bad_tokens(config).items():
        await refused(api, 401, from_openid="alice", to_openid="bob", token=token)
        await refused(api, 401, from_openid="alice", to_openid="bob", query={"token": token})
    for origin in ("https://%s.evil.example" % host, "https://evil.example/%s" % host,
                   "http://evil.example@" + host.split(":")[0] + ".evil.example",
                   host, "weapp://evil", "file://", "https://127.0.0.2:" + host.split(":")[1]):
        await refused(api, 403, from_openid="alice", to_openid="bob", token=alice,
                      headers={"Origin": origin})
    # no Origin and no token (what a stripped proxy header would look like) is still refused
    await refused(api, 401, from_openid="alice", to_openid="bob")
    assert app.registry.connection_count() == 0 and not app.registry.is_online("bob")
    same = await api.ws("alice", "bob", alice, headers={"Origin": "http://" + host})
    assert same.protocol is not None  # a page on this very host may chat


def test_the_default_configuration_is_the_secure_one(tmp_path):
    """Tokens required and dev login off unless an operator says otherwise."""
    from settings import load_config
    config = load_config(None, environ={}, base_dir=str(tmp_path))
    assert config["auth"]["require_token"] is True and config["auth"]["dev_login"] is False
    assert len(config["auth"]["token_secret"]) >= 32
    assert len(config["admin"]["cookie_secret"]) >= 32


@pytest.mark.gen_test(timeout=60)
async def test_ids_of_someone_elses_things_do_not_open_them(api, app):
    """Alice, acting as herself, names bob's listings, comments and conversation by id: the
    owner-only calls refuse, and nothing hidden shows up through favourites or comments."""
    from models.goods import Goods
    s = await scene(api, app)
    alice = s["tokens"]["alice"]
    before = await app.run_db(snapshot)
    for path, params in [("/wx/user/whyNot", {"gid": s["pending"]}),
                         ("/wx/user/deleteMyIssue", {"gid": s["approved"]}),
                         ("/wx/user/deleteCheckFail", {"gid": s["pending"], "state": "0"})]:
        for with_openid in (True, False):
            query = dict(params, **({"openid": "alice"} if with_openid else {}))
            reply = await api.get(path, alice, **query)
            assert reply.status in (403, 404) and reply.code == 100, (path, reply)
    for path, body in [("/wx/goods/edit", {"gid": s["approved"], "goodsTitle": "alice's"}),
                       ("/wx/goods/edit", {"gid": s["pending"], "goodsPriceNew": "1"}),
                       ("/wx/goods/state", {"gid": s["approved"], "saleState": 2}),
                       ("/wx/goods/renew", {"gid": s["approved"]})]:  # issue 18: owner only
        for with_openid in (True, False):
            reply = await api.post_json(path, dict(body, **({"openid": "alice"} if with_openid
                                                            else {})), alice)
            assert reply.status == 403 and reply.code == 100, (path, reply)
    reply = await api.post_json("/wx/pl/addMainComments", {"info": json.dumps(
        {"goodId": s["pending"], "fromOpenid": "alice", "content": "on a hidden listing"})}, alice)
    assert reply.status == 404, reply
    reply = await api.get("/wx/pl/getAllComments", alice, gid=s["pending"])
    assert reply.status == 404, reply
    assert await app.run_db(snapshot) == before
    # favourites keep only public listings: a pending gid neither sticks nor shows
    reply = await api.post_json("/wx/user/addGoodsToCar",
                                {"openid": "alice", "gid": [s["pending"], s["approved"]]}, alice)
    assert reply.extend["favorites"] == [s["approved"]]
    # once bob's listing is taken down, its comments are no longer readable by id either
    await app.run_db(lambda: Goods.update(deleted=True).where(Goods.gid == s["approved"])
                     .execute())
    shown = await api.get("/wx/user/getMyCarSimpleInfo", alice, openid="alice")
    assert str(s["approved"]).encode() not in shown.body or shown.extend == {}
    reply = await api.get("/wx/pl/getMainAllSonCom", alice, inId=s["comment"])
    assert reply.status == 404, reply
    like = await api.get("/wx/liked/like", alice, openid="alice", objId=s["comment"], type="1")
    assert like.status == 404, like
