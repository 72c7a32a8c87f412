"""Search quality on both databases: a fixed corpus of ~40 campus listings and ~30 queries with the
listings each must return first (tests/search_corpus.json), through /wx/goods/query."""
import json
import os

import pytest

from models.goods import Goods
from search import index as search_index

CORPUS = os.path.join(os.path.dirname(__file__), "search_corpus.json")


def load_corpus():
    with open(CORPUS, encoding="utf-8") as f:
        return json.load(f)


def seed(listings):
    """Create the corpus listings (in file order, so gids grow with it) and index them."""
    gids = {}
    for item in listings:
        goods = Goods.create(
            openid="seller", goods_name=item["name"], goods_title=item["title"],
            goods_dec=item["dec"], goods_price_new=item["price"],
            goods_price_old=item.get("old", item["price"] * 2),
            goods_xueyuan=item.get("xueyuan", ""), goods_address=item.get("address", ""),
            state=item.get("state", 1), deleted=item.get("deleted", False),
            hidden=item.get("hidden", False))
        search_index.reindex(goods.gid)
        gids[goods.gid] = item["key"]
    return gids


async def found(api, keys, flag, **params):
    """The keys of every listing the query finds, in order (all pages)."""
    out, page = [], 0
    while True:
        reply = await api.get("/wx/goods/query", flag=flag, pageNum=page, **params)
        assert reply.status == 200, reply
        if reply.code == 100:
            return out
        out += [keys[reply.extend[str(i)]["gid"]] for i in range(len(reply.extend))]
        page += 1


def problems_of(query, got):
    """What is wrong with `got` for this query's expectation (None when it is right)."""
    at = 0
    for tier in query["first"]:
        if sorted(got[at:at + len(tier)]) != sorted(tier):
            return "expected %s at %d, got %s" % (tier, at, got)
        at += len(tier)
    if query.get("only") and len(got) != at:
        return "expected nothing after %d, got %s" % (at, got)
    return None


@pytest.mark.gen_test(timeout=120)
async def test_quality_table(api, app):
    corpus = load_corpus()
    keys = await app.run_db(seed, corpus["listings"])
    never = {item["key"] for item in corpus["listings"]
             if item.get("state", 1) != 1 or item.get("deleted") or item.get("hidden")}
    failures = []
    for query in corpus["queries"]:
        got = await found(api, keys, query["q"])
        problem = problems_of(query, got)
        if problem or never & set(got):
            failures.append("%r: %s" % (query["q"], problem or "found %s" % (never & set(got))))
    assert not failures, "\n".join(failures)
    assert len(corpus["listings"]) >= 40 and len(corpus["queries"]) >= 25
