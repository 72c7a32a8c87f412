"""A listing's life (issue 18) over real HTTP on both databases: edit and re-review, reserved /
sold / relist in every list, expiry and the "still selling?" reminder with a controllable clock,
renewal, price-drop notices, ownership and bad-input refusals, the admin listings page."""
import asyncio
import datetime

import pytest

from actions.listings import do_sweep
from models.comment import Notice
from models.goods import Goods, Image
from services import admin_accounts, clock
from tests.test_admin_pages import PASSWORD, Session
from tests.test_goods import ITEM_KEYS, approve, listed, publish, roomy_limits  # noqa: F401


@pytest.fixture
def settings_env(settings_env):
    settings_env.update(MARKET_MODERATION_ENABLED="true", MARKET_NOTIFY_ENABLED="true",
                        MARKET_NOTIFY_LISTING_TEMPLATE="TPL-LIST",
                        MARKET_NOTIFY_PRICE_TEMPLATE="TPL-PRICE",
                        MARKET_GOODS_SWEEP_SECONDS="3600")  # tests sweep by hand
    return settings_env


@pytest.fixture(autouse=True)
def clock_reset():
    yield
    clock.travel()


def row(app, gid):
    """The listing's columns as a dict (to prove a refusal changed nothing)."""
    return app.run_db(lambda: Goods.select().where(Goods.gid == gid).dicts().get())


async def listed_gids(api, path, **params):
    reply = await api.get(path, **params)
    return [] if reply.code == 100 else [i["gid"] for i in listed(reply)]


async def grant(api, token, openid, template):
    reply = await api.post_json("/wx/notify/subscribe", {"openid": openid,
                                                         "templateIds": [template]}, token)
    assert reply.code == 200, reply


async def sent_to(wechat, template, count, wait=2.0):
    """The subscribe messages of `template` once `count` are there (or after `wait` s)."""
    for _ in range(int(wait / 0.05)):
        found = [m for m in wechat.sent if m["template_id"] == template]
        if len(found) >= count:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)  # and no more than that
    return [m for m in wechat.sent if m["template_id"] == template]


async def notices(api, token, openid, kind):
    reply = await api.get("/wx/lt/getNoticeInfo", token, openid=openid, type=kind)
    assert reply.code == 200, reply
    return reply.extend["info"]


# -- edit --------------------------------------------------------------------------------------
@pytest.mark.gen_test(timeout=60)
async def test_edit_price_only_stays_approved_text_and_photo_go_back_to_review(api, app, wechat):
    token = await api.login("sam")
    gid = await publish(api, token, "sam", goodsName="台灯", goodsTitle="宿舍台灯")
    await approve(app, gid)
    photo = await app.run_db(lambda: Image.create(openid="sam", gid=gid, url="p1.jpg").id)
    await app.run_db(lambda: Image.create(openid="sam", gid=gid, url="p2.jpg").id)
    checks = len(wechat.text_checks)
    price = await api.post_json("/wx/goods/edit", {"gid": gid, "goodsPriceNew": "9.90"}, token)
    assert price.code == 200 and price.extend["goodInfo"]["review"] is False, price
    assert price.extend["goodInfo"]["state"] == 1 and len(wechat.text_checks) == checks
    assert gid in await listed_gids(api, "/wx/goods/getSimpleGoods", state=1)
    detail = (await api.get("/wx/goods/getDeGoodfwl", gid=gid)).extend["goodInfo"]
    assert detail["goodsPriceNew"] == 9.9 and detail["saleState"] == 0
    assert gid in await listed_gids(api, "/wx/goods/query", flag="台灯")
    # a place change is a text change: back to review, but WeChat's check reads name/title/dec
    place = await api.post_json("/wx/goods/edit", {"gid": gid, "goodsAddress": "西区"}, token)
    assert place.extend["goodInfo"]["review"] is True and (await row(app, gid))["state"] == 0
    assert len(wechat.text_checks) == checks
    assert gid not in await listed_gids(api, "/wx/goods/getSimpleGoods", state=1)
    assert gid not in await listed_gids(api, "/wx/goods/query", flag="台灯")
    await approve(app, gid)
    # a risky title is refused and changes nothing
    before = await row(app, gid)
    risky = await api.post_json("/wx/goods/edit", {"gid": gid, "goodsTitle": "RISKY 台灯"}, token)
    assert risky.status == 400 and risky.code == 100 and await row(app, gid) == before
    # a title WeChat is unsure of: stored, pending, held for a moderator
    title = await api.post_json("/wx/goods/edit", {"gid": gid, "goodsTitle": "REVIEW 台灯"}, token)
    stored = await row(app, gid)
    assert title.code == 200 and stored["state"] == 0 and stored["goods_title"] == "REVIEW 台灯"
    assert "review" in stored["hold_reason"]
    assert "REVIEW 台灯" in wechat.text_checks[-1]["content"]
    await app.run_db(lambda: Goods.update(state=1, hold_reason="").where(Goods.gid == gid)
                     .execute())
    # a photo removed: back to review; the one kept stays
    kept = await api.post_json("/wx/goods/edit", {"gid": gid, "photos": [
        "http://host/uploads/p1.jpg"]}, token)
    assert kept.extend["goodInfo"]["review"] is True
    assert await app.run_db(lambda: [i.id for i in Image.select().where(Image.gid == gid)]) == \
        [photo]
    # the same values again: nothing changed, no review
    await approve(app, gid)
    same = await api.post_json("/wx/goods/edit", {"gid": gid, "goodsTitle": "REVIEW 台灯",
                                                  "goodsPriceNew": 9.9}, token)
    assert same.extend["goodInfo"]["review"] is False and (await row(app, gid))["state"] == 1


