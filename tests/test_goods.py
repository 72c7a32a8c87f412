"""Listings over real HTTP on both databases: publish, lists, detail, search, hot words, deletion."""
import asyncio
from decimal import Decimal

import pytest

from models.goods import Goods
from models.user import User
from search import index as search_index
from services import tokens

ITEM_KEYS = {"gid", "goodsName", "goodsTitle", "goodsDec", "goodsPriceNew", "goodsPriceOld",
             "homeImage"}
DETAIL_KEYS = {"gid", "goodsName", "goodsTitle", "goodsDec", "goodsPriceNew", "goodsPriceOld",
               "goodsXueyuan", "imageUrl", "imageCheckStatus", "issueTime", "openSum", "openid",
               "wxname"}


# -- helpers shared by the marketplace tests ---------------------------------------------------
@pytest.fixture(autouse=True)
def roomy_limits(settings_env):
    """Tests publish and comment more than a person would in a minute."""
    settings_env["MARKET_LIMITS_PUBLISH_PER_MINUTE_USER"] = "1000"
    settings_env["MARKET_LIMITS_COMMENT_PER_MINUTE_USER"] = "1000"


def goods_body(openid, **fields):
    body = {"openid": openid, "goodsName": "书", "goodsTitle": "九成新教材",
            "goodsPriceNew": "12.50", "goodsPriceOld": "40", "goodsXueyuan": "计算机学院",
            "goodsDec": "高等数学第七版，几乎没有笔记", "goodsAddress": "东区宿舍"}
    body.update(fields)
    return body


async def publish(api, token, openid, **fields):
    """Publish a listing and return its gid."""
    reply = await api.post_json("/wx/goods/goodsIssue", goods_body(openid, **fields), token)
    assert reply.status == 200 and reply.code == 200, reply
    return reply.extend["gid"]


async def set_goods(app, gids, **values):
    """Change listings directly (the admin side owns review; tests approve with this), keeping
    the search index in step as the services do."""
    gids = [gids] if isinstance(gids, int) else list(gids)

    def change():
        Goods.update(**values).where(Goods.gid.in_(gids)).execute()
        for gid in gids:
            search_index.reindex(gid)
    await app.run_db(change)


async def approve(app, *gids):
    await set_goods(app, gids, state=1)


async def set_user_state(app, openid, state):
    await app.run_db(lambda: User.update(state=state).where(User.openid == openid).execute())


def admin_token(config):
    return tokens.issue(config["auth"]["token_secret"], "boss", 3600, role="admin")


def listed(reply):
    """The items of a list answer, checking the extend keys are "0", "1", … in order."""
    assert reply.code == 200, reply
    assert list(reply.extend) == [str(i) for i in range(len(reply.extend))]
    return list(reply.extend.values())


# -- publishing ------------------------------------------------------------------------------
@pytest.mark.gen_test
async def test_publish_validates_and_starts_pending(api, app):
    token = await api.login("alice")
    for bad in ({"goodsName": ""}, {"goodsPriceNew": "-1"}, {"goodsPriceNew": "1.234"},
                {"goodsPriceOld": "abc"}, {"goodsPriceNew": "1000000.01"},
                {"goodsTitle": "x" * 201}, {"goodsDec": ["list"]}):
        reply = await api.post_json("/wx/goods/goodsIssue", goods_body("alice", **bad), token)
        assert reply.status == 400 and reply.code == 100, (bad, reply)
        assert reply.extend["error"] == reply.json["msg"] and reply.json["msg"]
    gid = await publish(api, token, "alice", goodsPriceNew=12.5)
    row = await app.run_db(lambda: Goods.get_by_id(gid))
    assert row.state == 0 and row.goods_price_new == Decimal("12.50") and row.openid == "alice"
    # pending: not public, but on the owner's review list with state 0
    assert (await api.get("/wx/goods/getSimpleGoods", state=1)).code == 100
    mine = listed(await api.get("/wx/goods/getMyCheckSimGoods", token, openid="alice"))
    assert [(m["gid"], m["state"]) for m in mine] == [(gid, 0)]
    assert set(mine[0]) == ITEM_KEYS | {"state", "saleState"}  # saleState: issue 18, additive


