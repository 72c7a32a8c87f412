"""Reports and held content through the admin pages in a real headless Chromium, both databases."""
import datetime
import html
import os

import pytest

from models.chat import ChatMessage, pair_key
from models.comment import Comment
from models.goods import Goods, Image
from models.rating import HANDOVER_CONFIRMED, HandOver, Rating
from models.wanted import WantedPost
from services import admin_accounts, content_checks
from services.report_targets import TARGETS
from tests.chat_helpers import users
from tests.test_admin_pages import PASSWORD, Browser, Session, sign_in

TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "templates")


@pytest.mark.gen_test(timeout=90)
async def test_report_reaches_the_queue_and_is_taken_down_in_the_browser(api, app):
    t = await users(api, "alice", "bob", "seller")
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)

    def listing():
        goods = Goods.create(openid="seller", goods_name="<script>alert(1)</script>仿冒球鞋",
                             goods_title="全新", goods_dec="正品", goods_price_new=99,
                             goods_price_old=999, state=1)
        held = Goods.create(openid="seller", goods_name="台灯", goods_title="t", goods_dec="d",
                            goods_price_new=1, goods_price_old=2, state=1)
        image = Image.create(openid="seller", gid=held.gid, url="b" * 32 + ".png")
        content_checks.hold_image(image.id, held.gid, "WeChat image check: risky (label 20001)")
        return goods.gid, held.gid
    gid, held_gid = await app.run_db(listing)
    for who, why in (("alice", "假货"), ("bob", "骗子")):
        reply = await api.post_json("/wx/report", {"openid": who, "targetType": "goods",
                                                   "targetId": str(gid), "reason": why}, t[who])
        assert reply.code == 200
    async with Browser() as b:
        page = b.page
        await sign_in(page, api.base)
        await page.goto(api.base + "/admin/")
        dashboard = await page.inner_text("main")
        assert "1\n个被举报对象 (2 条举报)" in dashboard
        assert "1\n件商品被内容检查暂扣" in dashboard
        await page.goto(api.base + "/admin/reports")
        card = page.locator("section.report").first
        assert "2 次举报" in await card.inner_text()  # Chinese first
        assert "<script>alert(1)</script>仿冒球鞋" in await card.inner_text()  # shown as text
        assert b.dialogs == []
        await card.locator("form[action$='/take_down'] button").click()
        await page.fill("textarea[name=reason]", "counterfeit")  # then confirmed
        await page.click("button[name=confirm]")
        await page.wait_for_url("**/admin/reports?ok=take_down")
        assert "没有待处理的举报。" in await page.inner_text("main")
        assert (await app.run_db(Goods.get_by_id, gid)).deleted
        await page.goto(api.base + "/admin/audit")
        assert "根据举报下架了" in await page.inner_text("main")
        await page.goto(api.base + "/admin/held")
        assert "risky" in await page.inner_text("main")
        await page.locator("form", has=page.locator("input[name=gid][value='%d']" % held_gid)) \
            .first.locator("button").click()
        await page.wait_for_url("**/admin/held?ok=released")
        goods = await app.run_db(Goods.get_by_id, held_gid)
        assert not goods.hidden and not goods.hold_reason
    public = await api.get("/wx/goods/getSimpleGoods", state=1)
    names = [g["goodsName"] for g in (public.extend or {}).values()]
    assert "台灯" in names and all("仿冒" not in n for n in names)


@pytest.mark.gen_test(timeout=30)
async def test_report_pages_need_a_session_and_xsrf(api, app):
    for path in ("/admin/reports", "/admin/held"):
        reply = await api.fetch("GET", path, follow_redirects=False)
        assert reply.status == 302 and reply.headers["Location"].startswith("/admin/login")
    forged = await api.fetch("POST", "/admin/reports/goods/1/dismiss", body=b"reason=x",
                             follow_redirects=False)
    assert forged.status == 403