# -- reserved, sold, relist ----------------------------------------------------------------------
@pytest.mark.gen_test(timeout=60)
async def test_reserved_and_sold_leave_public_lists_and_search_stay_readable(api, app):
    sam, ben = await api.login("sam"), await api.login("ben")
    gid = await publish(api, sam, "sam", goodsName="免费书架", goodsPriceNew=0, goodsPriceOld=0)
    other = await publish(api, sam, "sam", goodsName="椅子")
    await approve(app, gid, other)
    saved = await api.post_json("/wx/user/addGoodsToCar", {"openid": "ben", "gid": [gid]}, ben)
    assert saved.extend["favorites"] == [gid]
    lists = [("/wx/goods/getSimpleGoods", {"state": 1}),
             ("/wx/goods/getSimpleGoods", {"state": 1, "goodsXueyuan": "计算机学院"}),
             ("/wx/goods/getSimFrGoods", {}),
             ("/wx/goods/query", {"flag": "书架"}),
             ("/wx/goods/query", {"flag": "书架", "sort": "newest"}),
             ("/wx/goods/getAllSimpleGoods", {"openid": "sam"})]

    async def check(sale_state):
        public = sale_state == 0
        for path, params in lists:
            assert (gid in await listed_gids(api, path, **params)) == public, (path, sale_state)
        info = (await api.get("/wx/goods/getDeGoodfwl", gid=gid)).extend["goodInfo"]
        assert info["saleState"] == sale_state and info["state"] == 1
        favs = await api.get("/wx/user/getMyCarSimpleInfo", ben, openid="ben")
        assert [(i["gid"], i["saleState"]) for i in favs.extend.values()] == [(gid, sale_state)]
        assert (await api.get("/wx/user/getFavorites", ben, openid="ben")).extend[
            "favorites"] == [gid]
        for path in ("/wx/goods/getMyIssGoods", "/wx/goods/getMyCheckSimGoods"):
            mine = listed(await api.get(path, sam, openid="sam"))
            assert {i["gid"]: i["saleState"] for i in mine}[gid] == sale_state
        comments = await api.get("/wx/pl/getAllComments", gid=gid, openid="ben")
        assert comments.status == 200 and isinstance(comments.json, list)
        # the other listing is untouched
        assert other in await listed_gids(api, "/wx/goods/getSimpleGoods", state=1)

    await check(0)
    for state in (1, 2, 0, 2, 1, 0):  # reserved, sold, relist, sold, reserved, on sale
        reply = await api.post_json("/wx/goods/state", {"gid": str(gid), "saleState": state}, sam)
        assert reply.code == 200 and reply.extend["goodInfo"]["saleState"] == state, reply
        await check(state)
    # the phone's resync keeps a sold favourite
    await api.post_json("/wx/goods/state", {"gid": gid, "saleState": 2}, sam)
    again = await api.post_json("/wx/user/addGoodsToCar", {"openid": "ben", "gid": [gid]}, ben)
    assert again.extend["favorites"] == [gid]


