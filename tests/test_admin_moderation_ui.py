"""The moderation pages as a moderator uses them on a phone (issue 19, items 2 and 3), in a real
headless Chromium at 390×844 (and 1280×800 for the menu), on both databases: every destructive
action needs a reason and a confirmation page, a refused form comes back with its error and its
input, bulk review, totals and page numbers that keep the filters, the audit log in words with
links, a broadcast's reach before it is sent, a one-row menu, 44 px tap targets, no sideways
scroll. Pages are Chinese first (the browser asks for zh-CN).

UPDATE_SCREENSHOTS=1 rewrites the phone screenshots in docs/screenshots/ (otherwise they go to a
temporary folder, unless missing)."""
import asyncio
import os

import pytest
from playwright.async_api import expect

from models.comment import Comment
from models.goods import Goods, Image
from models.user import User
from services import admin_accounts
from tests.chat_helpers import read, silent, users
from tests.test_admin_pages import CHROMIUM_ARGS, PASSWORD, png

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHOTS = os.path.join(ROOT, "docs", "screenshots")
PHONE = {"width": 390, "height": 844}
# a checkbox's target is its 44 px label.pick around it
TAPPABLE = ("a, button, summary, label.pick, input:not([type=hidden]):not([type=checkbox]), "
            "select, textarea")


class Phone:
    """One headless Chromium with a zh-CN phone-sized page: `async with Phone(base) as page:`."""

    def __init__(self, base, viewport=PHONE):
        self.base, self.viewport = base, viewport

    async def __aenter__(self):
        from playwright.async_api import async_playwright
        self.pw = await async_playwright().start()
        self.browser = await self.pw.chromium.launch(executable_path="/usr/bin/chromium",
                                                     args=CHROMIUM_ARGS)
        context = await self.browser.new_context(viewport=self.viewport, locale="zh-CN",
                                                 device_scale_factor=1)
        self.page = await context.new_page()
        self.page.set_default_timeout(15_000)
        await self.page.goto(self.base + "/admin/login")
        await self.page.fill("input[name=username]", "root")
        await self.page.fill("input[name=password]", PASSWORD)
        await self.page.click("main button[type=submit]")
        await self.page.wait_for_url(self.base + "/admin/")
        return self.page

    async def __aexit__(self, *exc):
        await self.browser.close()
        await self.pw.stop()


async def seed(app, config, pending=0, approved=0, photos=True):
    """The admin account and `pending` + `approved` listings of "seller" (gids, oldest first)."""
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    folder = config["uploads"]["dir"]
    os.makedirs(folder, exist_ok=True)
    name = "%032x.png" % 7
    with open(os.path.join(folder, name), "wb") as f:
        f.write(png((60, 120, 200), (96, 96)))

    def create():
        gids = []
        for i in range(pending + approved):
            goods = Goods.create(openid="seller", goods_name="物品%d" % i,
                                 goods_title="二手自行车 %d 号，九成新，校内自提" % i,
                                 goods_dec="描述", goods_price_new="35.50",
                                 goods_price_old="120.00", state=0 if i < pending else 1)
            if photos:
                Image.create(openid="seller", flag=0, url=name, thumb=name, gid=goods.gid)
            gids.append(goods.gid)
        return gids
    return await app.run_db(create)


async def remove_limits(page, selector="textarea[name=reason]"):
    """Take the browser-side checks off a field, so the server's own refusal is what is seen."""
    await page.eval_on_selector(selector, "e => { e.removeAttribute('required');"
                                          " e.removeAttribute('maxlength'); }")