@pytest.mark.gen_test(timeout=90)
async def test_ratings_and_want_to_buy_pages_confirm_like_the_others_in_the_browser(api, app):
    """Issue 23: "Block author" on a rating report posted without a reason and landed on an
    error page, and the want-to-buy and rating pages acted at once. Every destructive action
    now goes through the same confirmation page (one route for every report target); the
    dashboard names deleted accounts as a state (已注销), not "删除成功"."""
    import datetime
    from models.rating import HANDOVER_CONFIRMED, HandOver, Rating
    from models.user import User
    from models.wanted import WantedPost
    t = await users(api, "rater", "seller", "ann")
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)

    def scene():
        h = HandOver.create(gid=1, seller="seller", buyer="rater", state=HANDOVER_CONFIRMED)
        r = Rating.create(handover_id=h.id, rater="rater", ratee="seller", score=1, text="骗子")
        p = WantedPost.create(openid="ann", keywords="台灯", expires_at=datetime.datetime.utcnow()
                              + datetime.timedelta(days=7))
        User.create(openid="gone", state=20)  # a deleted account's placeholder row
        return r.id, p.id
    rating_id, post_id = await app.run_db(scene)
    reply = await api.post_json("/wx/report", {"openid": "ann", "targetType": "rating",
                                               "targetId": str(rating_id), "reason": "辱骂"},
                                t["ann"])
    assert reply.code == 200, reply
    async with Browser() as b:
        page = b.page
        await sign_in(page, api.base)
        await page.goto(api.base + "/admin/")
        dashboard = await page.inner_text("main")
        assert "账号已注销" in dashboard and "删除成功" not in dashboard
        await page.goto(api.base + "/admin/reports")
        await page.locator("section.report form[action$='/block'] button").click()
        await page.wait_for_selector("textarea[name=reason]")  # the confirmation page
        assert "/admin/reports/rating/%d/block" % rating_id in page.url
        await page.fill("textarea[name=reason]", "辱骂他人")
        await page.click("button[name=confirm]")
        await page.wait_for_url("**/admin/reports?ok=block")
        assert (await app.run_db(User.by_openid, "rater")).state == 10
        await page.goto(api.base + "/admin/wanted")
        await page.locator("form[action$='/%d/take_down'] button" % post_id).click()
        await page.wait_for_selector("textarea[name=reason]")
        assert (await app.run_db(WantedPost.get_by_id, post_id)).reason == ""  # not yet
        await page.fill("textarea[name=reason]", "广告")
        await page.click("button[name=confirm]")
        await page.wait_for_url("**/admin/wanted?ok=take_down")
        assert (await app.run_db(WantedPost.get_by_id, post_id)).reason == "广告"
        assert b.dialogs == []


def test_every_report_target_has_its_context_view_and_nothing_else_does():
    """The registry (services/report_targets.py) is the one list of targets: each kind's context
    is drawn by templates/report_{kind}.html, and no view is left for a kind that is gone."""
    views = {name[len("report_"):-len(".html")] for name in os.listdir(TEMPLATES)
             if name.startswith("report_") and name.endswith(".html")}
    assert views == set(TARGETS)


@pytest.mark.gen_test(timeout=60)
async def test_each_kind_of_report_shows_its_own_context_on_the_reports_page(api, app):
    """The reports page drew rating and want-to-buy reports as if they were users (an empty
    name and a user state): the moderator could not see what was reported. Each kind now shows its
    own context, and the page offers take-down only where the registry has one."""
    t = await users(api, "ann", "bob")
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)

    def scene():
        gid = Goods.create(openid="bob", goods_name="仿冒球鞋", goods_title="全新", goods_dec="d",
                           goods_price_new=9, goods_price_old=99, state=1).gid
        comment = Comment.create(gid=gid, from_openid="bob", content="评论里的脏话").in_id
        ChatMessage.create(pair=pair_key("ann", "bob"), from_openid="bob", to_openid="ann",
                           content="聊天里的骚扰")
        h = HandOver.create(gid=gid, seller="ann", buyer="bob", state=HANDOVER_CONFIRMED)
        rating = Rating.create(handover_id=h.id, rater="bob", ratee="ann", score=1,
                               text="评价里的辱骂").id
        post = WantedPost.create(openid="bob", keywords="求购广告词", place="东门",
                                 expires_at=datetime.datetime.utcnow() + datetime.timedelta(days=7)).id
        return {"goods": gid, "user": "bob", "comment": comment, "chat": "bob", "rating": rating,
                "wanted": post}
    ids = await app.run_db(scene)
    assert set(ids) == set(TARGETS)
    for kind, target in ids.items():
        reply = await api.post_json("/wx/report", {"openid": "ann", "targetType": kind,
                                                   "targetId": str(target), "reason": "举报"},
                                    t["ann"])
        assert reply.code == 200, (kind, reply)
    s = Session(api)
    await s.sign_in()
    page = html.unescape((await s.get("/admin/reports")).body.decode())
    shown = {"goods": "仿冒球鞋", "user": "名字-bob", "comment": "评论里的脏话", "chat": "聊天里的骚扰",
             "rating": "评价里的辱骂", "wanted": "求购广告词"}
    for kind, target in ids.items():
        card = page.split('id="report-%s-%s"' % (kind, target))[1].split("</section>")[0]
        assert shown[kind] in card, (kind, card)
        assert ("/take_down" in card) == (TARGETS[kind].take_down is not None), kind