@pytest.mark.gen_test(timeout=30)
async def test_mark_sold_for_other_rules(api, app):
    from services import listings
    sam = await api.login("sam")
    gid = await publish(api, sam, "sam")
    await approve(app, gid)
    with pytest.raises(listings.Forbidden):
        await app.run_db(listings.mark_sold, gid, "ben")
    assert (await app.run_db(listings.mark_sold, gid, "sam"))["saleState"] == 2
    assert gid not in await listed_gids(api, "/wx/goods/getSimpleGoods", state=1)


# -- expiry, reminders, renewal ------------------------------------------------------------------
@pytest.mark.gen_test(timeout=60)
async def test_reminder_once_then_expiry_then_renew(api, app, wechat):
    sam = await api.login("sam")
    gid = await publish(api, sam, "sam", goodsName="自行车")
    fresh = await publish(api, sam, "sam", goodsName="雨伞")
    await approve(app, gid, fresh)
    await grant(api, sam, "sam", "TPL-LIST")
    await grant(api, sam, "sam", "TPL-LIST")
    assert await app.sweeper.flush() == (0, 0)  # nothing due today
    clock.travel(days=82)
    assert await app.sweeper.flush() == (0, 0)  # 8 days left: not yet
    clock.travel(days=84)  # 6 days left: both listings due for the reminder
    assert await app.sweeper.flush() == (0, 2)
    assert await app.sweeper.flush() == (0, 0)  # once
    lines = await notices(api, sam, "sam", 2)
    assert sorted(n["gid"] for n in lines) == sorted([gid, fresh])
    assert all(n["content"] == "还在卖吗？" for n in lines)
    messages = await sent_to(wechat, "TPL-LIST", 2)
    assert len(messages) == 2 and {m["touser"] for m in messages} == {"sam"}
    # renew one: a new period
    renewed = await api.post_json("/wx/goods/renew", {"gid": fresh}, sam)
    assert renewed.code == 200 and renewed.extend["goodInfo"]["saleState"] == 0
    clock.travel(days=91)
    assert await app.sweeper.flush() == (1, 0)
    assert await app.sweeper.flush() == (0, 0)
    for path, params in [("/wx/goods/getSimpleGoods", {"state": 1}),
                         ("/wx/goods/query", {"flag": "自行车"}),
                         ("/wx/goods/getAllSimpleGoods", {"openid": "sam"})]:
        assert gid not in await listed_gids(api, path, **params), path
    assert fresh in await listed_gids(api, "/wx/goods/getSimpleGoods", state=1)
    info = (await api.get("/wx/goods/getDeGoodfwl", gid=gid)).extend["goodInfo"]
    assert info["saleState"] == 3
    mine = listed(await api.get("/wx/goods/getMyCheckSimGoods", sam, openid="sam"))
    assert {i["gid"]: i["saleState"] for i in mine} == {gid: 3, fresh: 0}
    # one tap renews: back in the lists and search; the next reminder is for the new period
    back = await api.post_json("/wx/goods/renew", {"gid": gid}, sam)
    assert back.extend["goodInfo"]["saleState"] == 0 and back.extend["goodInfo"]["expireTime"]
    assert gid in await listed_gids(api, "/wx/goods/query", flag="自行车")
    assert (await api.post_json("/wx/goods/renew", {"gid": fresh}, sam)).code == 200
    clock.travel(days=91 + 84)
    assert (await app.sweeper.flush())[1] == 2  # both again, once each
    assert len(await notices(api, sam, "sam", 2)) == 4
    assert len(await sent_to(wechat, "TPL-LIST", 3, wait=0.5)) == 2  # the grants are spent


