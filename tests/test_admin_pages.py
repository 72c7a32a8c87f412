"""The browser admin pages driven in a real headless Chromium (Playwright, async API) on both
databases, plus the session and XSRF rules checked over plain HTTP."""
import io
import json
import os
import urllib.parse

import pytest
from PIL import Image as PILImage
from tornado.httpclient import HTTPClientError

from models.goods import Goods, Image
from models.user import User
from services import admins

PASSWORD = "correct horse battery"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCREENSHOT = os.path.join(ROOT, "docs", "screenshots", "dashboard.png")


class Browser:
    """One headless Chromium per test: `async with Browser() as page:`."""

    async def __aenter__(self):
        from playwright.async_api import async_playwright
        self.pw = await async_playwright().start()
        self.browser = await self.pw.chromium.launch(executable_path="/usr/bin/chromium",
                                                     args=CHROMIUM_ARGS)
        self.page = await self.browser.new_page(viewport={"width": 1100, "height": 900})
        self.page.set_default_timeout(15_000)
        self.dialogs = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        return self

    async def __aexit__(self, *exc):
        await self.browser.close()
        await self.pw.stop()


async def sign_in(page, base, username="root", password=PASSWORD):
    await page.goto(base + "/admin/review")  # a protected page: sent to sign in, then back
    assert "/admin/login" in page.url
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("main button[type=submit]")


def png(color, size=(160, 120)):
    out = io.BytesIO()
    PILImage.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


async def seed(app, config):
    """Admin account, three users, three pending listings with photos (one with a <script>)."""
    await app.run_db(admins.create_admin, "root", PASSWORD)
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
async def test_moderator_jobs_in_a_real_browser(api, app, config):
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
        assert "Wrong username or password" in await page.inner_text(".error")
        await page.fill("input[name=username]", "root")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("main button[type=submit]")
        assert page.url.endswith("/admin/review")
        cookie = [c for c in await page.context.cookies() if c["name"] == "market_admin"][0]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

        # the review queue shows the photos, and the <script> title as text
        assert await page.locator("#goods-%d .photos img" % approve_gid).count() == 1
        script_title = await page.inner_text("#goods-%d h2" % script_gid)
        assert "<script>alert('x')</script>高数课本" in script_title
        assert "&lt;script&gt;" in await page.content() and not b.dialogs

        # approve one: it appears in the mini-program's public list
        await page.click("#goods-%d button[value=approve]" % approve_gid)
        assert "Listing approved" in await page.inner_text(".done")
        public = await api.get("/wx/goods/getSimpleGoods", state=1)
        assert [g["gid"] for g in public.extend.values()] == [approve_gid]

        # reject one with a reason: the seller reads it through /wx/user/whyNot
        card = "#goods-%d" % reject_gid
        await page.fill(card + " input[name=reason]", "照片与描述不符，请重拍")
        await page.click(card + " button[value=reject]")
        assert "rejected" in await page.inner_text(".done")
        why = await api.get("/wx/user/whyNot", seller, gid=reject_gid, openid="seller")
        assert why.extend == {"notice": {"noticeInfo": "照片与描述不符，请重拍"}}

        # the listings page also shows the script title as text, and can take one down
        await page.goto(base + "/admin/goods?q=" + urllib.parse.quote("高数"))
        assert "<script>" in await page.inner_text("#goods-%d .title" % script_gid)
        await page.click("#goods-%d button" % script_gid)
        assert "taken down" in await page.inner_text(".done")
        assert (await app.run_db(Goods.get_by_id, script_gid)).deleted

        # block a user with a reason: live socket closed, new chat refused, reason readable
        await page.goto(base + "/admin/users?state=3")
        await page.click("text=买家")
        await page.fill("form[action$='/block'] input[name=reason]", "发布违规信息")
        await page.click("form[action$='/block'] button")
        assert "blocked" in await page.inner_text(".done")
        assert await buyer_socket.read_message() is None and buyer_socket.close_code == 4403
        with pytest.raises(HTTPClientError) as refused:
            await api.ws("buyer", "seller", buyer)
        assert refused.value.code == 403
        seen = await api.get("/wx/admin/userIsOk", buyer, openid="buyer")
        assert seen.extend == {"state": 10, "result": {"noticeInfo": "发布违规信息"}}

        # a broadcast reaches every live chat connection
        await page.click("nav >> text=Broadcast")
        await page.fill("textarea[name=text]", "今晚 22:00 维护 <i>10 分钟</i>")
        await page.click("main button[type=submit]")
        assert "Sent to 1 live chat connection" in await page.inner_text(".done")
        frame = json.loads(await watcher_socket.read_message())
        assert frame["content"] == "今晚 22:00 维护 <i>10 分钟</i>" and frame["fromOpenid"]

        # announcements and the audit log
        await page.click("nav >> text=Announcements")
        await page.fill("form:has(input[name=mid][value='2']) textarea", "期末闲置大促🎉")
        await page.click("text=Save slot 2")
        notices = await api.get("/wx/admin/getNotice")
        assert notices.extend["Info2"] == {"noticeInfo": "期末闲置大促🎉"}
        await page.click("nav >> text=Audit log")
        audit = await page.inner_text("table.list")
        for action in ("goods.approve", "goods.reject", "goods.delete", "user.block",
                       "broadcast", "notice.update", "admin.login"):
            assert action in audit
        assert "发布违规信息" in audit

        # the dashboard, kept as a screenshot in docs/
        await page.click("nav >> text=Market admin")
        text = await page.inner_text("main")
        assert "1\nlive chat connections" in text and "0\nlistings to review" in text
        await page.set_viewport_size({"width": 1100, "height": 760})
        os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
        await page.screenshot(path=SCREENSHOT, full_page=True)
    watcher_socket.close()


@pytest.mark.gen_test(timeout=60)
async def test_forged_form_is_refused_in_the_browser(api, app, config):
    base = base_of(api)
    await app.run_db(admins.create_admin, "root", PASSWORD)
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
        assert "out of date" in await page.inner_text(".error")
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
        assert "Sent to 1" in await page.inner_text(".done")
    assert json.loads(await socket.read_message())["content"] == "real"
    socket.close()
