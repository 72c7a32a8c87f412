"""Admin pages against hostile content and transport: user-written text in every field renders as
text on every admin page (with a CSP that would stop a script anyway), and the session cookie is
Secure behind TLS (Tornado's own, or nginx via X-Forwarded-Proto).

Elsewhere: XSRF on every form and a session on every page (tests/test_security_identity.py);
HttpOnly/SameSite, tampered cookies, open redirects (tests/test_admin_pages.py)."""
import http.client
import json
import ssl
import subprocess
import urllib.parse

import pytest

from models.goods import Goods
from services import admins, tokens
from tests.security_helpers import goods_body
from tests.serverproc import PYTHON, ROOT, MarketProcess, make_cert

PASSWORD = "correct horse battery staple"


def payload(tag):
    return '<script>alert("%s")</script>' % tag


BREAKER = '"><img src=x onerror=alert(1)>'


class Session:
    """A browser's cookie jar for the admin pages."""

    def __init__(self, api):
        self.api, self.cookies = api, {}

    def _keep(self, reply):
        for c in reply.headers.get_list("Set-Cookie"):
            name, value = c.split(";")[0].split("=", 1)
            self.cookies[name] = value

    async def get(self, path):
        reply = await self.api.fetch("GET", path, follow_redirects=False, headers={
            "Cookie": "; ".join("%s=%s" % kv for kv in self.cookies.items())})
        self._keep(reply)
        return reply

    async def sign_in(self):
        await self.get("/admin/login")
        body = urllib.parse.urlencode({"username": "root", "password": PASSWORD,
                                       "_xsrf": self.cookies["_xsrf"]})
        reply = await self.api.fetch("POST", "/admin/login", body=body, follow_redirects=False,
                                     headers={"Content-Type": "application/x-www-form-urlencoded",
                                              "Cookie": "_xsrf=" + self.cookies["_xsrf"]})
        assert reply.status == 302, reply
        self._keep(reply)


@pytest.fixture(autouse=True)
def roomy_limits(settings_env):
    settings_env["MARKET_LIMITS_PUBLISH_PER_MINUTE_USER"] = "1000"
    settings_env["MARKET_LIMITS_COMMENT_PER_MINUTE_USER"] = "1000"


@pytest.mark.gen_test(timeout=90)
async def test_user_written_text_is_text_on_every_admin_page(api, app, config):
    alice, bob = await api.login("alice"), await api.login("bob")
    admin = tokens.issue(config["auth"]["token_secret"], "root", 3600, role="admin")
    await app.run_db(admins.create_admin, "root", PASSWORD)
    profile = {"openid": "alice", "wxname": payload("wxname"), "uname": payload("uname"),
               "qq": payload("qq")[:32], "wx": payload("wx"),
               "headImg": 'https://img.example/a.png"><script>alert(1)</script>'}
    for scheme in ("javascript:alert(1)", "data:text/html,<script>alert(1)</script>"):
        refused = await api.post_json("/wx/user/register", dict(profile, headImg=scheme), alice)
        assert refused.status == 400 and "headImg" in refused.json["msg"], refused
    assert (await api.post_json("/wx/user/register", profile, alice)).code == 200
    await api.post_json("/wx/user/updateUserInfo", {"openid": "alice", "school": payload("school"),
                                                    "uclass": BREAKER}, alice)
    fields = {k: payload(k) for k in ("goodsName", "goodsTitle", "goodsDec", "goodsXueyuan",
                                      "goodsAddress")}
    fields["goodsTitle"] = BREAKER + payload("goodsTitle")
    gids = []
    for _ in range(3):
        reply = await api.post_json("/wx/goods/goodsIssue", goods_body("alice", **fields), alice)
        assert reply.code == 200, reply
        gids.append(reply.extend["gid"])
    await app.run_db(lambda: Goods.update(state=1).where(Goods.gid == gids[0]).execute())
    info = json.dumps({"goodId": gids[0], "fromOpenid": "bob", "content": payload("comment")})
    assert (await api.post_json("/wx/pl/addMainComments", {"info": info}, bob)).code == 200
    report = {"openid": "bob", "targetType": "goods", "targetId": str(gids[0]),
              "reason": payload("report")}
    assert (await api.post_json("/wx/report", report, bob)).code == 200
    notice = await api.get("/wx/admin/getNotice", admin, mid="1", noticeInfo=payload("notice"))
    assert notice.code == 200, notice
    reject = await api.get("/wx/admin/setState", admin, gid=gids[1], state="2",
                           reason=payload("reason"))
    assert reject.code == 200, reject

    s = Session(api)
    await s.sign_in()
    pages = ["/admin/", "/admin/review", "/admin/goods", "/admin/goods?q=script",
             "/admin/users", "/admin/users/alice", "/admin/users/bob", "/admin/notices",
             "/admin/audit", "/admin/reports", "/admin/held", "/admin/openids",
             "/admin/banners", "/admin/broadcast"]
    shown = ""
    for path in pages:
        reply = await s.get(path)
        assert reply.status == 200, (path, reply)
        body = reply.body.decode()
        assert "<script>alert" not in body and "<img src=x onerror" not in body, path
        assert 'href="javascript:' not in body, path  # nothing clickable runs script
        csp = reply.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "unsafe-inline" not in csp, path
        img_src = [d for d in csp.split(";") if d.strip().startswith("img-src")][0]
        assert "javascript" not in img_src and "*" not in img_src
        shown += body
    for tag in ("wxname", "goodsName", "goodsTitle", "goodsDec", "notice", "reason", "report"):
        assert '&lt;script&gt;alert(&quot;%s&quot;)' % tag in shown, tag  # shown, as text


