"""The search index on both databases: in step through publish, review, take-down, restore, hold
and release, owner deletion; query text never reaching the engine as syntax; the newer clients'
filters and sorts on /wx/goods/query and the lists; the start-up check of MySQL's settings."""
import asyncio
import re

import pytest

from models.goods import Goods
from models.search import GoodsSearch
from process.caches import CandidateCache
from search import index as search_index
from search import tokens as search_tokens
from services import content_checks, moderation
from tests.test_admin_api import admin_token
from tests.test_goods import approve, listed, publish, roomy_limits  # noqa: F401


async def found(api, flag, **params):
    reply = await api.get("/wx/goods/query", flag=flag, **params)
    assert reply.status == 200, reply
    return [] if reply.code == 100 else [g["gid"] for g in listed(reply)]


async def indexed(app, gid):
    return await app.run_db(lambda: GoodsSearch.get_or_none(GoodsSearch.gid == gid) is not None)


@pytest.mark.gen_test(timeout=120)
async def test_index_follows_every_change_of_a_listing(api, app):
    token, boss = await api.login("sam"), await admin_token(api, app)
    gid = await publish(api, token, "sam", goodsName="蓝牙耳机", goodsTitle="九成新", goodsDec="x")
    assert not await indexed(app, gid) and await found(api, "耳机") == []   # pending
    review = lambda state: api.get("/wx/admin/setState", boss, gid=gid, state=state,  # noqa
                                   reason="照片模糊")  # a rejection needs one (approving: audited)
    assert (await review(1)).code == 200
    assert await indexed(app, gid) and await found(api, "erji") == [gid]    # approved
    assert (await review(2)).code == 200
    assert not await indexed(app, gid) and await found(api, "耳机") == []   # rejected
    assert (await review(1)).code == 200 and await found(api, "耳机") == [gid]
    await app.run_db(content_checks.hold_image, 999, gid, "held by a check")
    assert not await indexed(app, gid) and await found(api, "耳机") == []   # hidden
    await app.run_db(content_checks.release, gid)
    assert await indexed(app, gid) and await found(api, "耳机") == [gid]    # shown again
    assert (await api.get("/wx/admin/delete", boss, gid=gid)).code == 200
    assert not await indexed(app, gid) and await found(api, "耳机") == []   # taken down
    await app.run_db(moderation.set_goods_deleted, "root", gid, False)
    assert await indexed(app, gid) and await found(api, "耳机") == [gid]    # restored
    assert (await api.get("/wx/user/deleteMyIssue", token, gid=gid, openid="sam")).code == 200
    assert not await indexed(app, gid) and await found(api, "耳机") == []   # owner deleted


@pytest.mark.gen_test(timeout=120)
async def test_migration_backfill_indexes_public_listings_only(api, app):
    token = await api.login("tia")
    live = await publish(api, token, "tia", goodsName="台灯")
    waiting = await publish(api, token, "tia", goodsName="台灯 待审")
    await approve(app, live)
    await app.run_db(lambda: GoodsSearch.delete().execute())
    assert await found(api, "台灯") == []
    assert await app.run_db(search_index.backfill) == 1
    assert await found(api, "台灯") == [live] and not await indexed(app, waiting)


QUERIES_WITH_SYNTAX = ['"', "'", "*", "+", "-", "(", ")", "~", "<", ">", "@", "%", "_", "\\",
                       '台灯"', "台灯*", "台灯 OR 耳机", "台灯 AND", "NOT 台灯", "NEAR(台灯)",
                       "+台灯 -蓝牙", "台灯' OR '1'='1", "x6e78 p00", "台灯^2", "{台灯}", ":台灯",
                       "台灯 %", "台_灯"]


@pytest.mark.gen_test(timeout=120)
async def test_query_syntax_is_plain_text(api, app):
    token = await api.login("uma")
    lamp = await publish(api, token, "uma", goodsName="台灯", goodsDec="蓝牙音箱台灯")
    other = await publish(api, token, "uma", goodsName="耳机")
    await approve(app, lamp, other)
    for flag in QUERIES_WITH_SYNTAX:
        reply = await api.get("/wx/goods/query", flag=flag)
        assert reply.status == 200 and reply.code in (100, 200), (flag, reply)
    assert await found(api, "%") == [] and await found(api, "_") == []  # never "everything"
    assert await found(api, '"台灯"') == [lamp] and await found(api, "台灯*") == [lamp]
    assert await found(api, "+台灯 -蓝牙") == [lamp]   # - is not "without": 蓝牙 must match too
    assert await found(api, "台灯 OR 耳机") == []      # OR is a word, and no listing has it
    assert await found(api, "台_灯") == [lamp]         # _ separates, it is no wildcard