@pytest.mark.gen_test
async def test_publish_identity_and_blocked_users(api, app):
    token = await api.login("bob")
    anonymous = await api.post_json("/wx/goods/goodsIssue", goods_body("bob"))
    assert anonymous.status == 401 and anonymous.extend["error"]
    wrong = await api.post_json("/wx/goods/goodsIssue", goods_body("mallory"), token)
    assert wrong.status == 403 and wrong.code == 100
    app.config["limits"]["publish_per_minute_user"] = 1
    assert (await api.post_json("/wx/goods/goodsIssue", goods_body("bob"), token)).code == 200
    limited = await api.post_json("/wx/goods/goodsIssue", goods_body("bob"), token)
    assert limited.status == 429 and limited.code == 100
    await app.run_db(lambda: Goods.delete().execute())
    app.config["limits"]["publish_per_minute_user"] = 1000
    app.limiter.buckets.clear()
    await set_user_state(app, "bob", 10)
    blocked = await api.post_json("/wx/goods/goodsIssue", goods_body("bob"), token)
    assert blocked.status == 403 and "封禁" in blocked.json["msg"]
    assert await app.run_db(lambda: Goods.select().count()) == 0


# -- lists -----------------------------------------------------------------------------------
@pytest.mark.gen_test(timeout=60)
async def test_lists_page_newest_first_and_stop_with_code_100(api, app, config):
    token = await api.login("carl")
    gids = [await publish(api, token, "carl", goodsName="物品%d" % i) for i in range(12)]
    await approve(app, *gids[:11])
    page0 = listed(await api.get("/wx/goods/getSimpleGoods", state=1))  # pageNum missing = 0
    assert [g["gid"] for g in page0] == gids[10::-1][:10]
    assert set(page0[0]) == ITEM_KEYS and page0[0]["goodsPriceNew"] == 12.5
    assert page0[0]["goodsPriceOld"] == 40 and page0[0]["homeImage"] == ""
    page1 = listed(await api.get("/wx/goods/getSimpleGoods", state="1", pageNum="1"))
    assert [g["gid"] for g in page1] == [gids[0]]
    end = await api.get("/wx/goods/getSimpleGoods", state=1, pageNum=2)
    assert end.status == 200 and end.code == 100
    assert (await api.get("/wx/goods/getSimpleGoods", state=1, pageNum="x")).status == 400
    assert (await api.get("/wx/goods/getSimpleGoods", state=5)).status == 400
    # pending list: admins only
    assert (await api.get("/wx/goods/getSimpleGoods", state=0)).status == 401
    assert (await api.get("/wx/goods/getSimpleGoods", token, state=0)).status == 403
    pending = listed(await api.get("/wx/goods/getSimpleGoods", admin_token(config), state=0))
    assert [g["gid"] for g in pending] == [gids[11]]


@pytest.mark.gen_test(timeout=60)
async def test_free_mine_other_users_and_review_lists(api, app):
    dan, eve = await api.login("dan"), await api.login("eve")
    free = await publish(api, dan, "dan", goodsPriceNew="0", goodsPriceOld="0.00")
    cheap = await publish(api, dan, "dan", goodsPriceNew="0", goodsPriceOld="5")
    rejected = await publish(api, dan, "dan")
    pending = await publish(api, dan, "dan")
    other = await publish(api, eve, "eve", goodsPriceNew="0", goodsPriceOld="0")
    await approve(app, free, cheap, other)
    await set_goods(app, rejected, state=2, reason="照片不清楚")
    frees = listed(await api.get("/wx/goods/getSimFrGoods", pageNum=0))
    assert [g["gid"] for g in frees] == [other, free]
    mine = listed(await api.get("/wx/goods/getMyIssGoods", dan, openid="dan", pageNum=0))
    assert [g["gid"] for g in mine] == [cheap, free]
    assert (await api.get("/wx/goods/getMyIssGoods", dan, openid="eve")).status == 403
    theirs = listed(await api.get("/wx/goods/getAllSimpleGoods", dan, openid="eve"))
    assert [g["gid"] for g in theirs] == [other]
    check = listed(await api.get("/wx/goods/getMyCheckSimGoods", dan, openid="dan"))
    assert [(g["gid"], g["state"]) for g in check] == [(pending, 0), (rejected, 2), (cheap, 1),
                                                       (free, 1)]
    why = await api.get("/wx/user/whyNot", dan, gid=rejected, openid="dan")
    assert why.extend == {"notice": {"noticeInfo": "照片不清楚"}}
    assert (await api.get("/wx/user/whyNot", eve, gid=rejected)).status == 403
    assert (await api.get("/wx/user/whyNot", gid=rejected)).status == 401
    assert (await api.get("/wx/user/whyNot", dan, gid=999999)).status == 404


