"""Hand-overs and ratings over real HTTP and a real chat socket, both databases: only a buyer the
seller chatted with, only after the buyer confirmed, once each way; averages, counts and sales
on the profiles; content-check holds; reports and removal; ownership refusals; bad input; the
admin page and its figures."""
import asyncio

import pytest

from models.chat import ChatMessage
from services import admin_accounts
from tests.chat_helpers import send
from tests.security_helpers import snapshot
from tests.test_admin_pages import PASSWORD, Session
from tests.test_goods import goods_body, set_user_state
from tests.test_wanted import admin


@pytest.fixture
def settings_env(settings_env):
    settings_env.update(MARKET_LIMITS_PUBLISH_PER_MINUTE_USER="1000",
                        MARKET_LIMITS_PER_MINUTE_ADDRESS="100000",
                        MARKET_RATINGS_PER_MINUTE_USER="1000", MARKET_MODERATION_ENABLED="true",
                        MARKET_LOCALE_DEFAULT="en_US")  # English texts are read here
    return settings_env


async def listing(api, config, token, seller, **fields):
    reply = await api.post_json("/wx/goods/goodsIssue", goods_body(seller, **fields), token)
    gid = reply.extend["gid"]
    assert (await api.get("/wx/admin/setState", admin(config), gid=gid, state=1)).code == 200
    return gid


async def chat(api, app, sender, token, peer, content="还在吗"):
    """One chat message from sender to peer, stored by the server (issue 16)."""
    ws = await api.ws(sender, peer, token)
    before = await app.run_db(lambda: ChatMessage.select().count())
    await send(ws, fromOpenid=sender, toOpenid=peer, content=content)
    for _ in range(100):
        if await app.run_db(lambda: ChatMessage.select().count()) > before:
            break
        await asyncio.sleep(0.05)
    ws.close()
    assert await app.run_db(lambda: ChatMessage.select().count()) > before
    await asyncio.sleep(0.1)
    await app.list_writer.flush()  # the conversation list's change is written now, not later


async def mark(api, token, seller, gid, buyer):
    return await api.post_json("/wx/handover", {"openid": seller, "gid": gid, "buyer": buyer},
                               token)


async def confirm(api, token, buyer, hid):
    return await api.post_json("/wx/handover/confirm", {"openid": buyer, "id": hid}, token)


async def rate(api, token, rater, hid, score, text=None):
    body = {"openid": rater, "handoverId": hid, "score": score}
    if text is not None:
        body["text"] = text
    return await api.post_json("/wx/rating", body, token)


async def profile(api, token, openid):
    reply = await api.get("/wx/user/getUserDeInfo", token, openid=openid)
    assert reply.code == 200, reply
    return reply.extend


async def public_rating(api, openid):
    reply = await api.get("/wx/admin/getDeUserAndImage", openid=openid)
    assert reply.code == 200, reply
    return reply.extend["uimage"]["rating"]


async def sale_state(api, gid):
    return (await api.get("/wx/goods/getDeGoodfwl", gid=gid)).extend["goodInfo"]["saleState"]


