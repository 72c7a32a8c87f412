"""Issue 25 item 3: disputes about a confirmed hand-over, over real HTTP on both databases. A
party opens one within trade.dispute_days (a reason, photos of their own chat uploads): both
ratings are held and the sale uncounted, the other party told (inbox type 5, subscribe message).
A moderator decides through the confirmation step (uphold naming the party at fault: the
ratings that party gave are removed, the sale stays uncounted; dismiss: everything shows
again), audited, both parties told. One dispute per hand-over, 20 parallel opens store one;
every refusal is code 100 and changes nothing."""
import asyncio

import pytest

from models.admin import AdminAction
from models.dispute import Dispute
from services import admin_accounts, clock
from tests.security_helpers import snapshot
from tests.test_accounts import delete
from tests.test_admin_pages import PASSWORD, Browser, Session, sign_in
from tests.test_chat_media import chat_picture, path_of
from tests.test_goods import set_user_state
from tests.test_ratings import chat, confirm, listing, mark, public_rating, rate


@pytest.fixture
def settings_env(settings_env):
    settings_env.update(MARKET_LIMITS_PUBLISH_PER_MINUTE_USER="1000",
                        MARKET_LIMITS_PER_MINUTE_ADDRESS="100000",
                        MARKET_RATINGS_PER_MINUTE_USER="1000", MARKET_MODERATION_ENABLED="true",
                        MARKET_NOTIFY_ENABLED="true", MARKET_NOTIFY_DISPUTE_TEMPLATE="TPL-DISPUTE",
                        MARKET_LOCALE_DEFAULT="en_US")  # English texts are read here
    return settings_env


@pytest.fixture
def travel():
    """clock.travel, reset afterwards."""
    yield clock.travel
    clock.travel()


async def sold(api, app, config, t, seller="sue", buyer="tom", **fields):
    """A listing of `seller` handed over to `buyer` and confirmed; the hand-over id."""
    gid = await listing(api, config, t[seller], seller, **fields)
    await chat(api, app, buyer, t[buyer], seller, content="还在吗，可以便宜点吗")
    hid = (await mark(api, t[seller], seller, gid, buyer)).extend["handover"]["id"]
    assert (await confirm(api, t[buyer], buyer, hid)).code == 200
    return hid


async def dispute(api, token, openid, hid, reason="对方收款后没有交货", **extra):
    body = dict(extra, openid=openid, hid=hid)
    if reason is not None:
        body["reason"] = reason
    return await api.post_json("/wx/handover/dispute", body, token)


async def state(api, token, openid, hid):
    reply = await api.get("/wx/handover/dispute", token, openid=openid, hid=hid)
    assert reply.code == 200, reply
    return reply.extend


async def inbox(api, token, openid):
    reply = await api.get("/wx/lt/getNoticeInfo", token, type=5, openid=openid)
    assert reply.code == 200, reply
    return [(n["openid"], n["content"]) for n in reply.extend["info"]]


async def sent_to(wechat, count):
    for _ in range(100):
        if len(wechat.sent) >= count:
            break
        await asyncio.sleep(0.05)
    return [(m["touser"], m["template_id"], m["data"]["phrase2"]["value"]) for m in wechat.sent]


async def grant(api, t, *openids):
    for o in openids:
        reply = await api.post_json("/wx/notify/subscribe",
                                    {"openid": o, "templateIds": ["TPL-DISPUTE"] * 3}, t[o])
        assert reply.code == 200, reply


async def admin_session(api, app):
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    s = Session(api)
    await s.sign_in()
    return s