# -- the session cookie behind TLS ------------------------------------------------------------
def create_admin(server):
    subprocess.run([PYTHON, "main.py", "--config", server.config, "create-admin", "--username",
                    "root"], cwd=ROOT, env=server.env, input=PASSWORD + "\n", text=True,
                   check=True, capture_output=True)


def sign_in_cookie(connect, headers=None):
    """Sign in through the form over a fresh connection; returns the session's Set-Cookie."""
    conn = connect()
    conn.request("GET", "/admin/login", headers=headers or {})
    reply = conn.getresponse()
    reply.read()
    xsrf = [c for c in reply.headers.get_all("Set-Cookie") if c.startswith("_xsrf=")][0]
    token = xsrf.split(";")[0].split("=", 1)[1]
    body = urllib.parse.urlencode({"username": "root", "password": PASSWORD, "_xsrf": token})
    conn.request("POST", "/admin/login", body=body, headers=dict(
        headers or {}, **{"Content-Type": "application/x-www-form-urlencoded",
                          "Cookie": "_xsrf=" + token}))
    reply = conn.getresponse()
    reply.read()
    conn.close()
    assert reply.status == 302, reply.status
    return [c for c in reply.headers.get_all("Set-Cookie") if c.startswith("market_admin=")][0], \
        xsrf


def test_session_cookie_is_secure_over_tornados_own_tls(tmp_path):
    cert, key = make_cert(str(tmp_path))
    server = MarketProcess(tmp_path / "m", {"MARKET_SERVER_TLS_CERT": cert,
                                            "MARKET_SERVER_TLS_KEY": key}).migrate()
    create_admin(server)
    server.start()
    try:
        context = ssl.create_default_context(cafile=cert)
        cookie, xsrf = sign_in_cookie(lambda: http.client.HTTPSConnection(
            "127.0.0.1", server.port, context=context, timeout=10))
        for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/admin"):
            assert flag in cookie, (flag, cookie)
        assert "HttpOnly" in xsrf and "SameSite=Strict" in xsrf
    finally:
        server.kill()


def test_session_cookie_is_secure_behind_nginx_and_only_when_it_says_https(tmp_path):
    server = MarketProcess(tmp_path / "m", {"MARKET_SERVER_XHEADERS": "true"}).migrate()
    create_admin(server)
    server.start()
    try:
        def connect():
            return http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        cookie, _ = sign_in_cookie(connect, {"X-Forwarded-Proto": "https"})
        assert "Secure" in cookie and "HttpOnly" in cookie, cookie
        cookie, _ = sign_in_cookie(connect)
        assert "Secure" not in cookie  # plain http (local trials) must still be able to sign in
    finally:
        server.kill()