# -- detail ----------------------------------------------------------------------------------
@pytest.mark.gen_test(timeout=60)
async def test_detail_shape_visibility_and_seller_badge(api, app, config):
    fay, gus = await api.login("fay", wxname="小芳"), await api.login("gus")
    gid = await publish(api, fay, "fay")
    assert (await api.get("/wx/goods/getDeGoodfwl", gid=gid)).status == 404
    assert (await api.get("/wx/goods/getDeGoodfwl", gus, gid=gid)).status == 404
    own = await api.get("/wx/goods/getDeGoodfwl", fay, gid=gid)
    assert own.code == 200 and own.extend["goodInfo"]["openSum"] == 1
    admin = await api.get("/wx/goods/getDeGoodfwl", admin_token(config), gid=gid)
    assert admin.extend["goodInfo"]["openSum"] == 2
    await approve(app, gid)
    info = (await api.get("/wx/goods/getDeGoodfwl", gid=str(gid))).extend["goodInfo"]
    assert DETAIL_KEYS <= set(info)
    assert info["gid"] == gid and info["openSum"] == 3 and info["imageUrl"] == []
    assert info["openid"] == "fay" and info["wxname"] == "小芳" and info["imageCheckStatus"] == 0
    assert info["goodsXueyuan"] == "计算机学院" and info["goodsPriceNew"] == 12.5
    assert len(info["issueTime"]) == 19
    await set_user_state(app, "fay", 1)
    info = (await api.get("/wx/goods/getDeGoodfwl", gid=gid)).extend["goodInfo"]
    assert info["imageCheckStatus"] == 1
    for bad, status in (("abc", 400), ("", 400), ("0", 400), ("123456", 404)):
        assert (await api.get("/wx/goods/getDeGoodfwl", gid=bad)).status == status


@pytest.mark.gen_test(timeout=90)
async def test_concurrent_views_are_counted_exactly(api, app):
    token = await api.login("hal")
    gid = await publish(api, token, "hal")
    await approve(app, gid)
    replies = await asyncio.gather(*[api.get("/wx/goods/getDeGoodfwl", gid=gid)
                                     for _ in range(40)])
    assert all(r.code == 200 for r in replies)
    seen = sorted(r.extend["goodInfo"]["openSum"] for r in replies)
    assert seen[-1] == 40
    await app.views.flush()  # views are written once a second (process/views.py)
    assert await app.run_db(lambda: Goods.get_by_id(gid).open_sum) == 40


@pytest.mark.gen_test(timeout=90)
async def test_views_are_coalesced_each_viewer_sees_the_exact_count(api, app):
    token = await api.login("hal")
    gid = await publish(api, token, "hal")
    await approve(app, gid)
    app.views.interval = 30  # the next round is far off: nothing is written by the loop now
    await app.views.flush()
    replies = await asyncio.gather(*[api.get("/wx/goods/getDeGoodfwl", gid=gid)
                                     for _ in range(30)])
    # every viewer saw the count with their own view, each a different one: 1..30
    assert sorted(r.extend["goodInfo"]["openSum"] for r in replies) == list(range(1, 31))
    assert await app.run_db(lambda: Goods.get_by_id(gid).open_sum) in range(0, 31)
    assert app.views.unwritten(gid) + await app.run_db(
        lambda: Goods.get_by_id(gid).open_sum) == 30
    await app.views.flush()
    assert app.views.unwritten(gid) == 0
    assert await app.run_db(lambda: Goods.get_by_id(gid).open_sum) == 30
    more = await asyncio.gather(*[api.get("/wx/goods/getDeGoodfwl", gid=gid) for _ in range(5)])
    assert sorted(r.extend["goodInfo"]["openSum"] for r in more) == [31, 32, 33, 34, 35]


