"""The browser admin pages driven in a real headless Chromium (Playwright, async API) on both
databases, plus the session and XSRF rules checked over plain HTTP."""
import asyncio
import io
import json
import os
import re
import urllib.parse

import pytest
from PIL import Image as PILImage
from playwright.async_api import expect
from tornado.httpclient import HTTPClientError

from models.goods import Goods, Image
from models.user import User
from services import admin_accounts, audit, banners

PASSWORD = "correct horse battery"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCREENSHOT = os.path.join(ROOT, "docs", "screenshots", "dashboard.png")


class Browser:
    """One headless Chromium per test: `async with Browser() as page:`; a Chinese moderator's
    browser unless `locale` says otherwise (the pages follow Accept-Language)."""

    def __init__(self, locale="zh-CN"):
        self.locale = locale

    async def __aenter__(self):
        from playwright.async_api import async_playwright
        self.pw = await async_playwright().start()
        self.browser = await self.pw.chromium.launch(executable_path="/usr/bin/chromium",
                                                     args=CHROMIUM_ARGS)
        self.page = await self.browser.new_page(viewport={"width": 1100, "height": 900},
                                               locale=self.locale)
        self.page.set_default_timeout(15_000)
        self.dialogs = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        return self

    async def __aexit__(self, *exc):
        await self.browser.close()
        await self.pw.stop()


async def sign_in(page, base, username="root", password=PASSWORD):
    await page.goto(base + "/admin/review")  # a protected page: sent to sign in, then back
    await page.wait_for_url("**/admin/login?next=*")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("main button[type=submit]")


def png(color, size=(160, 120)):
    out = io.BytesIO()
    PILImage.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


async def seed(app, config):
    """Admin account, three users, three pending listings with photos (one with a <script>)."""
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    folder = config["uploads"]["dir"]
    os.makedirs(folder, exist_ok=True)

    def create():
        gids = []
        titles = [("山地自行车🚲", (60, 120, 200)), ("<script>alert('x')</script>高数课本", (200, 90, 60)),
                  ("台灯 九成新", (90, 170, 90))]
        for i, (title, color) in enumerate(titles):
            goods = Goods.create(openid="seller", goods_name="物品%d" % i, goods_title=title,
                                 goods_dec="自提 <b>不包邮</b>", goods_price_new="35.50",
                                 goods_price_old="120.00")
            name = "%032x.png" % (i + 1)
            with open(os.path.join(folder, name), "wb") as f:
                f.write(png(color))
            Image.create(openid="seller", flag=0, url=name, thumb=name, gid=goods.gid)
            gids.append(goods.gid)
        User.update(state=3, school="二手大学", xuehao="2024001").where(
            User.openid == "buyer").execute()
        return gids
    return await app.run_db(create)


def base_of(api):
    return api.base


