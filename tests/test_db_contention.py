"""Parallel writers on each hot write, over real HTTP on MariaDB: favourites, comments, likes,
publish, want-to-buy, hand-overs (proposed and confirmed) and ratings, 20 calls at once each
(favourites: 20 users x 5 rounds replacing overlapping lists, which deadlocked InnoDB). No call
answers a 5xx: a deadlock victim is run again whole (models.run_unit), and every write lands
exactly once."""
import asyncio
import random

import pytest

import models

from models.chat import ChatMessage, pair_key
from models.comment import Comment, Liked
from models.goods import Favourite, Goods
from models.rating import HandOver, Rating
from models.wanted import WantedPost
from tests.test_goods import goods_body
from tests.test_ratings import confirm, mark, rate
from tests.test_wanted import approved_listing

N = 20


@pytest.fixture
def db_url(mariadb):
    """InnoDB's row locks are what deadlock: MariaDB only."""
    return mariadb.url("market_test")


@pytest.fixture
def settings_env(settings_env):
    settings_env.update(MARKET_LIMITS_PUBLISH_PER_MINUTE_USER="1000",
                        MARKET_LIMITS_COMMENT_PER_MINUTE_USER="1000",
                        MARKET_LIMITS_PER_MINUTE_ADDRESS="100000",
                        MARKET_RATINGS_PER_MINUTE_USER="1000",
                        MARKET_WANTED_PER_MINUTE_USER="1000",
                        MARKET_MODERATION_ENABLED="false")  # no WeChat checks here
    return settings_env


def no_5xx(replies):
    bad = [r for r in replies if r.status >= 500 or r.code != 200]
    assert bad == [], bad[:3]


async def together(calls):
    return await asyncio.gather(*calls)


@pytest.mark.gen_test(timeout=180)
async def test_parallel_hot_writes_answer_no_5xx_and_land_once(api, app, config):
    buyers = ["b%02d" % i for i in range(N)]
    t = {o: await api.login(o) for o in ["s"] + buyers}
    gids = [await approved_listing(api, config, t["s"], "s", goodsTitle="书%d" % i)
            for i in range(N)]

    # favourites: overlapping lists replaced at once, several rounds (the InnoDB deadlock)
    rng = random.Random(7)
    for _ in range(5):
        no_5xx(await together(
            api.post_json("/wx/user/addGoodsToCar",
                          {"openid": b, "gid": rng.sample(gids, 8)}, t[b]) for b in buyers))
    assert await app.run_db(lambda: Favourite.select().count()) == 8 * N

    # comments on one listing, then likes on one comment (each notifies the same seller)
    no_5xx(await together(
        api.post_json("/wx/pl/addMainComments",
                      {"info": {"goodId": gids[0], "fromOpenid": b, "content": "还在吗"}}, t[b])
        for b in buyers))
    in_id = await app.run_db(lambda: Comment.select().first().in_id)
    no_5xx(await together(api.get("/wx/liked/like", t[b], openid=b, objId=in_id, type=1)
                          for b in buyers))
    assert await app.run_db(lambda: (Comment.select().count(), Liked.select().count())) == (N, N)

    # publish and want-to-buy, everyone at once
    no_5xx(await together(api.post_json("/wx/goods/goodsIssue", goods_body(b), t[b])
                          for b in buyers))
    no_5xx(await together(api.post_json("/wx/wanted", {"openid": b, "keywords": "高等数学 教材"},
                                        t[b]) for b in buyers))
    assert await app.run_db(lambda: (Goods.select().count(),
                                     WantedPost.select().count())) == (2 * N, N)

    # hand-overs: each buyer chatted with the seller; proposed, confirmed, rated at once
    def chatted():
        ChatMessage.insert_many([{"pair": pair_key("s", b), "from_openid": b, "to_openid": "s",
                                  "content": "在吗"} for b in buyers]).execute()
    await app.run_db(chatted)
    proposed = await together(mark(api, t["s"], "s", g, b) for g, b in zip(gids, buyers))
    no_5xx(proposed)
    hids = [r.extend["handover"]["id"] for r in proposed]
    no_5xx(await together(confirm(api, t[b], b, h) for b, h in zip(buyers, hids)))
    no_5xx(await together(rate(api, t[b], b, h, 5) for b, h in zip(buyers, hids)))
    no_5xx(await together(rate(api, t["s"], "s", h, 4) for h in hids))
    assert await app.run_db(lambda: (HandOver.select().count(),
                                     Rating.select().count())) == (N, 2 * N)
    print("deadlock and lock-wait retries:", models.retried)  # seen with -s


@pytest.fixture
def short_lock_waits(settings_env):
    settings_env["MARKET_DATABASE_LOCK_WAIT_TIMEOUT"] = "1"
    return settings_env


@pytest.mark.gen_test(timeout=60)
async def test_a_lock_held_past_the_retries_answers_busy_not_unavailable(
        api, app, config, mariadb, short_lock_waits):
    """Another connection holds alice's favourite rows: each run waits `lock_wait_timeout`
    (1 s), gets 1205 and runs again, until the retry budget is spent: 503 "busy, try again"
    with Retry-After, the favourites unchanged; once the lock goes, the same call succeeds."""
    import pymysql
    t = {o: await api.login(o) for o in ("alice", "s")}
    gid = await approved_listing(api, config, t["s"], "s")
    first = await api.post_json("/wx/user/addGoodsToCar", {"openid": "alice", "gid": [gid]},
                                t["alice"])
    assert first.code == 200
    holder = pymysql.connect(host="127.0.0.1", port=mariadb.port, user="root",
                             database="market_test", autocommit=False)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT * FROM favourite WHERE openid = 'alice' FOR UPDATE")
        gave_up = models.retried["gave_up"]
        reply = await api.post_json("/wx/user/addGoodsToCar", {"openid": "alice", "gid": []},
                                    t["alice"])
        assert reply.status == 503 and reply.json == {"code": 100, "msg": "服务器繁忙，请稍后重试"}
        assert reply.headers["Retry-After"] == "1"
        assert models.retried["gave_up"] == gave_up + 1
    finally:
        holder.rollback()
        holder.close()
    assert await app.run_db(lambda: Favourite.select().count()) == 1  # unchanged
    again = await api.post_json("/wx/user/addGoodsToCar", {"openid": "alice", "gid": []},
                                t["alice"])
    assert again.code == 200 and await app.run_db(lambda: Favourite.select().count()) == 0