@pytest.mark.gen_test(timeout=120)
async def test_open_holds_ratings_and_uphold_removes_the_faulty_partys(api, app, config, wechat):
    t = {o: await api.login(o, wxname="名-" + o) for o in ("sue", "tom", "ann")}
    await grant(api, t, "sue", "tom")
    hid = await sold(api, app, config, t, goodsName="台灯")
    assert (await rate(api, t["tom"], "tom", hid, 1, "不靠谱")).code == 200
    assert (await rate(api, t["sue"], "sue", hid, 5, "好买家")).code == 200
    assert await public_rating(api, "sue") == {"average": 1.0, "count": 1, "sales": 1}
    assert await public_rating(api, "tom") == {"average": 5.0, "count": 1, "sales": 0}
    before = await state(api, t["tom"], "tom", hid)
    assert before["canOpen"] is True and before["dispute"] is None and before["deadline"]
    # tom (the buyer) opens it with a photo he uploaded for chat, by its signed URL
    photo = await chat_picture(api, t["tom"], "tom")
    opened = await dispute(api, t["tom"], "tom", hid, photos=[photo["imageUrl"]])
    assert opened.code == 200 and opened.json["msg"] == "dispute opened", opened
    mine = opened.extend["dispute"]
    assert opened.extend["canOpen"] is False and mine["state"] == "open" and mine["mine"] is True
    assert mine["openedBy"] == "buyer" and mine["reason"] == "对方收款后没有交货"
    assert len(mine["photos"]) == 1 and photo["name"] in mine["photos"][0]
    assert (await api.fetch("GET", path_of(mine["photos"][0]))).status == 200
    # the seller sees that it is open, not the reason or the photos
    theirs = (await state(api, t["sue"], "sue", hid))["dispute"]
    assert (theirs["state"], theirs["mine"], theirs["openedBy"], theirs["reason"],
            theirs["photos"]) == ("open", False, "buyer", "", [])
    # both ratings held, the sale uncounted
    assert await public_rating(api, "sue") == {"average": None, "count": 0, "sales": 0}
    assert await public_rating(api, "tom") == {"average": None, "count": 0, "sales": 0}
    assert (await api.get("/wx/rating/list", openid="sue")).extend["ratings"] == []
    handovers = (await api.get("/wx/handover/mine", t["sue"], openid="sue")).extend["handovers"]
    assert [(h["id"], h["dispute"]) for h in handovers] == [(hid, "open")]
    # the seller is told: inbox type 5 (from tom) and a subscribe message; tom is not
    assert await inbox(api, t["sue"], "sue") == [("tom", "对方对这笔交易发起了申诉，双方的评价暂不显示，"
                                                         "管理员处理后会通知你。")]
    assert await inbox(api, t["tom"], "tom") == []
    assert await sent_to(wechat, 1) == [("sue", "TPL-DISPUTE", "dispu")]  # WeChat: 5 at most
    assert wechat.sent[0]["data"]["thing1"]["value"] == "台灯"
    # the queue and the dispute's page: the reason, the photo, the pair's chat
    s = await admin_session(api, app)
    queue = await s.get("/admin/disputes")
    assert queue.status == 200 and "对方收款后没有交货".encode() in queue.body
    did = mine["id"]
    page = await s.get("/admin/disputes/%d" % did)
    assert page.status == 200 and "还在吗，可以便宜点吗".encode() in page.body
    assert photo["name"].encode() in page.body and "好买家".encode() in page.body
    photo_path = page.body.split(b'<img class="thumb" src="')[1].split(b'"')[0].decode()
    assert (await api.fetch("GET", photo_path.replace("&amp;", "&"))).status == 200
    # uphold, the seller at fault: a confirmation step, a reason required
    ask = await s.post("/admin/disputes/%d/uphold" % did, {"fault": "seller"})
    assert ask.status == 200 and b'name="confirm"' in ask.body
    assert b"Uphold this dispute?" in ask.body
    bare = await s.post("/admin/disputes/%d/uphold" % did, {"fault": "seller", "confirm": "yes"})
    assert bare.status == 400
    assert await app.run_db(lambda: Dispute.get(Dispute.id == did).state) == 0
    done = await s.post("/admin/disputes/%d/uphold" % did,
                        {"fault": "seller", "confirm": "yes", "reason": "卖家未交货"})
    assert done.status == 302 and done.headers["Location"] == "/admin/disputes?ok=upheld"
    # the seller's rating of tom is gone; tom's rating of the seller shows; no sale
    assert await public_rating(api, "sue") == {"average": 1.0, "count": 1, "sales": 0}
    assert await public_rating(api, "tom") == {"average": None, "count": 0, "sales": 0}
    after = (await state(api, t["sue"], "sue", hid))["dispute"]
    assert (after["state"], after["fault"], after["decisionReason"]) == ("upheld", "seller",
                                                                         "卖家未交货")
    audit = await app.run_db(lambda: [(a.action, a.target, a.reason, a.old_value, a.new_value)
                                      for a in AdminAction.select()])
    assert ("dispute.uphold", "dispute:%d" % did, "卖家未交货", "open", "upheld:seller") in audit
    told = "交易申诉已处理：申诉成立，责任方为卖家，卖家给出的评价已移除，这笔交易不计入成交。原因：卖家未交货"
    assert (await inbox(api, t["tom"], "tom")) == [("admin", told)]
    assert (await inbox(api, t["sue"], "sue"))[0] == ("admin", told)
    assert sorted((await sent_to(wechat, 3))[1:]) == [("sue", "TPL-DISPUTE", "uphel"),
                                                      ("tom", "TPL-DISPUTE", "uphel")]
    # decided: final (a second decision is refused on the confirmation page, a new dispute 409)
    again = await s.post("/admin/disputes/%d/dismiss" % did, {"confirm": "yes", "reason": "x"})
    assert again.status == 409
    reopen = await dispute(api, t["sue"], "sue", hid)
    assert reopen.status == 409 and reopen.json["msg"] == \
        "the dispute about this hand-over was already decided"
    assert (await s.get("/admin/disputes", status="upheld")).status == 200