@pytest.mark.gen_test(timeout=90)
async def test_moderator_jobs_in_a_real_browser(api, app, config, tmp_path):
    base = base_of(api)
    seller = await api.login("seller", wxname="卖家")
    buyer = await api.login("buyer", wxname="买家")
    watcher = await api.login("watcher", wxname="围观")
    approve_gid, script_gid, reject_gid = await seed(app, config)
    buyer_socket = await api.ws("buyer", "seller", buyer)
    watcher_socket = await api.ws("watcher", "seller", watcher)

    async with Browser() as b:
        page = b.page
        # a wrong password is refused with a message; the right one lands on the asked page
        await sign_in(page, base, password="wrong password")
        await expect(page.locator(".error")).to_contain_text("用户名或密码错误")  # Chinese first
        await page.fill("input[name=username]", "root")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("main button[type=submit]")
        await page.wait_for_url("**/admin/review")
        cookie = [c for c in await page.context.cookies() if c["name"] == "market_admin"][0]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

        # the review queue shows the photos, and the <script> title as text
        assert await page.locator("#goods-%d .photos img" % approve_gid).count() == 1
        script_title = await page.inner_text("#goods-%d h2" % script_gid)
        assert "<script>alert('x')</script>高数课本" in script_title
        assert "&lt;script&gt;" in await page.content() and not b.dialogs

        # approve one: it appears in the mini-program's public list
        await page.click("#goods-%d button[value=approve]" % approve_gid)
        await expect(page.locator(".done")).to_contain_text("商品已通过")
        public = await api.get("/wx/goods/getSimpleGoods", state=1)
        assert [g["gid"] for g in public.extend.values()] == [approve_gid]

        # reject one with a reason: the seller reads it through /wx/user/whyNot
        card = "#goods-%d" % reject_gid
        await page.fill(card + " input[name=reason]", "照片与描述不符，请重拍")
        await page.click(card + " button[value=reject]")
        await page.click("button[name=confirm]")  # the confirmation page keeps the reason
        await expect(page.locator(".done")).to_contain_text("商品已驳回")
        why = await api.get("/wx/user/whyNot", seller, gid=reject_gid, openid="seller")
        assert why.extend == {"notice": {"noticeInfo": "照片与描述不符，请重拍"}}

        # the listings page also shows the script title as text, and can take one down
        await page.goto(base + "/admin/goods?q=" + urllib.parse.quote("高数"))
        assert "<script>" in await page.inner_text("#goods-%d .title" % script_gid)
        await page.click("#goods-%d button" % script_gid)
        await page.fill("textarea[name=reason]", "违禁内容")
        await page.click("button[name=confirm]")
        await expect(page.locator(".done")).to_contain_text("商品已下架")
        assert (await app.run_db(Goods.get_by_id, script_gid)).deleted

        # block a user with a reason: live socket closed, new chat refused, reason readable
        await page.goto(base + "/admin/users?state=3")
        await page.click("text=买家")
        await page.wait_for_url("**/admin/users/buyer")
        await page.click("form[action$='/block'] button")
        await page.fill("textarea[name=reason]", "发布违规信息")
        await page.click("button[name=confirm]")
        await expect(page.locator(".done")).to_contain_text("用户已封禁")
        assert await buyer_socket.read_message() is None and buyer_socket.close_code == 4403
        with pytest.raises(HTTPClientError) as refused:
            await api.ws("buyer", "seller", buyer)
        assert refused.value.code == 403
        seen = await api.get("/wx/admin/userIsOk", buyer, openid="buyer")
        assert seen.extend == {"state": 10, "result": {"noticeInfo": "发布违规信息"}}

        # a broadcast reaches every live chat connection
        await page.goto(base + "/admin/broadcast")
        await page.fill("textarea[name=text]", "今晚 22:00 维护 <i>10 分钟</i>")
        await page.click("main button[type=submit]")
        await page.click("button[name=confirm]")  # after the page saying how many it reaches
        await expect(page.locator(".done")).to_contain_text("已发送到 1 个在线聊天连接")
        frame = json.loads(await watcher_socket.read_message())
        assert frame["content"] == "今晚 22:00 维护 <i>10 分钟</i>" and frame["fromOpenid"]

        # announcements and the audit log
        await page.goto(base + "/admin/notices")
        await page.fill("form:has(input[name=mid][value='2']) textarea", "期末闲置大促🎉")
        await page.click("#slot-2 button[name=save]")
        await expect(page.locator(".done")).to_contain_text("公告已保存")
        notices = await api.get("/wx/admin/getNotice")
        assert notices.extend["Info2"] == {"noticeInfo": "期末闲置大促🎉"}
        await page.goto(base + "/admin/audit")
        audit = await page.inner_text("ul.audit")
        for words in ("通过了商品", "驳回了商品", "下架了商品", "封禁了用户", "向所有在线聊天连接发送了广播",
                      "修改了公告", "登录了后台"):
            assert words in audit
        assert "发布违规信息" in audit

        # one chat message to an offline user, then the dashboard, kept as a screenshot in docs/
        watcher_socket.write_message(json.dumps({"fromOpenid": "watcher", "toOpenid": "seller",
                                                 "content": "还在吗？"}, ensure_ascii=False))
        for _ in range(100):
            if app.chat.counts["stored"]:
                break
            await asyncio.sleep(0.05)
        await page.click("header .brand")
        await expect(page.locator("h1")).to_have_text("概览")
        text = await page.inner_text("main")
        assert "1\n个在线聊天连接" in text and "0\n件商品待审核" in text
        assert "1\n条离线消息待收" in text and "1\n今日聊天消息" in text
        await page.set_viewport_size({"width": 1100, "height": 760})
        # docs/ keeps one; UPDATE_SCREENSHOTS=1 replaces it (so test runs leave the tree clean)
        keep = os.environ.get("UPDATE_SCREENSHOTS") or not os.path.exists(SCREENSHOT)
        path = SCREENSHOT if keep else str(tmp_path / "dashboard.png")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        await page.screenshot(path=path, full_page=True)
        assert os.path.getsize(path) > 10_000
    watcher_socket.close()