@pytest.mark.gen_test(timeout=60)
async def test_concurrent_sweeps_remind_once_and_reserved_never_expires(api, app):
    sam = await api.login("sam")
    gids = [await publish(api, sam, "sam", goodsName="物%d" % i) for i in range(5)]
    await approve(app, *gids)
    await api.post_json("/wx/goods/state", {"gid": gids[0], "saleState": 1}, sam)
    clock.travel(days=85)
    results = await asyncio.gather(*[do_sweep(app.actions, batch=2) for _ in range(3)])
    assert sum(r[1] for r in results) == 4  # the reserved one is not reminded
    count = await app.run_db(lambda: Notice.select().where(Notice.type == 2).count())
    assert count == 4
    clock.travel(days=200)
    results = await asyncio.gather(*[do_sweep(app.actions, batch=2) for _ in range(3)])
    assert sum(r[0] for r in results) == 4
    states = await app.run_db(lambda: {g.gid: g.sale_state for g in Goods.select()})
    assert states == {gids[0]: 1, **{g: 3 for g in gids[1:]}}


# -- price drops -----------------------------------------------------------------------------------
@pytest.mark.gen_test(timeout=60)
async def test_price_drop_notifies_favouriters_not_the_seller_once_a_day(api, app, wechat):
    sam, ben, cid = [await api.login(n) for n in ("sam", "ben", "cid")]
    gid = await publish(api, sam, "sam", goodsName="耳机", goodsPriceNew="100")
    await approve(app, gid)
    for token, who in ((sam, "sam"), (ben, "ben"), (cid, "cid")):
        await api.post_json("/wx/user/addGoodsToCar", {"openid": who, "gid": [gid]}, token)
    await grant(api, ben, "ben", "TPL-PRICE")
    await grant(api, sam, "sam", "TPL-PRICE")
    up = await api.post_json("/wx/goods/edit", {"gid": gid, "goodsPriceNew": "120"}, sam)
    assert up.code == 200 and await notices(api, ben, "ben", 3) == []
    drop = await api.post_json("/wx/goods/edit", {"gid": gid, "goodsPriceNew": "80"}, sam)
    assert drop.code == 200
    for token, who in ((ben, "ben"), (cid, "cid")):
        lines = await notices(api, token, who, 3)
        assert [(n["gid"], n["openid"], n["goodsName"]) for n in lines] == [(gid, "sam", "耳机")]
        assert "80" in lines[0]["content"] and "120" in lines[0]["content"]
    assert await notices(api, sam, "sam", 3) == []
    messages = await sent_to(wechat, "TPL-PRICE", 1)
    assert [m["touser"] for m in messages] == ["ben"]
    # a second drop the same day: no more notices
    await api.post_json("/wx/goods/edit", {"gid": gid, "goodsPriceNew": "60"}, sam)
    assert len(await notices(api, ben, "ben", 3)) == 1
    # the next day it alerts again
    clock.travel(days=1)
    await grant(api, ben, "ben", "TPL-PRICE")
    await api.post_json("/wx/goods/edit", {"gid": gid, "goodsPriceNew": "50"}, sam)
    assert len(await notices(api, ben, "ben", 3)) == 2
    assert len(await notices(api, cid, "cid", 3)) == 2
    assert [m["touser"] for m in await sent_to(wechat, "TPL-PRICE", 2)] == ["ben", "ben"]
    # the published client's inbox types are untouched by these
    assert await notices(api, ben, "ben", 0) == [] and await notices(api, ben, "ben", 1) == []


# -- refusals ----------------------------------------------------------------------------------------
@pytest.mark.gen_test(timeout=60)
async def test_someone_elses_listing_is_refused_and_nothing_changes(api, app, wechat):
    sam, eve = await api.login("sam"), await api.login("eve")
    gid = await publish(api, sam, "sam")
    await approve(app, gid)
    before, checks = await row(app, gid), len(wechat.text_checks)
    calls = [("/wx/goods/edit", {"gid": gid, "goodsTitle": "mine now", "goodsPriceNew": 1}),
             ("/wx/goods/edit", {"gid": gid, "goodsPriceNew": 1}),
             ("/wx/goods/state", {"gid": gid, "saleState": 2}),
             ("/wx/goods/renew", {"gid": gid})]
    for path, body in calls:
        reply = await api.post_json(path, body, eve)
        assert reply.status == 403 and reply.code == 100, (path, reply)
        spoofed = await api.post_json(path, dict(body, openid="sam"), eve)
        assert spoofed.status == 403 and spoofed.code == 100, (path, spoofed)
        anonymous = await api.post_json(path, dict(body, openid="sam"))
        assert anonymous.status == 401 and anonymous.code == 100, (path, anonymous)
        missing = await api.post_json(path, dict(body, gid=999999), sam)
        assert missing.status == 404 and missing.code == 100, (path, missing)
    assert await row(app, gid) == before and len(wechat.text_checks) == checks
    assert await app.run_db(lambda: Notice.select().count()) == 0