@pytest.mark.gen_test(timeout=120)
async def test_dismiss_shows_the_ratings_again_and_a_late_rating_is_held_meanwhile(
        api, app, config, wechat):
    t = {o: await api.login(o) for o in ("sue", "tom")}
    await grant(api, t, "sue", "tom")
    hid = await sold(api, app, config, t)
    assert (await rate(api, t["tom"], "tom", hid, 4)).code == 200
    opened = await dispute(api, t["sue"], "sue", hid, reason="买家一直不付尾款")
    assert opened.code == 200 and opened.extend["dispute"]["openedBy"] == "seller"
    assert await inbox(api, t["tom"], "tom") != []
    # a rating made while the dispute is open is held too
    assert (await rate(api, t["sue"], "sue", hid, 2)).code == 200
    assert await public_rating(api, "tom") == {"average": None, "count": 0, "sales": 0}
    s = await admin_session(api, app)
    did = opened.extend["dispute"]["id"]
    ask = await s.post("/admin/disputes/%d/dismiss" % did, {})
    assert ask.status == 200 and b"Dismiss this dispute?" in ask.body
    done = await s.post("/admin/disputes/%d/dismiss" % did, {"confirm": "yes", "reason": "证据不足"})
    assert done.status == 302
    assert await public_rating(api, "sue") == {"average": 4.0, "count": 1, "sales": 1}
    assert await public_rating(api, "tom") == {"average": 2.0, "count": 1, "sales": 0}
    told = "交易申诉已处理：申诉不成立，双方的评价恢复显示。原因：证据不足"
    assert ("admin", told) in await inbox(api, t["tom"], "tom")
    assert await inbox(api, t["sue"], "sue") == [("admin", told)]
    assert sorted((await sent_to(wechat, 3))[1:]) == [("sue", "TPL-DISPUTE", "dismi"),
                                                      ("tom", "TPL-DISPUTE", "dismi")]
    assert (await state(api, t["tom"], "tom", hid))["dispute"]["state"] == "dismissed"


@pytest.mark.gen_test(timeout=120)
async def test_uphold_against_the_buyer_who_then_cannot_rate(api, app, config):
    t = {o: await api.login(o) for o in ("sue", "tom")}
    hid = await sold(api, app, config, t)
    assert (await rate(api, t["sue"], "sue", hid, 5, "好买家")).code == 200
    did = (await dispute(api, t["sue"], "sue", hid, reason="买家拿走东西后说没收到"))
    did = did.extend["dispute"]["id"]
    s = await admin_session(api, app)
    bad = await s.post("/admin/disputes/%d/uphold" % did, {"fault": "nobody", "confirm": "yes",
                                                           "reason": "x"})
    assert bad.status == 400
    assert (await s.post("/admin/disputes/%d/uphold" % did, {})).status == 400  # no fault named
    done = await s.post("/admin/disputes/%d/uphold" % did,
                        {"fault": "buyer", "confirm": "yes", "reason": "买家谎称未收到"})
    assert done.status == 302
    # the sale is not counted; the seller's rating of the buyer shows again
    assert await public_rating(api, "sue") == {"average": None, "count": 0, "sales": 0}
    assert await public_rating(api, "tom") == {"average": 5.0, "count": 1, "sales": 0}
    late = await rate(api, t["tom"], "tom", hid, 1)
    assert late.status == 403 and late.json["msg"] == \
        "a dispute about this hand-over was decided against you"
    assert await public_rating(api, "sue") == {"average": None, "count": 0, "sales": 0}