@pytest.mark.gen_test(timeout=60)
async def test_forged_form_is_refused_in_the_browser(api, app, config):
    base = base_of(api)
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    watcher = await api.login("watcher")
    await api.login("seller")
    socket = await api.ws("watcher", "seller", watcher)
    async with Browser() as b:
        page = b.page
        await sign_in(page, base)
        await page.wait_for_url("**/admin/review")
        # a page that posts to the broadcast form without the _xsrf token
        await page.goto(base + "/admin/broadcast")
        await page.evaluate("() => document.querySelectorAll('input[name=_xsrf]')"
                            ".forEach(e => e.remove())")
        await page.fill("textarea[name=text]", "forged")
        async with page.expect_response("**/admin/broadcast") as info:
            await page.click("main button[type=submit]")
        response = await info.value
        assert response.status == 403
        await expect(page.locator(".error")).to_contain_text("表单已过期")
        # a form on another page (no token, and the Strict session cookie is not sent)
        await page.set_content('<form method="post" action="%s/admin/broadcast">'
                               '<input name="text" value="evil"><button>go</button></form>' % base)
        async with page.expect_response("**/admin/broadcast") as info:
            await page.click("button")
        assert (await info.value).status == 403
        # the same form with its token goes through
        await page.goto(base + "/admin/broadcast")
        await page.fill("textarea[name=text]", "real")
        await page.click("main button[type=submit]")
        await page.click("button[name=confirm]")
        await expect(page.locator(".done")).to_contain_text("已发送到 1 个")
    assert json.loads(await socket.read_message())["content"] == "real"
    socket.close()


# -- the same rules over plain HTTP (no browser: fast) ------------------------------------------

class Session:
    """A cookie jar and the XSRF token, as a browser would keep them."""

    def __init__(self, api):
        self.api, self.cookies, self.xsrf = api, {}, None

    def _keep(self, reply):
        for header in reply.headers.get_list("Set-Cookie"):
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";")[0]

    async def get(self, path, **params):
        reply = await self.api.fetch("GET", path, params, headers=self._headers(),
                                     follow_redirects=False)
        self._keep(reply)
        found = re.search(rb'name="_xsrf" value="([^"]+)"', reply.body or b"")
        if found:
            self.xsrf = found.group(1).decode()
        return reply

    async def post(self, path, data, xsrf=True, **kwargs):
        data = dict(data, **({"_xsrf": self.xsrf} if xsrf else {}))
        headers = dict(self._headers(), **{"Content-Type": "application/x-www-form-urlencoded"})
        reply = await self.api.fetch("POST", path, None, body=urllib.parse.urlencode(data),
                                     headers=headers, follow_redirects=False, **kwargs)
        self._keep(reply)
        return reply

    def _headers(self):
        return {"Cookie": "; ".join("%s=%s" % kv for kv in self.cookies.items())}

    async def sign_in(self, username="root", password=PASSWORD, next_=""):
        await self.get("/admin/login")
        return await self.post("/admin/login", {"username": username, "password": password,
                                                "next": next_})


@pytest.mark.gen_test(timeout=30)
async def test_session_cookie_xsrf_and_redirects(api, app):
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    s = Session(api)
    away = await s.get("/admin/users")
    assert away.status == 302 and away.headers["Location"].startswith("/admin/login?next=")
    signed = await s.sign_in(next_="//evil.example/x")
    assert signed.status == 302 and signed.headers["Location"] == "/admin/"
    cookie = [c for c in signed.headers.get_list("Set-Cookie") if c.startswith("market_admin=")][0]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # plain http here; https sets it
    assert (await s.get("/admin/")).status == 200
    # without the form's token, with only the cookies: refused, as an HTML page
    forged = await s.post("/admin/broadcast", {"text": "x"}, xsrf=False)
    assert forged.status == 403 and b"<!doctype html>" in forged.body and b"Traceback" not in forged.body
    # a tampered session cookie counts as signed out
    good = s.cookies["market_admin"]
    s.cookies["market_admin"] = good[:-4] + ("aaaa" if not good.endswith("aaaa") else "bbbb")
    assert (await s.get("/admin/")).status == 302
    s.cookies["market_admin"] = good
    assert (await s.get("/admin/")).status == 200
    # an expired session (past admin.session_hours) also
    app.config["admin"]["session_hours"] = 0.0001
    await asyncio.sleep(0.5)
    assert (await s.get("/admin/")).status == 302
    app.config["admin"]["session_hours"] = 8
    assert (await s.get("/admin/")).status == 200
    assert (await s.post("/admin/logout", {})).status == 302
    assert (await s.get("/admin/")).status == 302
    unknown = await s.get("/admin/no/such/page")
    assert unknown.status == 404 and "没有这个页面".encode() in unknown.body