@pytest.mark.gen_test(timeout=90)
async def test_hand_over_then_one_rating_each_way_shows_on_profiles(api, app, config):
    t = {o: await api.login(o, wxname="名-" + o) for o in ("sue", "tom", "ann")}
    gid = await listing(api, config, t["sue"], "sue")
    assert await public_rating(api, "sue") == {"average": None, "count": 0, "sales": 0}
    # never chatted: refused; after tom's message: proposed
    never = await mark(api, t["sue"], "sue", gid, "tom")
    assert never.status == 400 and never.json["msg"] == "you have not chatted with this user"
    await chat(api, app, "tom", t["tom"], "sue")
    proposed = await mark(api, t["sue"], "sue", gid, "tom")
    assert proposed.code == 200, proposed
    hid = proposed.extend["handover"]["id"]
    assert await sale_state(api, gid) == 1  # reserved while tom confirms: out of the lists
    # no rating before the buyer confirms, by either side
    for who in ("sue", "tom"):
        early = await rate(api, t[who], who, hid, 5)
        assert early.status == 403 and "not confirmed" in early.json["msg"], early
    # only the buyer confirms
    assert (await confirm(api, t["sue"], "sue", hid)).status == 403
    assert (await confirm(api, t["ann"], "ann", hid)).status == 403
    done = await confirm(api, t["tom"], "tom", hid)
    assert done.code == 200 and done.extend["handover"] == {"id": hid, "gid": gid, "seller": "sue",
                                                            "buyer": "tom"}
    assert (await confirm(api, t["tom"], "tom", hid)).code == 200      # again: nothing changes
    assert await sale_state(api, gid) == 2  # sold (issue 18's listing life)
    found = await api.get("/wx/goods/getSimpleGoods", state=1)
    assert gid not in [g["gid"] for g in (found.extend or {}).values()]
    again = await mark(api, t["sue"], "sue", gid, "tom")
    assert again.status == 409
    mine = (await api.get("/wx/handover/mine", t["tom"], openid="tom")).extend["handovers"]
    assert [(h["id"], h["role"], h["state"], h["canRate"], h["peerName"]) for h in mine] == [
        (hid, "buyer", "confirmed", True, "名-sue")]
    # once each way; a stranger not at all
    assert (await rate(api, t["tom"], "tom", hid, 5, "很靠谱")).code == 200
    twice = await rate(api, t["tom"], "tom", hid, 1)
    assert twice.status == 409 and twice.json["msg"] == "you already rated this hand-over"
    assert (await rate(api, t["sue"], "sue", hid, "4")).code == 200
    assert (await rate(api, t["sue"], "sue", hid, 4)).status == 409
    assert (await rate(api, t["ann"], "ann", hid, 1)).status == 403
    mine = (await api.get("/wx/handover/mine", t["tom"], openid="tom")).extend["handovers"]
    assert mine[0]["canRate"] is False
    # the profiles: getUserDeInfo (own) keeps userDe as it was and adds rating; the public one
    sue = await profile(api, t["sue"], "sue")
    assert set(sue["userDe"]) == {"school", "xuehao", "uclass"}
    assert sue["rating"] == {"average": 5.0, "count": 1, "sales": 1}
    assert await public_rating(api, "tom") == {"average": 4.0, "count": 1, "sales": 0}
    # a second sale to ann (after a chat), rated 2: the average is of both
    gid2 = await listing(api, config, t["sue"], "sue", goodsName="台灯")
    await chat(api, app, "sue", t["sue"], "ann")
    hid2 = (await mark(api, t["sue"], "sue", gid2, "ann")).extend["handover"]["id"]
    await confirm(api, t["ann"], "ann", hid2)
    await rate(api, t["ann"], "ann", hid2, 2)
    assert await public_rating(api, "sue") == {"average": 3.5, "count": 2, "sales": 2}
    listed = await api.get("/wx/rating/list", openid="sue")
    assert listed.code == 200 and listed.extend["summary"]["count"] == 2
    assert [(r["score"], r["text"], r["rater"], r["raterName"]) for r in listed.extend["ratings"]] \
        == [(2, "", "ann", "名-ann"), (5, "很靠谱", "tom", "名-tom")]


@pytest.mark.gen_test(timeout=90)
async def test_proposal_can_name_another_buyer_until_confirmed(api, app, config):
    t = {o: await api.login(o) for o in ("sue", "tom", "ann")}
    gid = await listing(api, config, t["sue"], "sue")
    await chat(api, app, "tom", t["tom"], "sue")
    await chat(api, app, "ann", t["ann"], "sue")
    hid = (await mark(api, t["sue"], "sue", gid, "tom")).extend["handover"]["id"]
    assert (await mark(api, t["sue"], "sue", gid, "ann")).extend["handover"]["id"] == hid
    assert (await confirm(api, t["tom"], "tom", hid)).status == 403  # no longer the buyer
    assert (await confirm(api, t["ann"], "ann", hid)).code == 200