async def shot(page, name, tmp_path):
    """A phone screenshot: docs/screenshots/NAME.png when missing or UPDATE_SCREENSHOTS=1."""
    path = os.path.join(SHOTS, name + ".png")
    if not (os.environ.get("UPDATE_SCREENSHOTS") or not os.path.exists(path)):
        path = str(tmp_path / (name + ".png"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    await page.screenshot(path=path, full_page=False)
    return path


@pytest.mark.gen_test(timeout=120)
async def test_block_from_reports_needs_reason_and_confirmation(api, app, config, tmp_path):
    t = await users(api, "alice", "bob", "seller")
    (gid,) = await seed(app, config, approved=1)
    reply = await api.post_json("/wx/report", {"openid": "alice", "targetType": "goods",
                                               "targetId": str(gid), "reason": "骗子"}, t["alice"])
    assert reply.code == 200
    async with Phone(api.base) as page:
        await page.goto(api.base + "/admin/reports")
        card = page.locator("section.report").first
        dismiss = card.locator("form[action$='/dismiss'] button")
        block = card.locator("form[action$='/block'] button")
        # destructive is red and kept apart from the harmless Dismiss
        assert await block.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(179, 38, 30)"
        assert "bad" not in (await dismiss.get_attribute("class") or "")
        gap = (await block.bounding_box())["x"] - (await dismiss.bounding_box())["x"]
        assert gap > 100, gap
        await block.click()
        # one tap only asks: a confirmation page naming the listing and its seller
        await expect(page.locator("h1")).to_have_text("封禁作者？")
        assert "二手自行车 0 号" in await page.inner_text("main")
        assert (await app.run_db(User.by_openid, "seller")).state != 10
        # confirmed without a reason: refused on the same page (not a bare error page)
        await remove_limits(page)
        async with page.expect_response("**/block") as info:
            await page.click("button[name=confirm]")
        assert (await info.value).status == 400
        await expect(page.locator(".error")).to_have_text("请填写原因")
        assert await page.locator("button[name=confirm]").count() == 1
        # a too long reason: refused, the text kept in the field
        await remove_limits(page)
        long_reason = "太长" * 260
        await page.fill("textarea[name=reason]", long_reason)
        await page.click("button[name=confirm]")
        await expect(page.locator(".error")).to_contain_text("原因太长")
        assert await page.input_value("textarea[name=reason]") == long_reason
        assert (await app.run_db(User.by_openid, "seller")).state != 10
        # with a reason: blocked, and the user reads the reason (userIsOk)
        await page.fill("textarea[name=reason]", "出售假货")
        await page.click("button[name=confirm]")
        await page.wait_for_url("**/admin/reports?ok=block")
        await expect(page.locator(".done")).to_contain_text("用户已封禁")
    assert (await app.run_db(User.by_openid, "seller")).state == 10
    seen = await api.get("/wx/admin/userIsOk", t["seller"], openid="seller")
    assert seen.extend == {"state": 10, "result": {"noticeInfo": "出售假货"}}


@pytest.mark.gen_test(timeout=120)
async def test_take_down_and_reject_need_reason_and_confirmation(api, app, config):
    t = await users(api, "seller")
    reject_gid, take_gid = await seed(app, config, pending=1, approved=1)
    async with Phone(api.base) as page:
        # take down from the listings page: asks, refuses an empty reason, then the seller's
        # inbox gets the reason
        await page.goto(api.base + "/admin/goods")
        await page.click("#goods-%d button.bad" % take_gid)
        await expect(page.locator("h1")).to_have_text("下架这件商品？")
        assert not (await app.run_db(Goods.get_by_id, take_gid)).deleted
        await remove_limits(page)
        await page.click("button[name=confirm]")
        await expect(page.locator(".error")).to_have_text("请填写原因")
        assert not (await app.run_db(Goods.get_by_id, take_gid)).deleted
        await page.fill("textarea[name=reason]", "禁止出售管制物品")
        await page.click("button[name=confirm]")
        await expect(page.locator(".done")).to_contain_text("商品已下架")
        assert (await app.run_db(Goods.get_by_id, take_gid)).deleted
        inbox = await api.get("/wx/lt/getNoticeInfo", t["seller"], type=0, openid="seller")
        assert [(n["gid"], n["content"]) for n in inbox.extend["info"]] == [
            (take_gid, "你的商品已被管理员下架，原因：禁止出售管制物品")]
        # reject from the queue with the reason typed on the card: the confirmation keeps it;
        # a refusal of the rule (the listing was deleted meanwhile) comes back on that page
        await page.goto(api.base + "/admin/review")
        card = "#goods-%d" % reject_gid
        await page.fill(card + " input[name=reason]", "照片模糊")
        await page.click(card + " button[value=reject]")
        await expect(page.locator("h1")).to_have_text("驳回这件商品？")
        assert await page.input_value("textarea[name=reason]") == "照片模糊"
        assert (await app.run_db(Goods.get_by_id, reject_gid)).state == 0
        await app.run_db(lambda: Goods.update(deleted=True).where(
            Goods.gid == reject_gid).execute())
        async with page.expect_response("**/review") as info:
            await page.click("button[name=confirm]")
        assert (await info.value).status == 400
        await expect(page.locator(".error")).to_have_text("该商品已被删除")
        assert await page.input_value("textarea[name=reason]") == "照片模糊"
        await app.run_db(lambda: Goods.update(deleted=False).where(
            Goods.gid == reject_gid).execute())
        await page.click("button[name=confirm]")
        await expect(page.locator(".done")).to_contain_text("商品已驳回")
    why = await api.get("/wx/user/whyNot", t["seller"], gid=reject_gid, openid="seller")
    assert why.extend == {"notice": {"noticeInfo": "照片模糊"}}


@pytest.mark.gen_test(timeout=120)
async def test_comment_removal_and_banner_and_announcement_ask_first(api, app, config):
    t = await users(api, "alice", "author")
    (gid,) = await seed(app, config, approved=1)
    comment = await app.run_db(lambda: Comment.create(gid=gid, from_openid="author",
                                                      content="广告：加微信").in_id)
    await api.post_json("/wx/report", {"openid": "alice", "targetType": "comment",
                                       "targetId": str(comment), "reason": "广告"}, t["alice"])
    await app.run_db(lambda: Image.create(openid="root", flag=2, url="%032x.png" % 7))
    async with Phone(api.base) as page:
        await page.goto(api.base + "/admin/reports")
        await page.click("form[action$='/take_down'] button")
        assert "广告：加微信" in await page.inner_text("main")
        await page.fill("textarea[name=reason]", "广告刷屏")
        await page.click("button[name=confirm]")
        await page.wait_for_url("**/admin/reports?ok=take_down")
        assert (await app.run_db(Comment.get_by_id, comment)).hidden
        inbox = await api.get("/wx/lt/getNoticeInfo", t["author"], type=0, openid="author")
        assert inbox.extend["info"][0]["content"] == "你的评论已被管理员删除，原因：广告刷屏"
        # a banner: asks, then goes
        await page.goto(api.base + "/admin/banners")
        await page.click("figure button.bad")
        await expect(page.locator("h1")).to_have_text("移除这张横幅？")
        assert len((await api.get("/wx/images/getHomeImages")).extend) == 1
        await page.fill("textarea[name=reason]", "活动结束")
        await page.click("button[name=confirm]")
        await page.wait_for_url("**/admin/banners?ok=banner")
        assert (await api.get("/wx/images/getHomeImages")).extend == {}
        # an announcement: saving a text is one tap; clearing it asks for a reason
        await page.goto(api.base + "/admin/notices")
        await page.fill("#slot-1 textarea", "期末闲置大促")
        await page.click("#slot-1 button[name=save]")
        await expect(page.locator(".done")).to_contain_text("公告已保存")
        await page.click("#slot-1 button[name=clear]")
        await expect(page.locator("h1")).to_have_text("清除这条公告？")
        assert (await api.get("/wx/admin/getNotice")).extend["Info1"]["noticeInfo"] == "期末闲置大促"
        await page.fill("textarea[name=reason]", "活动已结束")
        await page.click("button[name=confirm]")
        await expect(page.locator(".done")).to_contain_text("公告已保存")
        assert (await api.get("/wx/admin/getNotice")).extend["Info1"]["noticeInfo"] == ""
        await page.goto(api.base + "/admin/audit")
        text = await page.inner_text("ul.audit")
        assert "清除了公告「1」" in text and "原因： 活动已结束" in text
        assert "移除了横幅" in text and "原因： 活动结束" in text


@pytest.mark.gen_test(timeout=120)
async def test_bulk_approve_and_reject_from_the_queue(api, app, config):
    t = await users(api, "seller")
    gids = await seed(app, config, pending=6)
    async with Phone(api.base) as page:
        await page.goto(api.base + "/admin/review")
        for gid in gids[:4]:
            await page.check("#goods-%d input[type=checkbox]" % gid)
        await page.click("#bulk button[value=approve]")
        await expect(page.locator(".done")).to_contain_text("所选商品已通过")
        public = await api.get("/wx/goods/getSimpleGoods", state=1)
        assert sorted(g["gid"] for g in public.extend.values()) == gids[:4]
        # bulk reject: one reason, on a confirmation page listing them
        for gid in gids[4:]:
            await page.check("#goods-%d input[type=checkbox]" % gid)
        await page.click("#bulk button[value=reject]")
        await expect(page.locator("h1")).to_have_text("驳回 2 件商品？")
        assert await page.locator("ul.subjects li").count() == 2
        assert all(s == 0 for s in await app.run_db(
            lambda: [g.state for g in Goods.select().where(Goods.gid.in_(gids[4:]))]))
        await page.fill("textarea[name=reason]", "重复发布")
        await page.click("button[name=confirm]")
        await expect(page.locator(".done")).to_contain_text("所选商品已驳回")
        await expect(page.locator(".empty")).to_have_text("没有待审核的商品。")
    for gid in gids[4:]:
        why = await api.get("/wx/user/whyNot", t["seller"], gid=gid, openid="seller")
        assert why.extend == {"notice": {"noticeInfo": "重复发布"}}


@pytest.mark.gen_test(timeout=120)
async def test_bulk_verify_and_reject_students(api, app, config):
    t = await users(api, "alice", "bob", "carol")
    await seed(app, config)
    await app.run_db(lambda: User.update(state=3).where(
        User.openid.in_(["alice", "bob", "carol"])).execute())
    async with Phone(api.base) as page:
        await page.goto(api.base + "/admin/users?state=3")
        for openid in ("alice", "bob"):
            await page.check("#user-%s input[type=checkbox]" % openid)
        await page.click("#bulk button[value=verify]")
        await expect(page.locator(".done")).to_contain_text("所选用户已认证")
        assert "state=3" in page.url  # back to the filtered queue
        await page.check("#user-carol input[type=checkbox]")
        await page.click("#bulk button[value=reject]")
        await expect(page.locator("h1")).to_have_text("驳回 1 位学生的认证？")
        assert (await app.run_db(User.by_openid, "carol")).state == 3
        await page.fill("textarea[name=reason]", "学生证照片看不清")
        await page.click("button[name=confirm]")
        await expect(page.locator(".done")).to_contain_text("所选认证已驳回")
        await expect(page.locator(".empty")).to_have_text("没有符合的用户。")
    states = {o: (await api.get("/wx/admin/userIsOk", t[o], openid=o)).extend
              for o in ("alice", "bob", "carol")}
    assert states["alice"]["state"] == states["bob"]["state"] == 1
    assert states["carol"] == {"state": 2, "result": {"noticeInfo": "学生证照片看不清"}}


@pytest.mark.gen_test(timeout=120)
async def test_totals_page_numbers_and_filters_kept(api, app, config):
    await users(api, "seller")
    await seed(app, config, pending=25, approved=40, photos=False)
    async with Phone(api.base) as page:
        await page.goto(api.base + "/admin/goods?state=1&deleted=no&q=" + "自行车")
        pager = page.locator("nav.pager")
        assert (await pager.locator(".total").inner_text()) == "第 1–30 条，共 40 条"
        assert [await a.inner_text() for a in await pager.locator("a").all()] == ["1", "2", "下一页 ›"]
        await pager.locator("a", has_text="2").click()
        await page.wait_for_url("**page=1")
        for kept in ("state=1", "deleted=no", "q=%E8%87%AA%E8%A1%8C%E8%BD%A6"):
            assert kept in page.url
        assert (await pager.locator(".total").inner_text()) == "第 31–40 条，共 40 条"
        assert await page.locator("ul.goods li").count() == 10
        assert await page.locator("select[name=state]").input_value() == "1"
        await page.goto(api.base + "/admin/review")
        await expect(page.locator("h1 small")).to_have_text("25 条待审核")
        assert (await page.locator("nav.pager .total").inner_text()) == "第 1–20 条，共 25 条"


@pytest.mark.gen_test(timeout=120)
async def test_audit_log_in_words_with_links(api, app, config, tmp_path):
    await users(api, "seller")
    approve_gid, take_gid = await seed(app, config, pending=2)
    async with Phone(api.base) as page:
        await page.goto(api.base + "/admin/review")
        await page.click("#goods-%d button[value=approve]" % approve_gid)
        await page.goto(api.base + "/admin/goods")
        await page.click("#goods-%d button.bad" % take_gid)
        await page.fill("textarea[name=reason]", "违规")
        await page.click("button[name=confirm]")
        await page.goto(api.base + "/admin/audit")
        lines = page.locator("ul.audit li")
        newest, approved = await lines.nth(0).inner_text(), await lines.nth(1).inner_text()
        assert "root 下架了商品「#%d 二手自行车 1 号，九成新，校内自提」" % take_gid in newest
        assert "原因： 违规" in newest
        assert "通过了商品「#%d" % approve_gid in approved and "由 待审核 改为 已通过" in approved
        assert "goods:" not in await page.inner_text("main")  # no raw codes
        await shot(page, "phone-audit", tmp_path)
        link = lines.nth(0).locator("a")
        assert await link.get_attribute("href") == "/admin/goods?q=%d" % take_gid
        await link.click()
        await expect(page.locator("ul.goods li")).to_have_count(1)
        assert "#%d" % take_gid in await page.inner_text("ul.goods")


@pytest.mark.gen_test(timeout=120)
async def test_broadcast_shows_its_reach_before_sending(api, app, config, tmp_path):
    t = await users(api, "alice", "bob", "seller")
    await seed(app, config)
    sockets = [await api.ws("alice", "seller", t["alice"]), await api.ws("alice", "bob", t["alice"]),
               await api.ws("bob", "seller", t["bob"])]
    async with Phone(api.base) as page:
        await page.goto(api.base + "/admin/broadcast")
        assert "当前：2 位用户，3 个在线聊天连接。" in await page.inner_text("main")
        await page.fill("textarea[name=text]", "今晚 22:00 维护")
        await page.click("main button[type=submit]")
        await expect(page.locator("#reach")).to_have_text("将立即送达 2 位用户的 3 个在线聊天连接。")
        await expect(page.locator("button[name=confirm]")).to_have_text("发送到 3 个连接")
        assert await silent(sockets[0], 0.3)  # nothing is sent before the confirmation
        await shot(page, "phone-broadcast", tmp_path)
        await page.click("button[name=confirm]")
        await expect(page.locator(".done")).to_have_text("已发送到 3 个在线聊天连接。")
    for ws in sockets:
        assert (await read(ws))["content"] == "今晚 22:00 维护"
        ws.close()


PAGES = ["review", "goods", "users", "users/seller", "reports", "held", "notices", "banners",
         "broadcast", "hotwords", "audit", "openids"]


async def check_phone_page(page, path):
    """Menu ≤ 60 px, every visible link/button/field ≥ 44 px tall, no sideways scroll."""
    header = await page.locator("header").bounding_box()
    assert header["height"] <= 60, (path, header)
    small = []
    for element in await page.locator(TAPPABLE).all():
        box = await element.bounding_box()
        if box and box["width"] and box["height"] and box["height"] < 44:  # 0: not shown
            small.append((await element.evaluate("e => e.outerHTML.slice(0, 80)"), box["height"]))
    assert not small, (path, small)
    width = await page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert width[0] <= width[1], (path, width)


@pytest.mark.gen_test(timeout=240)
async def test_phone_layout_menu_tap_targets_and_screenshots(api, app, config, tmp_path):
    t = await users(api, "alice", "seller")
    gids = await seed(app, config, pending=3, approved=30)
    await api.post_json("/wx/report", {"openid": "alice", "targetType": "goods",
                                       "targetId": str(gids[-1]), "reason": "假货"}, t["alice"])
    async with Phone(api.base) as page:
        for path in PAGES:
            await page.goto(api.base + "/admin/" + path)
            await check_phone_page(page, path)
        # the listings page is compact: 30 listings with thumbnails, no 10,000 px scroll
        await page.goto(api.base + "/admin/goods")
        assert await page.locator("ul.goods li img.thumb").count() == 30
        height = await page.evaluate("() => document.documentElement.scrollHeight")
        header = (await page.locator("header").bounding_box())["height"]
        print("phone: listings page %d px for 30 listings, header %d px" % (height, header))
        assert height < 3600, height
        await shot(page, "phone-goods", tmp_path)
        # the menu opens as a disclosure, its links 44 px tall, no script involved
        await page.click("details.menu summary")
        links = page.locator("details.menu nav a")
        assert await links.count() == 15  # 11 areas, want-to-buy posts, ratings, disputes, words
        for link in await links.all():
            assert (await link.bounding_box())["height"] >= 44
        await shot(page, "phone-menu", tmp_path)
        await page.click("details.menu nav a[href='/admin/review']")
        await page.wait_for_url("**/admin/review")
        await shot(page, "phone-review", tmp_path)
        await page.goto(api.base + "/admin/reports")
        await shot(page, "phone-reports", tmp_path)
        await page.click("form[action$='/block'] button")
        await check_phone_page(page, "confirm")
        await shot(page, "phone-confirm", tmp_path)
        # on a laptop the whole menu is one row
        await page.set_viewport_size({"width": 1280, "height": 800})
        await page.goto(api.base + "/admin/review")
        header = await page.locator("header").bounding_box()
        assert header["height"] <= 60, header
        tops = {round((await a.bounding_box())["y"]) for a in await page.locator("nav.wide a").all()}
        assert len(tops) == 1, tops
    for name in ("phone-goods", "phone-menu", "phone-review", "phone-confirm"):
        path = os.path.join(SHOTS, name + ".png")
        assert os.path.getsize(path if os.path.exists(path) else str(tmp_path / (name + ".png"))) > 5_000
    await asyncio.sleep(0)
