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
from services import admin_accounts, tokens
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
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    profile = {"openid": "alice", "wxname": payload("wxname"), "uname": payload("uname"),
               "qq": payload("qq")[:32], "wx": payload("wx"),
               "headImg": 'https://img.example/a.png"><script>alert(1)</script>'}
    for scheme in ("javascript:alert(1)", "data:text/html,<script>alert(1)</script>"):
        refused = await api.post_json("/wx/user/register", dict(profile, headImg=scheme), alice)
        assert refused.status == 400 and "头像" in refused.json["msg"], refused
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


# -- look-alike admin names (MariaDB's utf8mb4_unicode_ci compared `rôot` equal to `root`) -------
LOOK_ALIKES = ["rôot", "röot", "ro\u0301ot", "rооt"]  # accents, a combining mark, Cyrillic о


async def admin_login(api, username, password=PASSWORD):
    return await api.post_form("/wx/admin/adminLogin", {"username": username, "passwd": password})


@pytest.mark.gen_test(timeout=30)
async def test_look_alike_names_are_other_names_and_spellings_of_root_are_root(api, app, config):
    from models.admin import AdminAction
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    for name in LOOK_ALIKES:
        reply = await admin_login(api, name)
        assert reply.code == 100 and "token" not in reply.json, (name, reply)
    for name in ("ROOT", "ｒｏｏｔ", " Root "):  # case and fullwidth forms fold to the one name
        reply = await admin_login(api, name)
        assert reply.code == 200, (name, reply)
        assert tokens.verify(config["auth"]["token_secret"], reply.json["token"])["sub"] == "root"
    actors = await app.run_db(lambda: {a.actor for a in AdminAction.select()})
    assert actors == {"root"}
    # the pages sign in under the stored name too
    s = Session(api)
    await s.get("/admin/login")
    body = urllib.parse.urlencode({"username": "ＲＯＯＴ", "password": PASSWORD,
                                   "_xsrf": s.cookies["_xsrf"]})
    reply = await api.fetch("POST", "/admin/login", body=body, follow_redirects=False, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": "_xsrf=" + s.cookies["_xsrf"]})
    assert reply.status == 302
    s._keep(reply)
    page = await s.get("/admin/")
    assert page.status == 200 and "ＲＯＯＴ".encode() not in page.body and b"root" in page.body


@pytest.mark.gen_test(timeout=30)
async def test_throttled_root_is_throttled_under_every_spelling(api, app):
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    for _ in range(5):
        assert (await admin_login(api, "root", "guess")).code == 100
    for name in ("root", "ROOT", "ｒｏｏｔ"):
        assert (await admin_login(api, name)).status == 429, name
    # a look-alike is another name: its failure is its own, and it never matches root's password
    assert (await admin_login(api, "rôot")).code == 100


@pytest.mark.gen_test(timeout=30)
async def test_creating_an_admin_refuses_collisions_and_odd_characters(app):
    from errors import Conflict, Invalid
    assert (await app.run_db(admin_accounts.create_admin, "Root", PASSWORD)).username == "root"
    for name in ("root", "ROOT", "ｒｏｏｔ", " root"):
        with pytest.raises(Conflict):
            await app.run_db(admin_accounts.create_admin, name, PASSWORD)
    for name in LOOK_ALIKES + ["", "a b", "x" * 65, "root\u200b", "ad<min>", "ad\nmin"]:
        with pytest.raises(Invalid):
            await app.run_db(admin_accounts.create_admin, name, PASSWORD)
    assert (await app.run_db(admin_accounts.create_admin, "张三.mod-1", PASSWORD)).username == "张三.mod-1"
    # an account from before the name rule (`rôot`) is not shadowed by a look-alike new one
    from models.admin import Admin
    await app.run_db(lambda: Admin.create(username="ädmin", passwd="x"))
    with pytest.raises(Conflict):
        await app.run_db(admin_accounts.create_admin, "admin", PASSWORD)
    names = [a["username"] for a in await app.run_db(admin_accounts.list_admins)]
    assert names == ["root", "张三.mod-1", "ädmin"]


def _migrate_to(database, last):
    import migrations
    from playhouse.migrate import SchemaMigrator
    with migrations.SchemaMigration.bind_ctx(database):
        migrations.SchemaMigration.create_table(safe=True)
        for version, name, module in migrations.discover():
            if version <= last and version not in migrations.applied(database):
                with database.atomic():
                    module.up(database, SchemaMigrator.from_database(database))
                    migrations.SchemaMigration.create(version=version, name=name)


@pytest.fixture
def empty_db(request, db_url, tmp_path):
    """A new, empty database on this test's backend."""
    import uuid
    from models import bind, open_database
    if db_url.startswith("sqlite"):
        url = "sqlite:///" + str(tmp_path / "empty.db")
    else:
        url = request.getfixturevalue("mariadb").create_database("adm_" + uuid.uuid4().hex[:8])
    database = bind(open_database(url, 2))
    yield database
    database.close_all()


def test_m0006_normalises_names_and_compares_them_exactly(empty_db):
    from models import is_mysql
    from models.admin import Admin
    database = empty_db
    with database.connection_context():
        _migrate_to(database, 5)
        for name in ("Root", "ＭＯＤ", "ädmin"):
            database.execute_sql("INSERT INTO admin (username, passwd, created_at) VALUES "
                                 "(%s, 'x', '2026-01-01 00:00:00')" % database.param, (name,))
        _migrate_to(database, 6)
        # the columns of m0006's time only (admin.role came with m0017)
        names = Admin.select(Admin.username).order_by(Admin.id)
        assert [a.username for a in names] == ["root", "mod", "ädmin"]
        assert not names.where(Admin.username == "admin").exists()  # exact, not accent-blind
        assert not names.where(Admin.username == "ROOT").exists()
        assert [a.session_epoch for a in Admin.select(Admin.session_epoch)] == [0, 0, 0]
        if is_mysql(database):
            for table, column in (("admin", "username"), ("admin_openid", "openid")):
                row = database.execute_sql("SHOW FULL COLUMNS FROM `%s` LIKE '%s'"
                                           % (table, column)).fetchone()
                assert row[2] == "utf8mb4_bin", row


def test_m0006_refuses_names_that_become_one(empty_db):
    database = empty_db
    with database.connection_context():
        _migrate_to(database, 5)
        # distinct under SQLite's binary collation and under utf8mb4_unicode_ci (which weighs
        # every character past U+FFFF alike): mathematical bold letters are NFKC `root`
        for name in ("root", "\U0001d42b\U0001d428\U0001d428\U0001d42d"):
            database.execute_sql("INSERT INTO admin (username, passwd, created_at) VALUES "
                                 "(%s, 'x', '2026-01-01 00:00:00')" % database.param, (name,))
        with pytest.raises(RuntimeError) as refused:
            _migrate_to(database, 6)
        assert "same name once normalised" in str(refused.value)
        assert "DELETE FROM admin WHERE id = 2" in str(refused.value)
        names = [r[0] for r in database.execute_sql("SELECT username FROM admin ORDER BY id")]
        assert names[0] == "root" and len(names) == 2  # nothing changed
        assert "session_epoch" not in {c.name for c in database.get_columns("admin")}


def test_admin_commands_end_a_running_servers_session(tmp_path):
    server = MarketProcess(tmp_path / "m").migrate()

    def command(*args, password=None):
        return subprocess.run([PYTHON, "main.py", "--config", server.config] + list(args),
                              cwd=ROOT, env=server.env, input=password, text=True,
                              capture_output=True, timeout=60)
    made = command("create-admin", "--username", "Root", password=PASSWORD + "\n")
    assert made.returncode == 0 and made.stdout.strip() == "admin root created", made
    assert command("create-admin", "--username", "ROOT", password=PASSWORD + "\n").returncode == 1
    assert command("list-admins").stdout.startswith("root\tcreated ")
    server.start()
    try:
        def connect():
            return http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)

        def dashboard(cookie):
            conn = connect()
            conn.request("GET", "/admin/", headers={"Cookie": cookie.split(";")[0]})
            status = conn.getresponse().status
            conn.close()
            return status
        cookie, _ = sign_in_cookie(connect)
        assert dashboard(cookie) == 200
        changed = command("set-password", "--username", "root", password="another one 42\n")
        assert changed.returncode == 0 and "password set" in changed.stdout, changed
        assert dashboard(cookie) == 302  # the running server refuses the old session at once
        missing = command("remove-admin", "--username", "ghost")
        assert missing.returncode == 1 and "no admin ghost" in missing.stderr
        assert command("remove-admin", "--username", "root").returncode == 1  # the last owner
        assert command("remove-admin", "--username", "root", "--force").returncode == 0
        assert command("list-admins").stdout == ""
    finally:
        server.kill()
