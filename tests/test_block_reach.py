"""A block reaches everything the blocker reads (issue 23, items 6 and 7), on both databases:
the lists leave the blocked owners out in their query, so a page of N with blocked owners
interleaved is still full (and an empty page is truly the end); the inbox shows no notice naming
someone the reader blocks (price drops, want-to-buy matches, comments), and none is created."""
import pytest

from models.comment import Notice
from models.rating import Rating
from tests.chat_helpers import users
from tests.test_comments import comment
from tests.test_goods import approve, listed, publish, roomy_limits  # noqa: F401
from tests.test_wanted import approved_listing, posted, sent_to

PAGE = 4


@pytest.fixture
def settings_env(settings_env):
    settings_env.update(MARKET_GOODS_PAGE_SIZE=str(PAGE), MARKET_LOCALE_DEFAULT="en_US",
                        MARKET_LIMITS_PER_MINUTE_ADDRESS="100000",
                        MARKET_WANTED_PER_MINUTE_USER="1000", MARKET_WANTED_PAGE_SIZE="2",
                        MARKET_MODERATION_ENABLED="true", MARKET_NOTIFY_ENABLED="true",
                        MARKET_NOTIFY_WANTED_TEMPLATE="TPL-WANTED",
                        MARKET_NOTIFY_PRICE_TEMPLATE="TPL-PRICE")
    return settings_env


async def block(api, token, other):
    reply = await api.post_json("/wx/user/block", {"openid": other}, token)
    assert reply.code == 200, reply


async def pages(api, token, path, **params):
    """Every page of a list call until code 100: [[gid, …], …]."""
    out = []
    for page in range(20):
        reply = await api.get(path, token, pageNum=page, **params)
        if reply.code == 100:
            return out
        out.append([i["gid"] for i in listed(reply)])
    raise AssertionError("no end of the list")


# -- item 7: the block is in the query, every page is full --------------------------------------
@pytest.mark.gen_test(timeout=120)
async def test_pages_with_blocked_owners_interleaved_are_full(api, app):
    t = await users(api, "alice", "bob", "carol")
    carol = []
    for i in range(2 * PAGE + 1):  # bob, carol, bob, carol, …: every other listing is bob's
        await approve(app, await publish(api, t["bob"], "bob", goodsName="台灯",
                                         goodsTitle="台灯%d" % i, goodsPriceNew="0",
                                         goodsPriceOld="0"))
        gid = await publish(api, t["carol"], "carol", goodsName="台灯", goodsTitle="台灯%d" % i,
                            goodsPriceNew="0", goodsPriceOld="0")
        await approve(app, gid)
        carol.append(gid)
    await block(api, t["alice"], "bob")
    newest = sorted(carol, reverse=True)
    full = [newest[:PAGE], newest[PAGE:2 * PAGE], newest[2 * PAGE:]]
    for path, params in (("/wx/goods/getSimpleGoods", {"state": 1}),  # the prepared statement
                         ("/wx/goods/getSimpleGoods", {"state": 1, "sort": "newest",
                                                       "priceMax": "0"}),  # with filters
                         ("/wx/goods/getSimFrGoods", {}),
                         ("/wx/goods/query", {"flag": "台灯"}),  # the bounded plan
                         ("/wx/goods/query", {"flag": "台灯", "priceMax": "0"})):  # the full plan
        found = await pages(api, t["alice"], path, **params)
        if path == "/wx/goods/query":  # relevance order: the same listings, pages still full
            assert [len(p) for p in found] == [PAGE, PAGE, 1], (path, params, found)
            assert sorted(sum(found, [])) == sorted(carol), (path, params, found)
        else:
            assert found == full, (path, params, found)
    # bob's own page is empty for alice: code 100 at once (the end), not an empty code 200
    assert await pages(api, t["alice"], "/wx/goods/getAllSimpleGoods", openid="bob") == []
    # favourites: the list leaves bob's out, the gids keep them (the phone's resync)
    both = [carol[0], carol[0] - 1]
    assert (await api.post_json("/wx/user/addGoodsToCar", {"openid": "alice", "gid": both},
                                t["alice"])).code == 200
    fav = await api.get("/wx/user/getMyCarSimpleInfo", t["alice"], openid="alice")
    assert [i["gid"] for i in fav.extend.values()] == [carol[0]]
    gids = await api.get("/wx/user/getFavorites", t["alice"], openid="alice")
    assert sorted(gids.extend["favorites"]) == sorted(both)
    # the want-to-buy board: bob's posts out of alice's pages, which stay full
    for i in range(3):
        for who in ("bob", "carol"):
            await posted(api, t[who], who, "台灯%d" % i)
    board = await api.get("/wx/wanted/list", t["alice"], pageNum=0)
    assert [p["openid"] for p in board.extend["wanted"]] == ["carol", "carol"], board
    # anyone else still sees everything
    assert sum(len(p) for p in await pages(api, t["carol"], "/wx/goods/getSimFrGoods")) == \
        2 * len(carol)


