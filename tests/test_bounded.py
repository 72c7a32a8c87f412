"""Rows a client can make the server keep are bounded: hot words (once per searcher a day, only
when found, a capped table, moderators hide a word) and subscribe-message grants."""
import datetime
import uuid

import pytest

from models.goods import SearchCounted, SearchKeyword
from models.subscription import NotifyGrant
from services import admin_accounts, hotwords, subscriptions
from tests.test_admin_pages import PASSWORD, Session
from tests.test_goods import approve, publish


@pytest.fixture(autouse=True)
def roomy(settings_env):
    settings_env["MARKET_LIMITS_PER_MINUTE_ADDRESS"] = "100000"
    settings_env["MARKET_LIMITS_PUBLISH_PER_MINUTE_USER"] = "1000"
    settings_env["MARKET_NOTIFY_CHAT_TEMPLATE"] = "TPL-CHAT"
    settings_env["MARKET_NOTIFY_REVIEW_TEMPLATE"] = "TPL-REVIEW"


def rows(model):
    return model.select().count()


async def hot(api, limit=10):
    return (await api.get("/wx/goods/hotWords", limit=limit)).extend["hotWords"]


# -- hot words ----------------------------------------------------------------------------------
@pytest.mark.gen_test(timeout=60)
async def test_thirty_searches_from_one_client_do_not_make_a_hot_word(api, app):
    seller = await api.login("seller")
    await approve(app, await publish(api, seller, "seller", goodsName="台灯"),
                  await publish(api, seller, "seller", goodsName="自行车"))
    alice, bob = await api.login("alice"), await api.login("bob")
    for token in (alice, bob):  # two users search for 自行车 once each
        assert (await api.get("/wx/goods/query", token, flag="自行车")).code == 200
    for _ in range(30):  # one anonymous client: a word nothing contains, and a real one
        assert (await api.get("/wx/goods/query", flag="代写论文")).code == 100
        assert (await api.get("/wx/goods/query", flag="台灯")).code == 200
    assert await hot(api) == ["自行车", "台灯"]  # 2 searchers, then 1
    counts = await app.run_db(lambda: {k.keyword: k.count for k in SearchKeyword.select()})
    assert counts == {"自行车": 2, "台灯": 1}
    # a search that found nothing, or a later page, adds no row at all
    before = await app.run_db(lambda: (rows(SearchKeyword), rows(SearchCounted)))
    for i in range(20):
        await api.get("/wx/goods/query", flag="无此物%d" % i)
        await api.get("/wx/goods/query", flag="台灯", pageNum=1)
    assert await app.run_db(lambda: (rows(SearchKeyword), rows(SearchCounted))) == before
    # a bad token does not fail a public search, and counts as the address
    assert (await api.get("/wx/goods/query", "not-a-token", flag="台灯")).code == 200


@pytest.mark.gen_test(timeout=60)
async def test_counts_are_bounded_per_searcher_per_day_and_in_total(app):
    today = hotwords.today()
    yesterday = today - datetime.timedelta(days=1)
    words = ["w%02d" % i for i in range(hotwords.PER_SEARCHER_DAY + 10)]
    counted = await app.run_db(hotwords.count, words, "a:10.0.0.1", yesterday)
    assert len(counted) == hotwords.PER_SEARCHER_DAY  # one searcher can't count more a day
    assert await app.run_db(hotwords.count, ["w00"], "a:10.0.0.1", yesterday) == []
    # the next day: the past day's rows are pruned, and the word counts again
    assert await app.run_db(hotwords.count, ["w00", "x" * 33], "a:10.0.0.1", today) == ["w00"]
    assert await app.run_db(lambda: SearchCounted.select().where(
        SearchCounted.day < today).count()) == 0
    # the table keeps at most MAX_WORDS visible words: the least counted go first
    await app.run_db(hotwords.cap_words, 5)
    kept = await app.run_db(lambda: [k.keyword for k in SearchKeyword.select()])
    assert len(kept) == 5 and "w00" in kept  # w00 has 2, the others 1
    await app.run_db(hotwords.count, ["w%02d" % i for i in range(8)], "u:ann", today)
    await app.run_db(hotwords.cap_words, 3)
    assert await app.run_db(lambda: SearchKeyword.select().count()) == 3


@pytest.mark.gen_test(timeout=60)
async def test_the_table_cap_holds_through_counting(app, monkeypatch):
    monkeypatch.setattr(hotwords, "MAX_WORDS", 10)
    for n in range(6):
        await app.run_db(hotwords.count, ["n%d-%d" % (n, i) for i in range(5)], "u:%d" % n)
    assert await app.run_db(lambda: SearchKeyword.select().count()) == 10
    await app.run_db(hotwords.set_hidden, "root", "hidden-one", True)  # hidden: not counted
    await app.run_db(hotwords.count, ["n9"], "u:9")
    assert await app.run_db(lambda: SearchKeyword.select().count()) == 11
    assert "n9" in await app.run_db(hotwords.hot_words, 50)