@pytest.mark.gen_test(timeout=120)
async def test_refusals_change_nothing(api, app, config, travel):
    t = {o: await api.login(o) for o in ("sue", "tom", "ann", "bob")}
    hid = await sold(api, app, config, t)
    gid2 = await listing(api, config, t["sue"], "sue", goodsName="书")
    await chat(api, app, "ann", t["ann"], "sue")
    proposed = (await mark(api, t["sue"], "sue", gid2, "ann")).extend["handover"]["id"]
    mine = await chat_picture(api, t["tom"], "tom")
    anns = await chat_picture(api, t["ann"], "ann")
    await app.content.check_text("tom", 2, "warm up")  # the server token is stored once
    before = await app.run_db(snapshot)
    cases = [
        (await dispute(api, t["ann"], "ann", hid), 403),                # not a party
        (await dispute(api, t["ann"], "tom", hid), 403),                # naming another
        (await dispute(api, None, "tom", hid), 401),
        (await dispute(api, t["tom"], "tom", 99999), 404),
        (await dispute(api, t["ann"], "ann", proposed), 403),           # not confirmed yet
        (await dispute(api, t["tom"], "tom", "x"), 400),
        (await dispute(api, t["tom"], "tom", "1e3"), 400),
        (await dispute(api, t["tom"], "tom", -0), 400),
        (await dispute(api, t["tom"], "tom", "²"), 400),
        (await api.post_json("/wx/handover/dispute", {"openid": "tom", "reason": "x"}, t["tom"]),
         400),                                                          # no hid
        (await dispute(api, t["tom"], "tom", hid, reason=None), 400),   # no reason
        (await dispute(api, t["tom"], "tom", hid, reason=""), 400),
        (await dispute(api, t["tom"], "tom", hid, reason="   "), 400),
        (await dispute(api, t["tom"], "tom", hid, reason="长" * 501), 400),
        (await dispute(api, t["tom"], "tom", hid, reason={"a": 1}), 400),
        (await dispute(api, t["tom"], "tom", hid, reason="RISKY 骗子"), 400),  # the check refuses
        (await dispute(api, t["tom"], "tom", hid, photos=None), 400),
        (await dispute(api, t["tom"], "tom", hid, photos="x"), 400),
        (await dispute(api, t["tom"], "tom", hid, photos=[1]), 400),
        (await dispute(api, t["tom"], "tom", hid, photos=["https://evil.example/a.png"]), 400),
        (await dispute(api, t["tom"], "tom", hid, photos=[anns["imageUrl"]]), 400),  # ann's
        (await dispute(api, t["tom"], "tom", hid, photos=[mine["name"]] * 7), 400),  # too many
        (await api.fetch("POST", "/wx/handover/dispute", body=b"[]", token=t["tom"]), 400),
        (await api.get("/wx/handover/dispute", t["ann"], openid="ann", hid=hid), 403),
        (await api.get("/wx/handover/dispute", t["tom"], openid="tom"), 400),
        (await api.get("/wx/handover/dispute", t["tom"], openid="tom", hid=99999), 404),
    ]
    for reply, status in cases:
        assert reply.status == status and reply.code == 100, (status, reply)
    assert await app.run_db(snapshot) == before
    # too late: trade.dispute_days (7) after the confirmation
    travel(days=7, minutes=1)
    late = await dispute(api, t["tom"], "tom", hid)
    assert late.status == 403 and late.json["msg"] == \
        "disputes can be opened only within 7 days of the hand-over"
    assert (await state(api, t["tom"], "tom", hid))["canOpen"] is False
    travel(days=6, hours=23)
    assert (await state(api, t["tom"], "tom", hid))["canOpen"] is True
    assert await app.run_db(snapshot) == before
    # a blocked party; a deleted account's token
    await set_user_state(app, "tom", 10)
    blocked = await dispute(api, t["tom"], "tom", hid)
    assert blocked.status == 403 and blocked.json["msg"] == "this account is blocked"
    await set_user_state(app, "tom", 0)
    assert (await delete(api, t["tom"])).code == 200
    gone = await dispute(api, t["tom"], "tom", hid)
    assert gone.status == 401 and gone.code == 100
    assert await app.run_db(lambda: Dispute.select().count()) == 0
    # the seller may still open it after the buyer deleted their account; then it is open: 409
    assert (await dispute(api, t["sue"], "sue", hid)).code == 200
    twice = await dispute(api, t["sue"], "sue", hid, reason="再说一次")
    assert twice.status == 409 and twice.json["msg"] == \
        "a dispute about this hand-over is already open"