@pytest.mark.gen_test(timeout=90)
async def test_views_pending_at_shutdown_are_written(api, app, config, database):
    from application import make_app
    from services import goods as goods_service
    token = await api.login("hal")
    gid = await publish(api, token, "hal")
    await approve(app, gid)
    other = make_app(config, database)  # a second server on the same database, then stopped
    other.views.interval = 30  # before start: its loop reads the interval once it sleeps
    await other.start()
    seen = await asyncio.gather(*[other.run_db(goods_service.detail, gid, None, False,
                                               "http://x", other.views) for _ in range(25)])
    assert sorted(info["openSum"] for info in seen) == list(range(1, 26))
    assert other.views.unwritten(gid) == 25  # none written yet
    await other.shutdown(1)
    other.db_executor.shutdown(wait=True)
    assert await app.run_db(lambda: Goods.get_by_id(gid).open_sum) == 25


@pytest.mark.gen_test(timeout=60)
async def test_blocked_sellers_leave_public_lists(api, app):
    ivy, jim = await api.login("ivy"), await api.login("jim")
    a = await publish(api, ivy, "ivy", goodsName="台灯", goodsPriceNew="0", goodsPriceOld="0")
    b = await publish(api, jim, "jim", goodsName="台灯")
    await approve(app, a, b)
    await set_user_state(app, "ivy", 10)
    assert [g["gid"] for g in listed(await api.get("/wx/goods/getSimpleGoods", state=1))] == [b]
    assert (await api.get("/wx/goods/getSimFrGoods")).code == 100
    assert [g["gid"] for g in listed(await api.get("/wx/goods/query", flag="台灯"))] == [b]
    assert (await api.get("/wx/goods/getAllSimpleGoods", openid="ivy")).code == 100
    assert (await api.get("/wx/goods/getDeGoodfwl", jim, gid=a)).status == 404


# -- owner deletion --------------------------------------------------------------------------
@pytest.mark.gen_test(timeout=60)
async def test_only_the_owner_deletes_and_the_row_stays(api, app):
    kim, leo = await api.login("kim"), await api.login("leo")
    gid = await publish(api, kim, "kim")
    failed = await publish(api, kim, "kim")
    await approve(app, gid)
    await set_goods(app, failed, state=2)
    assert (await api.post_json("/wx/user/addGoodsToCar", {"openid": "leo", "gid": [gid]},
                                leo)).code == 200
    refused = await api.get("/wx/user/deleteMyIssue", leo, gid=gid)
    assert refused.status == 403 and refused.code == 100
    assert (await api.get("/wx/user/deleteMyIssue", gid=gid)).status == 401
    assert (await api.get("/wx/user/deleteCheckFail", leo, gid=failed, state=2)).status == 403
    assert (await api.get("/wx/user/deleteMyIssue", kim, gid=gid)).code == 200
    assert (await api.get("/wx/user/deleteCheckFail", kim, gid=failed, state=2)).code == 200
    assert (await api.get("/wx/user/deleteMyIssue", kim, gid=gid)).status == 404
    assert (await api.get("/wx/goods/getSimpleGoods", state=1)).code == 100
    assert (await api.get("/wx/goods/getDeGoodfwl", kim, gid=gid)).status == 404
    assert (await api.get("/wx/goods/getMyCheckSimGoods", kim, openid="kim")).code == 100
    favs = await api.get("/wx/user/getFavorites", leo, openid="leo")
    assert favs.extend == {"favorites": []}
    rows = await app.run_db(lambda: [(g.gid, g.deleted) for g in Goods.select()
                                     .order_by(Goods.gid)])
    assert rows == [(gid, True), (failed, True)]