async def filtered(api, path, **params):
    reply = await api.get(path, **params)
    assert reply.status == 200, reply
    return [] if reply.code == 100 else [g["gid"] for g in listed(reply)]


@pytest.mark.gen_test(timeout=120)
async def test_filters_and_sorts_on_query_and_lists(api, app):
    token = await api.login("vic")
    mk = lambda name, price, old, **f: publish(api, token, "vic", goodsName=name,  # noqa: E731
                                               goodsPriceNew=price, goodsPriceOld=old, **f)
    cheap = await mk("台灯 便宜", "10", "20", goodsXueyuan="机械学院", goodsAddress="东区")
    dear = await mk("台灯 护眼", "99.5", "200", goodsXueyuan="计算机学院", goodsAddress="西区")
    free = await mk("台灯 送", "0", "0", goodsXueyuan="计算机学院", goodsAddress="东区")
    await approve(app, cheap, dear, free)
    await app.run_db(lambda: Goods.update(open_sum=7).where(Goods.gid == cheap).execute())
    for path, extra in (("/wx/goods/query", {"flag": "台灯"}),
                        ("/wx/goods/getSimpleGoods", {"state": 1})):
        get = lambda **p: filtered(api, path, **extra, **p)  # noqa: E731
        assert await get(priceMin="5", priceMax="50") == [cheap]
        assert sorted(await get(priceMin="10")) == [cheap, dear]
        assert await get(free="1") == [free]
        assert await get(goodsXueyuan="计算机学院") == [free, dear]
        assert await get(goodsAddress="东区", sort="priceDesc") == [cheap, free]
        assert await get(sort="priceAsc") == [free, cheap, dear]
        assert await get(sort="priceDesc") == [dear, cheap, free]
        assert await get(sort="newest") == [free, dear, cheap]
        assert await get(sort="views") == [cheap, free, dear]  # then newest first
        for bad in ({"priceMin": "abc"}, {"priceMax": "-1"}, {"priceMin": "9", "priceMax": "1"},
                    {"free": "2"}, {"sort": "cheapest"}, {"priceMin": "1.001"}):
            reply = await api.get(path, **extra, **bad)
            assert reply.status == 400 and reply.code == 100 and reply.json["msg"], (bad, reply)
    assert await filtered(api, "/wx/goods/getSimFrGoods", goodsAddress="东区") == [free]
    assert await filtered(api, "/wx/goods/getAllSimpleGoods", openid="vic",
                          sort="priceAsc") == [free, cheap, dear]


def test_start_up_warns_when_mysql_would_hide_short_words(database, caplog):
    assert search_index.fulltext_problems({"innodb_ft_min_token_size": "3",
                                     "innodb_ft_max_token_size": "84"}) == []
    problems = search_index.fulltext_problems({"innodb_ft_min_token_size": "4",
                                         "innodb_ft_max_token_size": "40"})
    assert len(problems) == 2 and "innodb_ft_min_token_size=4" in problems[0]
    with database.connection_context():
        assert search_index.start_up() == []  # the test MariaDB keeps the defaults
    assert "search:" not in caplog.text


def test_tokens_are_the_same_for_both_engines_and_short_words_are_long_enough():
    row = search_tokens.index_row("书 iPhone13", "ＩＰＡＤ", "耳机")
    words, pinyin = row["words"].split(), row["pinyin"].split()
    assert {search_tokens.decode(t) for t in words} >= {"书", "iphone13", "iphone", "13", "ipad",
                                                        "耳机", "耳", "机"}
    assert {search_tokens.decode(t) for t in pinyin} >= {"shu", "erji", "ej"}
    # compact (m0011): the token itself, padded to the 3 characters InnoDB indexes by default
    assert "x书_" in words and "xiphone13" in words and "x耳机" in words and "perji" in pinyin
    assert all(search_tokens.MIN_TOKEN_CHARS <= len(t) <= search_tokens.MAX_TOKEN_CHARS
               and re.fullmatch("[a-z0-9_\u4e00-\u9fff]+", t) for t in words + pinyin)
    assert len(search_tokens.encode("x", "长" * 100)) == search_tokens.MAX_TOKEN_CHARS
    # other scripts as hex, so neither engine splits them: café, кофе
    assert search_tokens.encode("x", "café") == "h" + "café".encode().hex()
    assert search_tokens.decode(search_tokens.encode("x", "кофе" * 30)).startswith("кофе")
    assert len(search_tokens.encode("x", "кофе" * 30)) <= search_tokens.MAX_TOKEN_CHARS