@pytest.mark.gen_test(timeout=60)
async def test_a_moderator_hides_a_hot_word_on_the_admin_page(api, app):
    seller = await api.login("seller")
    await approve(app, await publish(api, seller, "seller", goodsName="代写 作业 台灯"))
    for who in ("alice", "bob"):
        token = await api.login(who)
        await api.get("/wx/goods/query", token, flag="代写")
    await api.get("/wx/goods/query", flag="台灯")
    assert await hot(api) == ["代写", "台灯"]
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    s = Session(api)
    await s.sign_in()
    page = await s.get("/admin/hotwords")
    assert page.status == 200 and "代写".encode() in page.body
    assert (await s.post("/admin/hotwords", {"word": "代写", "action": "hide"})).headers[
        "Location"] == "/admin/hotwords?ok=hide"
    assert await hot(api) == ["台灯"]
    await api.get("/wx/goods/query", await api.login("carol"), flag="代写")  # stays hidden
    assert await hot(api) == ["台灯"]
    # a word can be hidden before anyone searches it; <script> shows as text
    assert (await s.post("/admin/hotwords", {"word": "<b>作弊</b>", "action": "hide"})).status == 302
    page = (await s.get("/admin/hotwords", ok="hide")).body.decode()
    assert "该词已从热词中隐藏" in page and "&lt;b&gt;作弊&lt;/b&gt;" in page and "<b>作弊" not in page
    assert (await s.post("/admin/hotwords", {"word": "代写", "action": "show"})).status == 302
    assert await hot(api) == ["代写", "台灯"]
    audit = (await s.get("/admin/audit")).body.decode()
    assert "隐藏了热词" in audit and "重新显示了热词" in audit and "「代写」" in audit  # in words
    # refusals: no such word to show, a bad action, no session, no XSRF token
    assert (await s.post("/admin/hotwords", {"word": "nothing", "action": "show"})).status == 404
    assert (await s.post("/admin/hotwords", {"word": "x", "action": "drop"})).status == 400
    assert (await s.post("/admin/hotwords", {"word": "x", "action": "hide"}, xsrf=False)).status \
        == 403
    away = await api.fetch("GET", "/admin/hotwords", follow_redirects=False)
    assert away.status == 302 and away.headers["Location"].startswith("/admin/login")


# -- subscribe grants ---------------------------------------------------------------------------
@pytest.mark.gen_test(timeout=60)
async def test_subscribe_keeps_only_known_templates_capped_and_answers_bounded(api, app):
    token = await api.login("bob")
    for _ in range(30):  # ten made-up templates a call: nothing kept
        ids = [uuid.uuid4().hex for _ in range(10)]
        reply = await api.post_json("/wx/notify/subscribe", {"templateIds": ids}, token)
        assert reply.code == 200 and reply.extend == {"grants": {}}
    assert await app.run_db(lambda: NotifyGrant.select().count()) == 0
    for _ in range(5):  # the real template, accepted 50 times: at most MAX_GRANTS kept
        reply = await api.post_json("/wx/notify/subscribe",
                                    {"templateIds": ["TPL-CHAT"] * 9 + ["junk"]}, token)
    assert reply.extend == {"grants": {"TPL-CHAT": subscriptions.MAX_GRANTS}}
    reply = await api.post_json("/wx/notify/subscribe", {"tmplIds": ["TPL-REVIEW"]}, token)
    assert reply.extend == {"grants": {"TPL-CHAT": subscriptions.MAX_GRANTS, "TPL-REVIEW": 1}}
    assert await app.run_db(lambda: NotifyGrant.select().count()) == 2
    for bad in ({}, {"templateIds": []}, {"templateIds": ["a"] * 11}, {"templateIds": "TPL-CHAT"}):
        assert (await api.post_json("/wx/notify/subscribe", bad, token)).status == 400


def test_anonymous_searchers_are_keyed_by_address_and_ipv6_by_its_64():
    assert hotwords.searcher("bob", "10.0.0.1") == "u:bob"
    assert hotwords.searcher(None, "10.0.0.1") == "a:10.0.0.1"
    assert hotwords.searcher(None, "::ffff:10.0.0.1") == "a:10.0.0.1"
    one, other = hotwords.searcher(None, "2001:db8::1"), hotwords.searcher(None, "2001:db8::9:1")
    assert one == other == "a:2001:db8::/64"  # rotating inside one /64 is still one searcher
    assert hotwords.searcher(None, "2001:db8:0:1::1") != one