@pytest.mark.gen_test(timeout=90)
async def test_refusals_and_bad_input_change_nothing(api, app, config):
    t = {o: await api.login(o) for o in ("sue", "tom", "ann")}
    gid = await listing(api, config, t["sue"], "sue")
    other = await listing(api, config, t["ann"], "ann")
    await chat(api, app, "tom", t["tom"], "sue")
    hid = (await mark(api, t["sue"], "sue", gid, "tom")).extend["handover"]["id"]
    await app.content.check_text("tom", 2, "warm up")  # the server token is stored once
    before = await app.run_db(snapshot)
    cases = [
        (await mark(api, t["sue"], "sue", other, "tom"), 403),          # not her listing
        (await mark(api, t["sue"], "sue", 99999, "tom"), 404),
        (await mark(api, t["sue"], "sue", gid, "sue"), 400),            # herself
        (await mark(api, t["sue"], "sue", gid, "ghost"), 404),
        (await mark(api, t["sue"], "sue", gid, "bad id!"), 400),
        (await mark(api, t["sue"], "sue", "x", "tom"), 400),
        (await api.post_json("/wx/handover", {"openid": "sue", "gid": gid}, t["sue"]), 400),
        (await api.post_json("/wx/handover", {"openid": "sue", "buyer": "tom"}, t["sue"]), 400),
        (await mark(api, t["tom"], "sue", gid, "tom"), 403),            # naming another
        (await mark(api, None, "sue", gid, "tom"), 401),
        (await confirm(api, t["tom"], "tom", 99999), 404),
        (await confirm(api, t["tom"], "tom", "x"), 400),
        (await api.post_json("/wx/handover/confirm", {"openid": "tom"}, t["tom"]), 400),
        (await confirm(api, t["ann"], "tom", hid), 403),
        (await rate(api, t["tom"], "tom", hid, 5), 403),                # not confirmed yet
        (await api.get("/wx/handover/mine", t["tom"], openid="sue"), 403),
        (await api.get("/wx/rating/list"), 400),
        (await api.get("/wx/rating/list", openid="bad id!"), 400),
        (await api.fetch("POST", "/wx/handover", body=b"[]", token=t["sue"]), 400),
    ]
    for reply, status in cases:
        assert reply.status == status and reply.code == 100, (status, reply)
    assert await app.run_db(snapshot) == before
    await confirm(api, t["tom"], "tom", hid)
    before, cases = await app.run_db(snapshot), []
    for score in (0, 6, "x", "", None, 3.5, True, [5]):
        cases.append((await rate(api, t["tom"], "tom", hid, score), 400))
    cases += [
        (await rate(api, t["tom"], "tom", hid, 5, "长" * 201), 400),
        (await rate(api, t["tom"], "tom", hid, 5, {"a": 1}), 400),
        (await rate(api, t["tom"], "tom", hid, 5, "RISKY 骗子"), 400),  # refused by the check
        (await api.post_json("/wx/rating", {"openid": "tom", "score": 5}, t["tom"]), 400),
        (await rate(api, t["tom"], "tom", 99999, 5), 404),
        (await rate(api, t["ann"], "ann", hid, 5), 403),                # not her hand-over
        (await rate(api, t["ann"], "tom", hid, 5), 403),                # naming another
        (await rate(api, None, "tom", hid, 5), 401),
    ]
    for reply, status in cases:
        assert reply.status == status and reply.code == 100, (status, reply)
    assert await app.run_db(snapshot) == before
    # a blocked buyer can't rate
    await set_user_state(app, "tom", 10)
    blocked = await rate(api, t["tom"], "tom", hid, 5)
    assert blocked.status == 403 and blocked.json["msg"] == "this account is blocked"