@pytest.mark.gen_test(timeout=120)
async def test_twenty_parallel_opens_store_one(api, app, config):
    t = {o: await api.login(o) for o in ("sue", "tom")}
    hid = await sold(api, app, config, t)
    replies = await asyncio.gather(*[dispute(api, t["sue" if i % 2 else "tom"],
                                             "sue" if i % 2 else "tom", hid,
                                             reason="第%d次" % i) for i in range(20)])
    assert sorted(r.status for r in replies) == [200] + [409] * 19, [r.json for r in replies]
    assert all(r.code == 100 for r in replies if r.status == 409)
    assert await app.run_db(lambda: Dispute.select().count()) == 1
    opener = await app.run_db(lambda: Dispute.get().opener)
    other = "tom" if opener == "sue" else "sue"
    assert len(await inbox(api, t[other], other)) == 1
    assert await inbox(api, t[opener], opener) == []
    # the opener deletes their account: the dispute stays, under their pseudonym
    assert (await delete(api, t[opener])).code == 200
    kept = await app.run_db(lambda: Dispute.get())
    assert kept.opener.startswith("deleted-") and kept.reason.startswith("第")


@pytest.mark.gen_test(timeout=60)
async def test_admin_pages_need_a_session_and_refuse_unknown_disputes(api, app, config):
    anon = Session(api)
    for path in ("/admin/disputes", "/admin/disputes/1"):
        reply = await anon.get(path)
        assert reply.status == 302 and "/admin/login" in reply.headers["Location"]
    s = await admin_session(api, app)
    assert (await s.get("/admin/disputes/99999")).status == 404
    assert (await s.post("/admin/disputes/99999/dismiss", {})).status == 404
    assert (await s.post("/admin/disputes/1/dismiss", {}, xsrf=False)).status == 403
    assert (await s.get("/admin/disputes", status="nonsense")).status == 200
    assert (await s.get("/admin/disputes", page="-1")).status == 400


@pytest.mark.gen_test(timeout=120)
async def test_a_moderator_upholds_a_dispute_in_the_browser(api, app, config):
    """Chromium, a Chinese moderator: the queue, the dispute's page (the chat around the
    hand-over as text, the photo loaded through its signed link under the pages' CSP), then
    uphold with the seller at fault through the confirmation page."""
    t = {o: await api.login(o, wxname="名-" + o) for o in ("sue", "tom")}
    hid = await sold(api, app, config, t, goodsName="<b>台灯</b>")
    await chat(api, app, "sue", t["sue"], "tom", content="<script>alert(1)</script>先转定金")
    photo = await chat_picture(api, t["tom"], "tom")
    assert (await dispute(api, t["tom"], "tom", hid, photos=[photo["name"]])).code == 200
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    async with Browser() as b:
        page = b.page
        await sign_in(page, api.base)
        await page.wait_for_url("**/admin/review")
        await page.goto(api.base + "/admin/disputes")
        assert "对方收款后没有交货" in await page.inner_text("main")
        await page.click("main table a[href^='/admin/disputes/']")
        await page.wait_for_url("**/admin/disputes/*")
        main = await page.inner_text("main")
        assert "<script>alert(1)</script>先转定金" in main and "<b>台灯</b>" in main
        assert await page.eval_on_selector("img.thumb", "i => i.complete && i.naturalWidth") == 64
        await page.click("button:has-text('申诉成立：卖家责任')")
        assert "判定申诉成立？" in await page.inner_text("main")
        await page.fill("textarea[name=reason]", "卖家要求先付定金")
        await page.click("button[name=confirm]")
        await page.wait_for_url("**/admin/disputes?ok=upheld")
        assert "已判定申诉成立" in await page.inner_text("main")
        assert b.dialogs == []
    assert (await state(api, t["tom"], "tom", hid))["dispute"]["fault"] == "seller"