# -- item 6: the block reaches the inbox --------------------------------------------------------
async def inbox(api, token, openid, kind):
    reply = await api.get("/wx/lt/getNoticeInfo", token, openid=openid, type=kind)
    assert reply.code == 200, reply
    return [(n["openid"], n["gid"]) for n in reply.extend["info"]]


@pytest.mark.gen_test(timeout=120)
async def test_no_notice_naming_a_blocked_user_reaches_the_blocker(api, app, config, wechat):
    t = await users(api, "alice", "bob", "carol")
    # a notice from bob before the block: shown, then hidden once alice blocks him
    gid = await approved_listing(api, config, t["bob"], "bob", goodsName="台灯",
                                 goodsPriceNew="100")
    for who in ("alice", "carol"):
        await api.post_json("/wx/user/addGoodsToCar", {"openid": who, "gid": [gid]}, t[who])
        await api.post_json("/wx/notify/subscribe", {"openid": who, "templateIds": [
            "TPL-PRICE", "TPL-WANTED"]}, t[who])
    mine = await approved_listing(api, config, t["alice"], "alice", goodsName="书包")
    assert (await comment(api, t["bob"], "bob", mine, "还在吗")).code == 200
    assert await inbox(api, t["alice"], "alice", 0) == [("bob", mine)]
    await block(api, t["alice"], "bob")
    assert await inbox(api, t["alice"], "alice", 0) == []  # hidden at read time
    # after the block: bob's price drop, a listing of his matching alice's post, his comment
    for who in ("alice", "carol"):
        await posted(api, t[who], who, "台灯")
    assert (await api.post_json("/wx/goods/edit", {"gid": gid, "goodsPriceNew": "80"},
                                t["bob"])).code == 200
    match = await approved_listing(api, config, t["bob"], "bob", goodsName="台灯 护眼")
    assert (await comment(api, t["bob"], "bob", mine, "便宜点")).code == 200
    assert await inbox(api, t["alice"], "alice", 3) == []
    assert await inbox(api, t["alice"], "alice", 4) == []
    assert await inbox(api, t["alice"], "alice", 0) == []
    assert await inbox(api, t["carol"], "carol", 3) == [("bob", gid)]  # carol blocks nobody
    assert await inbox(api, t["carol"], "carol", 4) == [("bob", match)]
    # and none was created for alice, nor a subscribe message sent to her
    created = await app.run_db(lambda: sorted(
        (n.type, n.gid) for n in Notice.select().where(Notice.openid == "alice")))
    assert created == [(0, mine)]  # the comment from before the block only
    sent = await sent_to(wechat, 2, seconds=10)
    assert sorted(to for to, _ in sent) == ["carol", "carol"], sent
    # a profile's ratings: the page leaves out bob's, the figures count every rating
    await app.run_db(lambda: [Rating.create(handover_id=i, rater=who, ratee="carol", score=s)
                              for i, (who, s) in enumerate((("bob", 1), ("alice", 5)))])
    seen = (await api.get("/wx/rating/list", t["alice"], openid="carol")).extend
    assert [r["rater"] for r in seen["ratings"]] == ["alice"] and seen["summary"]["count"] == 2
    seen = (await api.get("/wx/rating/list", t["carol"], openid="carol")).extend
    assert [r["rater"] for r in seen["ratings"]] == ["alice", "bob"]
    # unblocking shows what was there before the block again
    assert (await api.post_json("/wx/user/unblock", {"openid": "bob"}, t["alice"])).code == 200
    assert await inbox(api, t["alice"], "alice", 0) == [("bob", mine)]