@pytest.mark.gen_test(timeout=60)
async def test_m0011_reindexes_hex_tokens_in_the_compact_form(api, app, database):
    import importlib
    m0011 = importlib.import_module("migrations.m0011_search_compact_tokens")
    token = await api.login("ola")
    lamp = await publish(api, token, "ola", goodsName="台灯", goodsTitle="书桌用",
                         goodsDec="LED lamp")
    waiting = await publish(api, token, "ola", goodsName="台灯 待审")
    await approve(app, lamp)

    def as_m0010():  # the row as m0010 wrote it: every token hex
        words = " ".join("x" + w.encode().hex() for w in ("台灯", "台", "灯", "书桌", "led", "lamp"))
        GoodsSearch.update(words=words, pinyin="p" + "taideng".encode().hex()).execute()
    await app.run_db(as_m0010)
    assert await found(api, "台灯") == []  # the queries speak the new form only
    assert await app.run_db(m0011.reindex, database) == 1
    assert await found(api, "台灯") == [lamp] and await found(api, "lamp") == [lamp]
    assert await found(api, "taideng") == [lamp] and not await indexed(app, waiting)
    row = await app.run_db(lambda: GoodsSearch.get_by_id(lamp))
    assert "x台灯" in row.words.split() and "x灯_" in row.words.split()


def test_candidate_cache_fills_once_per_query_and_drops_fills_older_than_a_clear():
    import threading
    import time
    cache, calls = CandidateCache(size=3), []

    def slow(result):
        def fill():
            calls.append(result)
            time.sleep(0.2)
            return result
        return fill
    out = []
    threads = [threading.Thread(target=lambda: out.append(cache.get_or_fill("k", 10, slow([1]))))
               for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [[1]] * 20 and calls == [[1]]  # twenty searches, one engine query
    assert cache.get("k", 10) == [1] and cache.get("k", 0) is None  # expired after `seconds`
    filler = threading.Thread(target=lambda: cache.get_or_fill("j", 10, slow([2])))
    filler.start()
    time.sleep(0.05)
    cache.clear()  # the index changed while that query ran: its answer is not kept
    filler.join()
    assert cache.get("j", 10) is None
    for key in "abcd":
        cache.get_or_fill(key, 10, lambda: [])
    assert cache.get("a", 10) is None and cache.get("d", 10) == []  # bounded, oldest first


@pytest.mark.gen_test(timeout=60)
async def test_cached_candidates_never_show_a_listing_that_left(api, app):
    from tests.test_goods import set_user_state
    ann, bea = await api.login("ann"), await api.login("bea")
    a = await publish(api, ann, "ann", goodsName="电风扇")
    b = await publish(api, bea, "bea", goodsName="电风扇 静音")
    await approve(app, a, b)
    assert sorted(await found(api, "电风扇")) == sorted([a, b])
    await set_user_state(app, "bea", 10)  # blocked: no index change, the candidates stay cached
    assert await found(api, "电风扇") == [a]
    await app.run_db(lambda: Goods.update(hidden=True).where(Goods.gid == a).execute())
    assert await found(api, "电风扇") == []  # the rows are read fresh, public re-checked


@pytest.mark.gen_test(timeout=30)
async def test_identical_searches_at_once_share_one_call_and_its_outcome():
    import asyncio
    from process.coalesce import Coalescer
    running, calls = Coalescer(), []

    async def make(value):
        calls.append(value)
        await asyncio.sleep(0.05)
        if value == "bad":
            raise ValueError("bad input")
        return [value]
    got = await asyncio.gather(*[running.run("k", lambda: make("a")) for _ in range(20)],
                               running.run("j", lambda: make("b")))
    assert got == [["a"]] * 20 + [["b"]] and calls == ["a", "b"]
    assert running.flights == {}  # nothing kept once landed
    bad = await asyncio.gather(*[running.run("x", lambda: make("bad")) for _ in range(3)],
                               return_exceptions=True)
    assert [str(e) for e in bad] == ["bad input"] * 3 and calls.count("bad") == 1
    assert await running.run("k", lambda: make("a2")) == ["a2"]  # a later call runs again


@pytest.mark.gen_test(timeout=60)
async def test_concurrent_searches_each_get_their_answer(api, app):
    token = await api.login("ivo")
    lamp = await publish(api, token, "ivo", goodsName="台灯")
    bike = await publish(api, token, "ivo", goodsName="自行车")
    await approve(app, lamp, bike)
    flags = ["台灯", "自行车", "台灯", "吉他", "自行车"] * 6
    replies = await asyncio.gather(*[api.get("/wx/goods/query", flag=f) for f in flags])
    want = {"台灯": [lamp], "自行车": [bike], "吉他": []}
    assert [[g["gid"] for g in listed(r)] if r.code == 200 else [] for r in replies] == \
        [want[f] for f in flags]
    assert (await api.get("/wx/goods/query")).status == 400