# -- search and hot words ----------------------------------------------------------------------
@pytest.mark.gen_test(timeout=90)
async def test_search_chinese_several_words_and_literal_wildcards(api, app):
    token = await api.login("max")
    mk = lambda **f: publish(api, token, "max", **f)  # noqa: E731
    desc_only = await mk(goodsName="文具", goodsTitle="一批", goodsDec="高等数学 笔记本")
    name_hit = await mk(goodsName="高等数学", goodsTitle="教材", goodsDec="第七版")
    both = await mk(goodsName="高等数学 笔记", goodsTitle="高等数学", goodsDec="整洁")
    pct = await mk(goodsName="打折100%新", goodsTitle="a_b", goodsDec="x")
    plain = await mk(goodsName="打折1000新", goodsTitle="axb", goodsDec="y")
    hidden = await mk(goodsName="高等数学 未审核")
    await approve(app, desc_only, name_hit, both, pct, plain)
    found = listed(await api.get("/wx/goods/query", flag="高等数学"))
    assert [g["gid"] for g in found] == [both, name_hit, desc_only]  # relevance, then recency
    assert hidden not in [g["gid"] for g in found]
    two = listed(await api.get("/wx/goods/query", flag="  高等数学   笔记 "))
    assert [g["gid"] for g in two] == [both, desc_only]
    assert [g["gid"] for g in listed(await api.get("/wx/goods/query", flag="100%"))] == [pct]
    assert [g["gid"] for g in listed(await api.get("/wx/goods/query", flag="a_b"))] == [pct]
    assert (await api.get("/wx/goods/query", flag="%")).code == 100  # no word: not "everything"
    assert (await api.get("/wx/goods/query", flag="没有这个")).code == 100
    assert (await api.get("/wx/goods/query", flag="   ")).status == 400
    assert (await api.get("/wx/goods/query")).status == 400
    hot = await api.get("/wx/goods/hotWords")
    # each word once for this (anonymous) searcher today; "没有这个" and "%" (the index drops
    # punctuation: no word) found nothing: not counted
    assert hot.code == 200 and set(hot.extend["hotWords"]) == {"高等数学", "笔记", "100%", "a_b"}
    assert len((await api.get("/wx/goods/hotWords", limit=2)).extend["hotWords"]) == 2
    assert (await api.get("/wx/goods/hotWords", limit=0)).status == 400


@pytest.mark.gen_test(timeout=90)
async def test_search_pages_and_counts_a_search_once(api, app):
    token = await api.login("ned")
    gids = [await publish(api, token, "ned", goodsName="Lamp %d" % i) for i in range(12)]
    await approve(app, *gids)
    first = listed(await api.get("/wx/goods/query", flag="LAMP"))  # case-insensitive
    second = listed(await api.get("/wx/goods/query", flag="lamp", pageNum=1))
    assert len(first) == 10 and len(second) == 2
    assert [g["gid"] for g in first + second] == gids[::-1]
    assert (await api.get("/wx/goods/query", flag="lamp", pageNum=2)).code == 100
    await asyncio.gather(*[api.get("/wx/goods/query", flag="desk") for _ in range(5)])
    words = (await api.get("/wx/goods/hotWords")).extend["hotWords"]
    assert words == ["lamp"]  # lamp counted once (page 0, one searcher); desk found nothing


@pytest.mark.gen_test(timeout=120)
async def test_view_counts_stay_exact_while_flushes_commit_under_them(api, app):
    token = await api.login("hal")
    a, b = await publish(api, token, "hal"), await publish(api, token, "hal")
    await approve(app, a, b)
    app.views.interval = 0.002  # the loop commits all the time, under the concurrent views
    replies = await asyncio.gather(*[api.get("/wx/goods/getDeGoodfwl", gid=gid)
                                     for gid in [a] * 80 + [b] * 40])
    counts = {a: [], b: []}
    for reply in replies:
        counts[reply.extend["goodInfo"]["gid"]].append(reply.extend["goodInfo"]["openSum"])
    assert sorted(counts[a]) == list(range(1, 81)) and sorted(counts[b]) == list(range(1, 41))
    await app.views.flush()
    assert await app.run_db(lambda: {g.gid: g.open_sum for g in Goods.select()}) == {a: 80, b: 40}
