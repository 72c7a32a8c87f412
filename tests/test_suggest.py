"""Suggestions as you type (issue 26, item 5): GET /wx/goods/suggest?q= by characters, pinyin and
initials, ranked by how often found; only public listings' words of owners who are not blocked
and visible hot words; the counts in step through every change (and under 20 parallel
changes); bad input. Both databases, real HTTP."""
import asyncio

import pytest

from models import write_txn

from models.goods import Goods
from models.suggest import SuggestPrefix, SuggestTerm
from search import index as search_index
from search import suggest
from services import accounts, hotwords, moderation
from tests.test_admin_api import admin_token
from tests.test_goods import approve, publish, roomy_limits  # noqa: F401


async def suggestions(api, q, status=200):
    reply = await api.get("/wx/goods/suggest", q=q)
    assert reply.status == status, reply
    return reply.extend["suggestions"] if status == 200 else reply


def test_terms_and_keys():
    assert suggest.keys_of("耳机") == ("耳机", "erji", "ej")
    assert suggest.keys_of("书") == ("书", "shu")
    assert suggest.keys_of("ｉＰａｄ") == ("ipad",)
    assert suggest.prefixes_of("耳机") == ("耳", "耳机", "e", "er", "erj", "ej")
    terms = suggest.listing_terms("九成新 蓝牙耳机", "iPhone13，2024 自提")
    assert {"蓝牙", "耳机", "iphone13", "iphone", "自提"} <= set(terms)
    assert "2024" not in terms and "13" not in terms and all(len(t) >= 2 for t in terms)


async def _listing(api, app, token, openid, name, title="自提", approved=True):
    gid = await publish(api, token, openid, goodsName=name, goodsTitle=title)
    if approved:
        await approve(app, gid)
    return gid


async def hits(app):
    return await app.run_db(lambda: {t.term: t.hits for t in SuggestTerm.select()
                                     if t.hits})


@pytest.mark.gen_test(timeout=120)
async def test_completions_by_characters_pinyin_and_initials_ranked(api, app):
    sam, ann = await api.login("sam"), await api.login("ann")
    for _ in range(3):
        await _listing(api, app, sam, "sam", "蓝牙耳机")
    await _listing(api, app, ann, "ann", "耳钉", "纯银")
    await _listing(api, app, ann, "ann", "耳环 秘密款", approved=False)  # pending: never shown
    for q in ("erj", "ej", "耳", "耳机", "ＥＲＪ", "Er J", "erji"):
        got = await suggestions(api, q)
        assert got and got[0] == "耳机", (q, got)
    assert await suggestions(api, "e") == ["耳机", "耳钉"]  # 3 listings, then 1
    assert await suggestions(api, "耳") == ["耳机", "耳钉"]
    assert await suggestions(api, "lany") == ["蓝牙"]
    assert "秘密款" not in await suggestions(api, "m") and await suggestions(api, "mimi") == []
    assert len(await suggestions(api, "")) == 0  # nothing typed: nothing suggested
    for odd in ("%", "_", "'", "\\", "e%", "*", "²", "1e3", "-0", "耳' OR 1=1 --"):
        assert await suggestions(api, odd) == [], odd  # text, never syntax
    missing = await api.get("/wx/goods/suggest")
    assert missing.status == 400 and missing.code == 100 and missing.json["msg"]
    long = await suggestions(api, "e" * 33, status=400)
    assert long.code == 100
    assert len(await suggestions(api, "e" * 32)) == 0