@pytest.mark.gen_test(timeout=60)
async def test_bad_input_is_refused_and_changes_nothing(api, app):
    sam = await api.login("sam")
    gid = await publish(api, sam, "sam")
    await approve(app, gid)
    before = await row(app, gid)
    bad = [("/wx/goods/edit", {"goodsTitle": "x"}),                   # no gid
           ("/wx/goods/edit", {"gid": "abc", "goodsTitle": "x"}),
           ("/wx/goods/edit", {"gid": gid}),                          # nothing to change
           ("/wx/goods/edit", {"gid": gid, "goodsName": None}),       # null is not empty
           ("/wx/goods/edit", {"gid": gid, "goodsAddress": None}),
           ("/wx/goods/edit", {"gid": gid, "goodsName": ""}),
           ("/wx/goods/edit", {"gid": gid, "goodsName": "  "}),
           ("/wx/goods/edit", {"gid": gid, "goodsTitle": "x" * 201}),
           ("/wx/goods/edit", {"gid": gid, "goodsPriceNew": "-1"}),
           ("/wx/goods/edit", {"gid": gid, "goodsPriceNew": None}),
           ("/wx/goods/edit", {"gid": gid, "goodsPriceOld": "1.234"}),
           ("/wx/goods/edit", {"gid": gid, "goodsPriceNew": 1, "goodsTitle": ["x"]}),
           ("/wx/goods/edit", {"gid": gid, "photos": "p1.jpg"}),
           ("/wx/goods/edit", {"gid": gid, "photos": None}),
           ("/wx/goods/edit", {"gid": gid, "photos": ["not-mine.jpg"]}),
           ("/wx/goods/state", {"gid": gid}),                         # saleState missing
           ("/wx/goods/state", {"gid": gid, "saleState": None}),
           ("/wx/goods/state", {"gid": gid, "saleState": 3}),         # expired is the sweep's
           ("/wx/goods/state", {"gid": gid, "saleState": "sold"}),
           ("/wx/goods/state", {"saleState": 1}),
           ("/wx/goods/renew", {}),
           ("/wx/goods/renew", {"gid": 0})]
    for path, body in bad:
        reply = await api.post_json(path, dict(body, openid="sam"), sam)
        assert reply.status == 400 and reply.code == 100 and reply.json["msg"], (body, reply)
    for raw in (b"", b"[1]", b"{bad", b'{"gid": "\\ud800"}'):
        reply = await api.fetch("POST", "/wx/goods/edit", token=sam, body=raw,
                                headers={"Content-Type": "application/json"})
        assert reply.status == 400 and reply.code == 100, (raw, reply)
    assert await row(app, gid) == before


# -- the published client ----------------------------------------------------------------------
@pytest.mark.gen_test(timeout=60)
async def test_published_client_answers_keep_their_shape(api, app):
    sam = await api.login("sam")
    gid = await publish(api, sam, "sam", goodsName="台灯")
    await approve(app, gid)
    for path, params in [("/wx/goods/getSimpleGoods", {"state": 1}),
                         ("/wx/goods/getAllSimpleGoods", {"openid": "sam"}),
                         ("/wx/goods/query", {"flag": "台灯"})]:
        assert set(listed(await api.get(path, **params))[0]) == ITEM_KEYS, path
    # the notice inbox of the published client still refuses other types it never sends
    assert (await api.get("/wx/lt/getNoticeInfo", sam, openid="sam", type=6)).status == 400  # 2-4: issue 18, 5: 25
    # the old delete still works on a sold listing
    await api.post_json("/wx/goods/state", {"gid": gid, "saleState": 2}, sam)
    assert (await api.get("/wx/user/deleteMyIssue", sam, gid=gid, openid="sam")).code == 200