@pytest.mark.gen_test(timeout=90)
async def test_held_reported_and_removed_ratings_leave_the_profile(api, app, config):
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    t = {o: await api.login(o) for o in ("sue", "tom", "ann")}
    gid = await listing(api, config, t["sue"], "sue")
    await chat(api, app, "tom", t["tom"], "sue")
    hid = (await mark(api, t["sue"], "sue", gid, "tom")).extend["handover"]["id"]
    await confirm(api, t["tom"], "tom", hid)
    held = await rate(api, t["tom"], "tom", hid, 1, "REVIEW 不好")
    assert held.code == 200 and held.extend["rating"]["held"] is True
    assert await public_rating(api, "sue") == {"average": None, "count": 0, "sales": 1}
    rating_id = held.extend["rating"]["id"]
    s = Session(api)
    await s.sign_in()
    page = await s.get("/admin/ratings", status="held")
    assert page.status == 200 and "REVIEW 不好".encode() in page.body
    assert (await s.post("/admin/ratings/%d/release" % rating_id, {})).status == 302
    assert await public_rating(api, "sue") == {"average": 1.0, "count": 1, "sales": 1}
    # a report from anyone; the page lists it; removal closes the report
    report = await api.post_json("/wx/report", {"openid": "ann", "targetType": "rating",
                                                "targetId": str(rating_id), "reason": "不实"},
                                 t["ann"])
    assert report.code == 200, report
    missing = await api.post_json("/wx/report", {"openid": "ann", "targetType": "rating",
                                                 "targetId": "99999", "reason": "x"}, t["ann"])
    assert missing.status == 404
    page = await s.get("/admin/ratings")
    assert "不好".encode() in page.body and b"Sold per week" in page.body
    assert (await s.get("/admin/reports")).status == 200
    asked = await s.post("/admin/ratings/%d/remove" % rating_id, {"reason": "不实"})
    assert asked.status == 200 and "不实".encode() in asked.body  # confirm, the reason kept
    assert (await s.post("/admin/ratings/%d/remove" % rating_id,
                         {"reason": "不实", "confirm": "yes"})).status == 302
    assert await public_rating(api, "sue") == {"average": None, "count": 0, "sales": 1}
    assert (await api.get("/wx/rating/list", openid="sue")).extend["ratings"] == []
    assert b"no open reports" in (await s.get("/admin/reports")).body.lower() or \
        b"No open reports" in (await s.get("/admin/reports")).body
    # the reports page's own actions on a rating: dismiss
    await rate(api, t["sue"], "sue", hid, 5)
    other = (await api.get("/wx/rating/list", openid="tom")).extend["ratings"][0]["id"]
    await api.post_json("/wx/report", {"openid": "ann", "targetType": "rating",
                                       "targetId": str(other), "reason": "x"}, t["ann"])
    assert (await s.post("/admin/reports/rating/%d/dismiss" % other, {"reason": ""})).status == 302
    assert await public_rating(api, "tom") == {"average": 5.0, "count": 1, "sales": 0}
    # and the pages refuse without a session
    anon = Session(api)
    assert (await anon.get("/admin/ratings")).status == 302
    assert (await anon.get("/admin/wanted")).status == 302


def sale_tables():
    """What a hand-over's refusal must leave as it was: the listings, their search index, the
    hand-overs and ratings (not the chat's own late writes, e.g. receipts, nor the views the
    detail calls count, written a second later)."""
    state = snapshot()
    for row in state["Goods"]:
        row.pop("open_sum")
    return {k: state[k] for k in ("Goods", "GoodsSearch", "HandOver", "Rating", "AdminAction")}


@pytest.mark.gen_test(timeout=90)
async def test_a_taken_down_listing_refuses_the_confirmation_and_nothing_changes(api, app, config):
    """Issue 23: the confirmation and the listing's sale are one transaction, checks first. A
    listing a moderator took down after the hand-over was proposed refuses the buyer's
    confirmation (404), the retry too, and nothing is stored: no confirmed hand-over, no sale on
    the seller's profile, no rating."""
    t = {o: await api.login(o) for o in ("sue", "tom")}
    gid = await listing(api, config, t["sue"], "sue")
    await chat(api, app, "tom", t["tom"], "sue")
    hid = (await mark(api, t["sue"], "sue", gid, "tom")).extend["handover"]["id"]
    taken = await api.get("/wx/admin/delete", admin(config), gid=gid)
    assert taken.code == 200, taken
    before = await app.run_db(sale_tables)
    for _ in range(2):  # the retry is refused the same way
        refused = await confirm(api, t["tom"], "tom", hid)
        assert refused.status == 404 and refused.code == 100, refused
        assert (await rate(api, t["tom"], "tom", hid, 5)).status == 403
    assert await app.run_db(sale_tables) == before
    assert await public_rating(api, "sue") == {"average": None, "count": 0, "sales": 0}


@pytest.mark.gen_test(timeout=90)
async def test_proposing_a_hand_over_reserves_the_listing_in_the_same_rule(api, app, config):
    """Issue 23: the hand-over and the listing's reservation are one rule (one transaction), so
    no refusal can come between them; a taken-down listing refuses both."""
    t = {o: await api.login(o) for o in ("sue", "tom")}
    gid = await listing(api, config, t["sue"], "sue")
    await chat(api, app, "tom", t["tom"], "sue")
    from services import ratings
    await app.run_db(ratings.mark_sold, "sue", gid, "tom")
    assert await sale_state(api, gid) == 1
    gid2 = await listing(api, config, t["sue"], "sue", goodsName="台灯")
    assert (await api.get("/wx/admin/delete", admin(config), gid=gid2)).code == 200
    before = await app.run_db(sale_tables)
    refused = await mark(api, t["sue"], "sue", gid2, "tom")
    assert refused.status == 404, refused
    assert await app.run_db(sale_tables) == before