@pytest.mark.gen_test(timeout=30)
async def test_failed_sign_ins_are_slowed_down(api, app):
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    s = Session(api)
    for _ in range(5):
        assert (await s.sign_in(password="wrong")).status == 401
    slowed = await s.sign_in()
    assert slowed.status == 429 and "秒后再试".encode() in slowed.body  # try again in N s


@pytest.mark.gen_test(timeout=30)
async def test_openids_banners_users_and_listing_pages(api, app, config):
    seller = await api.login("seller")
    await seed(app, config)
    s = Session(api)
    await s.sign_in()
    # admin openids drive /wx/admin/isAdmin
    await s.get("/admin/openids")
    assert (await s.post("/admin/openids", {"openid": "seller"})).status == 302
    assert (await api.get("/wx/admin/isAdmin", seller, openid="seller")).code == 200
    assert (await s.post("/admin/openids", {"openid": "bad id!"})).status == 400
    assert (await s.post("/admin/openids", {"openid": "seller", "remove": "1"})).status == 302
    assert (await api.get("/wx/admin/isAdmin", seller, openid="seller")).code == 100
    # a banner upload goes through the image checks and shows on the home images
    page = await s.get("/admin/banners")
    body = b"".join([b"--B\r\nContent-Disposition: form-data; name=\"_xsrf\"\r\n\r\n",
                     s.xsrf.encode(), b"\r\n--B\r\nContent-Disposition: form-data; name=\"file\";"
                     b" filename=\"b.png\"\r\nContent-Type: image/png\r\n\r\n", png("red"),
                     b"\r\n--B--\r\n"])
    headers = dict(s._headers(), **{"Content-Type": "multipart/form-data; boundary=B"})
    up = await api.fetch("POST", "/admin/banners", body=body, headers=headers,
                         follow_redirects=False)
    assert page.status == 200 and up.status == 302, up
    home = await api.get("/wx/images/getHomeImages")
    assert len(home.extend) == 1 and home.extend["0"].startswith("http")
    not_image = body.replace(png("red"), b"<svg onload=alert(1)>")
    assert (await api.fetch("POST", "/admin/banners", body=not_image, headers=headers,
                            follow_redirects=False)).status in (400, 415)
    banner_id = (await app.run_db(banners.current))[0]["id"]
    asked = await s.post("/admin/banners/%d/delete" % banner_id, {})  # the confirmation page
    assert asked.status == 200 and b'name="confirm"' in asked.body
    assert len((await api.get("/wx/images/getHomeImages")).extend) == 1
    assert (await s.post("/admin/banners/%d/delete" % banner_id,
                         {"reason": "活动结束", "confirm": "yes"})).status == 302
    assert (await api.get("/wx/images/getHomeImages")).extend == {}
    # blocking the seller takes their listings out of the public list; unblocking restores
    gid = (await app.run_db(lambda: Goods.select().first())).gid
    await s.get("/admin/review")
    await s.post("/admin/goods/%d/review" % gid, {"decision": "approve", "back": "/admin/review"})
    listed = lambda r: [g["gid"] for g in (r.extend or {}).values()]  # noqa: E731
    assert listed(await api.get("/wx/goods/getSimpleGoods", state=1)) == [gid]
    await s.get("/admin/users/seller")
    assert (await s.post("/admin/users/seller/block", {"reason": "spam", "confirm": "yes"})
            ).status == 302
    assert listed(await api.get("/wx/goods/getSimpleGoods", state=1)) == []
    assert (await s.post("/admin/users/seller/unblock", {})).status == 302
    assert listed(await api.get("/wx/goods/getSimpleGoods", state=1)) == [gid]
    user_page = await s.get("/admin/users/seller")
    assert "解封了用户".encode() in user_page.body and b"spam" in user_page.body
    # rejecting needs a reason; take down and restore from the listings page
    reply = await s.post("/admin/goods/%d/review" % gid, {"decision": "reject", "confirm": "yes"})
    assert reply.status == 400 and b'class="error"' in reply.body and b'name="confirm"' in reply.body
    assert (await s.post("/admin/goods/%d/delete" % gid, {"back": "//evil.example", "reason": "x",
                                                          "confirm": "yes"})).headers[
        "Location"] == "/admin/goods?ok=deleted"
    assert (await s.post("/admin/goods/%d/restore" % gid, {})).status == 302
    assert not (await app.run_db(Goods.get_by_id, gid)).deleted
    # a listing held by the content check says so in the review queue
    held = await app.run_db(lambda: Goods.select().where(Goods.gid != gid).first().gid)
    await app.run_db(lambda: Goods.update(hidden=True, hold_reason="图片检测: risky").where(
        Goods.gid == held).execute())
    queue = (await s.get("/admin/review")).body.decode()
    assert "被内容检测暂扣: 图片检测: risky" in queue  # Chinese first (locale/zh_CN.csv)
    found = await s.get("/admin/goods", q="script")
    assert b"&lt;script&gt;" in found.body and b"<script>" not in found.body