@pytest.mark.gen_test(timeout=120)
async def test_no_title_leaks_after_take_down_hold_block_or_deletion(api, app):
    from services import content_checks
    sam, boss = await api.login("sam"), await admin_token(api, app)
    gid = await _listing(api, app, sam, "sam", "二胡")
    assert await suggestions(api, "erh") == ["二胡"]
    assert (await api.get("/wx/admin/delete", boss, gid=gid)).code == 200
    assert await suggestions(api, "erh") == []                                  # taken down
    await app.run_db(moderation.set_goods_deleted, "root", gid, False)
    assert await suggestions(api, "erh") == ["二胡"]                            # restored
    await app.run_db(content_checks.hold_image, 999, gid, "held by a check")
    assert await suggestions(api, "erh") == []                                  # held
    await app.run_db(content_checks.release, gid)
    assert await suggestions(api, "eh") == ["二胡"]
    assert (await api.get("/wx/admin/setState", boss, gid=gid, state=2, reason="不清楚")).code == 200
    assert await suggestions(api, "eh") == []                                   # rejected
    assert (await api.get("/wx/admin/setState", boss, gid=gid, state=1)).code == 200
    await app.run_db(moderation.check_user, "root", "sam", "block", "spam")
    assert await suggestions(api, "二") == []                                   # owner blocked
    await app.run_db(moderation.check_user, "root", "sam", "unblock", "ok")
    assert await suggestions(api, "二") == ["二胡"]
    await app.run_db(accounts.delete_account, "sam")
    assert await suggestions(api, "二") == [] and await hits(app) == {}         # account deleted


@pytest.mark.gen_test(timeout=120)
async def test_hot_words_are_suggested_while_visible_and_counted(api, app):
    sam = await api.login("sam")
    await _listing(api, app, sam, "sam", "台灯", "送灯泡")
    assert await suggestions(api, "dp") == ["灯泡"]  # a word of the title
    for who in ("u1", "u2"):
        reply = await api.get("/wx/goods/query", await api.login(who), flag="台灯 灯泡")
        assert reply.code == 200
    assert "台灯 灯泡" not in await suggestions(api, "td")
    await app.run_db(hotwords.count, ["读书灯"], "u:u1")  # counted once: not yet shown
    assert await suggestions(api, "dsd") == []
    await app.run_db(hotwords.count, ["读书灯"], "u:u2")
    assert await suggestions(api, "dsd") == ["读书灯"] and "读书灯" in await suggestions(api, "读")
    await app.run_db(hotwords.set_hidden, "root", "读书灯", True)
    assert await suggestions(api, "dsd") == []                                   # hidden


@pytest.mark.gen_test(timeout=120)
async def test_counts_stay_exact_under_parallel_changes_and_match_a_rebuild(api, app):
    sam = await api.login("sam")
    gids = [await _listing(api, app, sam, "sam", "山地车 %d" % i) for i in range(4)]

    def flip(gid, name):
        with write_txn():  # as every change point does
            Goods.update(goods_name=name).where(Goods.gid == gid).execute()
            search_index.reindex(gid)
    await asyncio.gather(*[app.run_db(flip, gids[i % 4], "山地车" if i % 2 else "公路车")
                           for i in range(20)])
    await app.run_db(lambda: [search_index.reindex(g) for g in gids])
    live = await hits(app)
    names = await app.run_db(lambda: [g.goods_name for g in Goods.select()])
    assert live.get("山地车", 0) == sum("山地车" in n for n in names)
    assert live.get("公路", 0) == sum("公路" in n for n in names) > 0
    assert live["自提"] == 4
    # 20 new listings approved at the same moment, each in its own transaction (on MariaDB,
    # locking a missing goods_suggest row took a gap lock: two such inserts deadlocked)
    fresh = [await _listing(api, app, sam, "sam", "折叠桌", approved=False) for _ in range(20)]

    def approve_one(gid):
        with write_txn():
            Goods.update(state=1).where(Goods.gid == gid).execute()
            search_index.reindex(gid)
    await asyncio.gather(*[app.run_db(approve_one, g) for g in fresh])
    live = await hits(app)
    assert live["折叠桌"] == 20 and live["自提"] == 24
    assert await app.run_db(lambda: SuggestPrefix.select().join(
        SuggestTerm, on=(SuggestTerm.id == SuggestPrefix.term_id)).where(
            SuggestPrefix.hits != SuggestTerm.hits).count()) == 0  # the copies in step
    await app.run_db(suggest.rebuild)
    assert await hits(app) == live  # the incremental counts are what a rebuild finds