# -- admin page ------------------------------------------------------------------------------------
@pytest.mark.gen_test(timeout=60)
async def test_admin_listings_page_shows_sale_state_and_expiry(api, app):
    sam = await api.login("sam")
    sold = await publish(api, sam, "sam", goodsName="卖掉的")
    on_sale = await publish(api, sam, "sam", goodsName="在售的")
    await approve(app, sold, on_sale)
    await api.post_json("/wx/goods/state", {"gid": sold, "saleState": 2}, sam)
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    s = Session(api)
    await s.sign_in()
    page = await s.get("/admin/goods")
    assert page.status == 200, page
    html = page.body.decode()
    sold_row = html[html.index('id="goods-%d"' % sold):]
    sold_row = sold_row[:sold_row.index("</li>")]
    sale_row = html[html.index('id="goods-%d"' % on_sale):]
    sale_row = sale_row[:sale_row.index("</li>")]
    # English, or Chinese once the catalogue is the default (locale/zh_CN.csv)
    assert ("sold" in sold_row or "已售出" in sold_row) and "expires" not in sold_row \
        and "到期" not in sold_row
    assert ("on sale" in sale_row or "在售" in sale_row) and \
        ("expires" in sale_row or "到期" in sale_row)
    info = await app.run_db(lambda: Goods.get_by_id(on_sale))
    assert clock.display(info.touched_at + datetime.timedelta(days=90))[:16] in sale_row


@pytest.mark.gen_test(timeout=60)
async def test_an_approval_starts_the_expiry_period(api, app, config):
    """A listing reviewed late is not reminded (or expired) at once: approving it touches it."""
    from tests.test_goods import admin_token
    sam = await api.login("sam")
    gid = await publish(api, sam, "sam")
    clock.travel(days=89)
    assert await app.sweeper.flush() == (0, 0)  # pending: neither reminded nor expired
    reply = await api.get("/wx/admin/setState", admin_token(config), gid=gid, state=1)
    assert reply.code == 200, reply
    assert await app.sweeper.flush() == (0, 0)
    assert gid in await listed_gids(api, "/wx/goods/getSimpleGoods", state=1)
    clock.travel(days=89 + 84)
    assert await app.sweeper.flush() == (0, 1)


def test_remind_days_must_be_shorter_than_expire_days(tmp_path):
    from settings import ConfigError, load_config
    assert load_config(None, environ={}, base_dir=str(tmp_path))["goods"]["expire_days"] == 90
    with pytest.raises(ConfigError, match="remind_days"):
        load_config(None, environ={"MARKET_GOODS_REMIND_DAYS": "90"}, base_dir=str(tmp_path))


@pytest.mark.gen_test(timeout=60)
async def test_a_sold_listing_stays_readable_in_chats_and_reports(api, app):
    """A chat's goods card carries the listing's saleState; a sold listing can still be
    reported."""
    from tests.chat_helpers import read, send
    from tests.test_chat_media import acked
    ann, sam = await api.login("ann"), await api.login("sam")
    gid = await publish(api, sam, "sam", goodsTitle="山地车")
    await approve(app, gid)
    assert (await api.post_json("/wx/goods/state", {"gid": gid, "saleState": 2}, sam)).code == 200
    a = await api.ws("ann", "sam", ann, query={"v": "2"})
    b = await api.ws("sam", "ann", sam, query={"v": "2"})
    await send(a, toOpenid="sam", type="goods", content=str(gid), msgId="g-1")
    assert (await acked(a))["status"] == "delivered"
    card = (await read(b))["goods"]
    assert card["available"] and card["title"] == "山地车" and card["saleState"] == 2
    a.close()
    b.close()
    report = await api.post_json("/wx/report", {"openid": "ann", "targetType": "goods",
                                                "targetId": str(gid), "reason": "spam"}, ann)
    assert report.code == 200, report