# -- sessions end server-side: sign-out, a new password, a removed account --------------------

def copy_of(session):
    """Another cookie jar holding a copy of the same cookies (a stolen or second-device copy)."""
    other = Session(session.api)
    other.cookies = dict(session.cookies)
    return other


async def admin_token(api):
    reply = await api.post_form("/wx/admin/adminLogin", {"username": "root", "passwd": PASSWORD})
    assert reply.code == 200, reply
    return reply.json["token"]


@pytest.mark.gen_test(timeout=30)
async def test_sign_out_ends_every_copy_of_the_session_and_the_admin_tokens(api, app):
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    s = Session(api)
    assert (await s.sign_in()).status == 302
    copied, token = copy_of(s), await admin_token(api)
    assert (await copied.get("/admin/")).status == 200
    assert (await api.get("/wx/admin/getAllUserSimInfo", token)).code == 200
    assert (await s.post("/admin/logout", {})).status == 302
    for jar in (s, copied):
        away = await jar.get("/admin/")
        assert away.status == 302 and away.headers["Location"].startswith("/admin/login"), away
    refused = await api.get("/wx/admin/getAllUserSimInfo", token)
    assert refused.status == 401 and refused.code == 100 and "重新登录" in refused.json["msg"]
    again = Session(api)  # signing in again works, and its cookie opens the pages
    assert (await again.sign_in()).status == 302 and (await again.get("/admin/")).status == 200
    assert (await api.get("/wx/admin/getAllUserSimInfo", await admin_token(api))).code == 200
    log = await app.run_db(audit.lines, "admin.logout", 0)
    assert [r["actor"] for r in log["items"]] == ["root"], log


@pytest.mark.gen_test(timeout=30)
async def test_new_password_and_removal_end_sessions_in_every_process(api, app, config, database,
                                                                      io_loop):
    """Two applications on one database (two processes or hosts): an old cookie copied from
    one is refused by the other once the password changed there."""
    import tornado.httpserver
    import tornado.testing
    from application import make_app
    from tests.conftest import Api
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    other = make_app(config, database)
    await other.start()
    sock, port = tornado.testing.bind_unused_port()
    server = tornado.httpserver.HTTPServer(other)
    server.add_socket(sock)
    try:
        s = Session(api)
        assert (await s.sign_in()).status == 302
        there = copy_of(s)
        there.api = Api(api.http, "http://127.0.0.1:%d" % port)
        token = await admin_token(there.api)
        assert (await there.get("/admin/")).status == 200
        await app.run_db(admin_accounts.set_password, "ROOT", "a new password 2")
        assert (await there.get("/admin/")).status == 302
        assert (await s.get("/admin/")).status == 302
        assert (await there.api.get("/wx/admin/getAllUserSimInfo", token)).status == 401
        assert (await s.sign_in()).status == 401  # the old password is gone
        assert (await s.sign_in(password="a new password 2")).status == 302
        assert (await there.get("/admin/")).status == 302  # a copy from before: still refused
        there.cookies = dict(s.cookies)
        assert (await there.get("/admin/")).status == 200
        await other.run_db(admin_accounts.remove_admin, "root", None, True)  # the last owner: force
        assert (await s.get("/admin/")).status == 302 and (await there.get("/admin/")).status == 302
    finally:
        server.stop()
        await other.shutdown(1)
        other.db_executor.shutdown(wait=True)


@pytest.mark.gen_test(timeout=60)
async def test_sign_out_in_a_real_browser_ends_a_copied_cookie(api, app):
    base = base_of(api)
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    async with Browser() as b:
        await sign_in(b.page, base)
        await b.page.wait_for_url("**/admin/review")
        stolen = await b.page.context.cookies()
        thief = await b.browser.new_context(locale="zh-CN")
        await thief.add_cookies(stolen)
        thief_page = await thief.new_page()
        await thief_page.goto(base + "/admin/")
        assert thief_page.url == base + "/admin/"  # the copy works while the session lives
        await b.page.click("form.logout button")
        await b.page.wait_for_url("**/admin/login")
        await thief_page.goto(base + "/admin/")
        assert "/admin/login?next=" in thief_page.url
        await expect(thief_page.locator("input[name=password]")).to_be_visible()
        await thief.close()
