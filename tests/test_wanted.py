"""Want-to-buy posts (求购) over real HTTP, both databases: matching an approval (Chinese, pinyin,
prefix, price cap, place, once a post a day, inbox and subscribe message), the board and its
paging, content-check holds, limits, ownership, bad input, the admin page."""
import asyncio
import datetime

import pytest

from models.wanted import WantedKey, WantedPost
from services import admin_accounts, tokens, wanted
from tests.security_helpers import snapshot
from tests.test_admin_pages import PASSWORD, Session
from tests.test_goods import goods_body, set_user_state


@pytest.fixture
def settings_env(settings_env):
    settings_env.update(MARKET_LIMITS_PUBLISH_PER_MINUTE_USER="1000",
                        MARKET_LIMITS_PER_MINUTE_ADDRESS="100000",
                        MARKET_WANTED_PER_MINUTE_USER="1000", MARKET_WANTED_PAGE_SIZE="2",
                        MARKET_MODERATION_ENABLED="true",
                        MARKET_NOTIFY_ENABLED="true", MARKET_NOTIFY_WANTED_TEMPLATE="TPL-WANTED",
                        MARKET_LOCALE_DEFAULT="en_US")  # English texts are read here
    return settings_env


def admin(config):
    return tokens.issue(config["auth"]["token_secret"], "boss", 3600, role="admin")


async def post(api, token, openid, keywords, **extra):
    return await api.post_json("/wx/wanted", dict(extra, openid=openid, keywords=keywords), token)


async def posted(api, token, openid, keywords, **extra):
    reply = await post(api, token, openid, keywords, **extra)
    assert reply.status == 200 and reply.code == 200, reply
    return reply.extend["wanted"]["id"]


async def approved_listing(api, config, seller_token, seller, **fields):
    """Publish, then approve through /wx/admin/setState (the real review path)."""
    reply = await api.post_json("/wx/goods/goodsIssue", goods_body(seller, **fields), seller_token)
    assert reply.code == 200, reply
    gid = reply.extend["gid"]
    review = await api.get("/wx/admin/setState", admin(config), gid=gid, state=1)
    assert review.code == 200, review
    return gid


async def wanted_inbox(api, token, openid):
    reply = await api.get("/wx/lt/getNoticeInfo", token, type=4, openid=openid)
    assert reply.code == 200, reply
    return reply.extend["info"]


async def sent_to(wechat, count, seconds=3.0):
    for _ in range(int(seconds / 0.05)):
        if len(wechat.sent) >= count:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # and nothing more
    return [(m["touser"], m["template_id"]) for m in wechat.sent]


@pytest.mark.gen_test(timeout=90)
async def test_an_approval_notifies_matching_posts_once_a_day(api, app, config, wechat):
    names = ("sue", "amy", "bea", "cat", "dan", "eve", "fay", "gus")
    t = {o: await api.login(o, wxname="名-" + o) for o in names}
    await posted(api, t["amy"], "amy", "耳机", maxPrice="100")      # Chinese, under the cap
    await posted(api, t["bea"], "bea", "erji")                        # pinyin of 耳机
    await posted(api, t["cat"], "cat", "耳机", maxPrice="10")       # over the cap
    await posted(api, t["dan"], "dan", "自行车")                      # another thing
    await posted(api, t["eve"], "eve", "airpo 蓝牙")                  # prefix + a second word
    await posted(api, t["fay"], "fay", "耳机", place="东区")          # the listing's address
    await posted(api, t["gus"], "gus", "耳机", place="西区")          # another place
    await posted(api, t["sue"], "sue", "耳机")                        # the seller's own post
    await api.post_json("/wx/notify/subscribe", {"openid": "amy", "templateIds": ["TPL-WANTED"] * 3},
                        t["amy"])
    await api.post_json("/wx/notify/subscribe", {"openid": "bea", "templateIds": ["TPL-WANTED"] * 2},
                        t["bea"])
    # a pending listing tells nobody; its approval does
    reply = await api.post_json("/wx/goods/goodsIssue", goods_body(
        "sue", goodsName="蓝牙耳机", goodsTitle="AirPods 二代", goodsPriceNew="50",
        goodsAddress="东区宿舍"), t["sue"])
    gid = reply.extend["gid"]
    assert all([await wanted_inbox(api, t[o], o) == [] for o in names])
    assert (await api.get("/wx/admin/setState", admin(config), gid=gid, state=1)).code == 200
    told = {o: await wanted_inbox(api, t[o], o) for o in names}
    assert {o for o, lines in told.items() if lines} == {"amy", "bea", "eve", "fay"}
    line = told["amy"][0]
    assert (line["gid"], line["goodsName"], line["openid"], line["wxname"], line["content"]) == (
        gid, "蓝牙耳机", "sue", "名-sue", "耳机")
    assert sorted(await sent_to(wechat, 2)) == [("amy", "TPL-WANTED"), ("bea", "TPL-WANTED")]
    assert wechat.sent[0]["data"]["thing2"]["value"] == "蓝牙耳机"
    # a second match the same (China) day: no second notice, no second message
    await approved_listing(api, config, t["sue"], "sue", goodsName="二手耳机", goodsPriceNew="20")
    assert len(await wanted_inbox(api, t["amy"], "amy")) == 1
    assert len(await sent_to(wechat, 3, seconds=0.5)) == 2
    # the next day it may tell again
    yesterday = wanted.china_day(datetime.datetime.utcnow()) - datetime.timedelta(days=1)
    await app.run_db(lambda: WantedPost.update(notified_on=yesterday).execute())
    third = await approved_listing(api, config, t["sue"], "sue", goodsName="耳机", goodsPriceNew="30")
    lines = await wanted_inbox(api, t["amy"], "amy")
    assert [n["gid"] for n in lines][0] == third and len(lines) == 2
    assert sorted((await sent_to(wechat, 4))[2:]) == [("amy", "TPL-WANTED"), ("bea", "TPL-WANTED")]
    # a rejection, a deleted post, an expired one and a blocked owner tell nobody
    await app.run_db(lambda: WantedPost.update(notified_on=None).execute())
    mine = (await api.get("/wx/wanted/mine", t["bea"], openid="bea")).extend["wanted"]
    assert (await api.post_json("/wx/wanted/delete", {"openid": "bea", "id": mine[0]["id"]},
                                t["bea"])).code == 200
    await app.run_db(lambda: WantedPost.update(expires_at=datetime.datetime(2000, 1, 1)).where(
        WantedPost.openid == "fay").execute())
    await set_user_state(app, "eve", 10)
    reply = await api.post_json("/wx/goods/goodsIssue", goods_body(
        "sue", goodsName="耳机 airpods 蓝牙", goodsAddress="东区"), t["sue"])
    rejected = reply.extend["gid"]
    await api.get("/wx/admin/setState", admin(config), gid=rejected, state=2, reason="不清楚")
    assert len(await wanted_inbox(api, t["amy"], "amy")) == 2
    await approved_listing(api, config, t["sue"], "sue", goodsName="耳机 airpods 蓝牙",
                           goodsAddress="东区", goodsPriceNew="5")
    counts = {o: len(await wanted_inbox(api, t[o], o)) for o in ("amy", "bea", "cat", "eve", "fay")}
    assert counts == {"amy": 3, "bea": 2, "cat": 1, "eve": 1, "fay": 2}


@pytest.mark.gen_test(timeout=60)
async def test_matching_looks_up_keys_not_every_post(api, app, config):
    """An approval reads only the posts whose keys its tokens hold: 300 posts of other words
    cost no check (counted through the rule's own candidate lookup)."""
    t = {o: await api.login(o) for o in ("sue", "amy")}

    def many():
        now = datetime.datetime.utcnow()
        rows = [WantedPost.create(openid="u%d" % i, keywords="词%d号" % i, created_at=now,
                                  expires_at=now + datetime.timedelta(days=1)) for i in range(300)]
        for row in rows:
            wanted._add_keys(row)
    await app.run_db(many)
    await posted(api, t["amy"], "amy", "显示器")
    checked = []
    original = wanted.matches_tokens
    wanted.matches_tokens = lambda *a: checked.append(a[0]) or original(*a)
    try:
        await approved_listing(api, config, t["sue"], "sue", goodsName="显示器 27寸",
                               goodsTitle="二手", goodsDec="好")
    finally:
        wanted.matches_tokens = original
    assert checked == ["显示器"]
    assert len(await wanted_inbox(api, t["amy"], "amy")) == 1
    assert await app.run_db(lambda: WantedKey.select().count()) >= 301


@pytest.mark.gen_test(timeout=60)
async def test_board_pages_and_what_it_leaves_out(api, app, config):
    t = {o: await api.login(o, wxname="名-" + o) for o in ("amy", "bea", "cat", "dan")}
    ids = [await posted(api, t["amy"], "amy", "台灯"), await posted(api, t["bea"], "bea", "书架"),
           await posted(api, t["cat"], "cat", "风扇")]
    held = await post(api, t["dan"], "dan", "REVIEW 椅子")       # held by the content check
    assert held.code == 200 and held.extend["wanted"]["status"] == "held"
    first = await api.get("/wx/wanted/list")
    assert first.code == 200 and first.extend["more"] is True
    assert [p["id"] for p in first.extend["wanted"]] == [ids[2], ids[1]]
    assert set(first.extend["wanted"][0]) >= {"id", "openid", "keywords", "maxPrice", "place",
                                              "createTime", "expireTime", "status", "wxname",
                                              "headImg"}
    assert first.extend["wanted"][0]["wxname"] == "名-cat"
    second = await api.get("/wx/wanted/list", pageNum=1)
    assert [p["id"] for p in second.extend["wanted"]] == [ids[0]] and second.extend["more"] is False
    assert (await api.get("/wx/wanted/list", pageNum=2)).extend == {"wanted": [], "more": False}
    # a blocked owner's, an expired and a deleted post leave the board
    await set_user_state(app, "cat", 10)
    await app.run_db(lambda: WantedPost.update(expires_at=datetime.datetime(2000, 1, 1)).where(
        WantedPost.id == ids[1]).execute())
    assert [p["id"] for p in (await api.get("/wx/wanted/list")).extend["wanted"]] == [ids[0]]
    mine = (await api.get("/wx/wanted/mine", t["bea"], openid="bea")).extend["wanted"]
    assert [(p["id"], p["status"]) for p in mine] == [(ids[1], "expired")]
    await api.post_json("/wx/wanted/delete", {"openid": "amy", "id": ids[0]}, t["amy"])
    assert (await api.get("/wx/wanted/list")).extend["wanted"] == []
    assert (await api.get("/wx/wanted/mine", t["amy"], openid="amy")).extend["wanted"] == []
    for bad in ("-1", "x", "1.5", "100001"):
        reply = await api.get("/wx/wanted/list", pageNum=bad)
        assert reply.status == 400 and reply.code == 100, (bad, reply)


@pytest.mark.gen_test(timeout=60)
async def test_content_checks_hold_or_refuse_and_a_moderator_releases(api, app, config, wechat):
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    t = {o: await api.login(o) for o in ("sue", "amy")}
    await app.content.check_text("amy", 2, "warm up")  # the server token is stored once
    before = await app.run_db(snapshot)
    risky = await post(api, t["amy"], "amy", "RISKY 东西")
    assert risky.status == 400 and risky.code == 100 and "breaks the rules" in risky.json["msg"]
    risky_place = await post(api, t["amy"], "amy", "台灯", place="RISKY")
    assert risky_place.status == 400
    assert await app.run_db(snapshot) == before
    assert wechat.text_checks[-1]["content"] == "台灯\nRISKY" and wechat.text_checks[-1]["scene"] == 3
    held = await post(api, t["amy"], "amy", "台灯 REVIEW")
    pid = held.extend["wanted"]["id"]
    assert held.extend["wanted"]["status"] == "held"
    await approved_listing(api, config, t["sue"], "sue", goodsName="台灯", goodsDec="review 台灯")
    assert await wanted_inbox(api, t["amy"], "amy") == []         # held: no match
    s = Session(api)
    await s.sign_in()
    page = await s.get("/admin/wanted", status="held")
    assert page.status == 200 and "台灯 REVIEW".encode() in page.body
    assert (await s.post("/admin/wanted/%d/release" % pid, {})).status == 302
    assert [p["id"] for p in (await api.get("/wx/wanted/list")).extend["wanted"]] == [pid]
    await approved_listing(api, config, t["sue"], "sue", goodsName="台灯", goodsDec="review 台灯")
    assert len(await wanted_inbox(api, t["amy"], "amy")) == 1
    # take down: the confirmation page first, then a reason is required; the post leaves the
    # board and stops matching
    asked = await s.post("/admin/wanted/%d/take_down" % pid, {})
    assert asked.status == 200 and b'name="confirm"' in asked.body
    assert (await s.post("/admin/wanted/%d/take_down" % pid,
                         {"reason": "", "confirm": "yes"})).status == 400
    assert (await s.post("/admin/wanted/%d/take_down" % pid,
                         {"reason": "广告", "confirm": "yes"})).status == 302
    assert (await api.get("/wx/wanted/list")).extend["wanted"] == []
    mine = (await api.get("/wx/wanted/mine", t["amy"], openid="amy")).extend["wanted"]
    assert mine[0]["status"] == "takenDown"
    await app.run_db(lambda: WantedPost.update(notified_on=None).execute())
    await approved_listing(api, config, t["sue"], "sue", goodsName="台灯 review")
    assert len(await wanted_inbox(api, t["amy"], "amy")) == 1
    assert "广告".encode() in (await s.get("/admin/wanted", status="takenDown")).body
    assert b"Active posts on the board" in (await s.get("/admin/wanted")).body


@pytest.mark.gen_test(timeout=60)
async def test_limits_bad_input_and_ownership_change_nothing(api, app, config):
    t = {o: await api.login(o) for o in ("amy", "bea")}
    mine = [await posted(api, t["amy"], "amy", "书%d" % i) for i in range(5)]
    before = await app.run_db(snapshot)
    cases = [
        (await post(api, t["amy"], "amy", "第六条"), 429),                   # max_active_per_user
        (await post(api, t["bea"], "bea", "长" * 51), 400),
        (await post(api, t["bea"], "bea", "台灯", place="地" * 51), 400),
        (await post(api, t["bea"], "bea", ""), 400),
        (await post(api, t["bea"], "bea", "  "), 400),
        (await post(api, t["bea"], "bea", "!!! ---"), 400),                  # no word to look for
        (await post(api, t["bea"], "bea", ["台灯"]), 400),
        (await post(api, t["bea"], "bea", "台灯", maxPrice="abc"), 400),
        (await post(api, t["bea"], "bea", "台灯", maxPrice="-1"), 400),
        (await post(api, t["bea"], "bea", "台灯", maxPrice="1.001"), 400),
        (await post(api, t["bea"], "bea", "台灯", maxPrice="1e309"), 400),
        (await api.post_json("/wx/wanted", {"openid": "bea"}, t["bea"]), 400),
        (await api.fetch("POST", "/wx/wanted", body=b"[1]", token=t["bea"]), 400),
        (await api.fetch("POST", "/wx/wanted", body=b"{bad", token=t["bea"]), 400),
        (await post(api, t["bea"], "amy", "台灯"), 403),                     # naming another
        (await post(api, None, "bea", "台灯"), 401),
        (await api.post_json("/wx/wanted/delete", {"openid": "bea", "id": mine[0]}, t["bea"]), 403),
        (await api.post_json("/wx/wanted/delete", {"openid": "bea", "id": 99999}, t["bea"]), 404),
        (await api.post_json("/wx/wanted/delete", {"openid": "bea", "id": "x"}, t["bea"]), 400),
        (await api.post_json("/wx/wanted/delete", {"openid": "bea"}, t["bea"]), 400),
        (await api.post_json("/wx/wanted/delete", {"openid": "amy", "id": mine[0]}, t["bea"]), 403),
        (await api.get("/wx/wanted/mine", t["bea"], openid="amy"), 403),
        (await api.get("/wx/wanted/mine", openid="amy"), 401),
    ]
    for reply, status in cases:
        assert reply.status == status and reply.code == 100, (status, reply)
    assert await app.run_db(snapshot) == before
    # deleting one frees a place; a deleted post can't be deleted again
    assert (await api.post_json("/wx/wanted/delete", {"openid": "amy", "id": mine[0]},
                                t["amy"])).code == 200
    again = await api.post_json("/wx/wanted/delete", {"openid": "amy", "id": mine[0]}, t["amy"])
    assert again.status == 404
    assert (await post(api, t["amy"], "amy", "第六条")).code == 200
    # a blocked user can't post
    await set_user_state(app, "bea", 10)
    blocked = await post(api, t["bea"], "bea", "台灯")
    assert blocked.status == 403 and blocked.json["msg"] == "this account is blocked"


def test_keys_cover_every_alternative():
    """Each key set holds one key per alternative of the group it keys on (the index is
    complete: any listing a post matches holds a token with one of these keys)."""
    from search import index as search_index
    from search import tokens as search_tokens
    search_index.start_up()
    for words in ("耳机", "erji", "iphone13", "airpo 蓝牙", "自行车 二手", "书", "ipad 2"):
        keys = wanted.keys_of(words)
        assert keys and all(len(k) <= wanted.KEY_CHARS for k in keys), words
        tokens = {search_tokens.encode("x", w) for w in search_tokens.text_tokens(words)[0]} | \
            {search_tokens.encode("p", p) for p in search_tokens.text_tokens(words)[1]}
        assert wanted.matches_tokens(words, tokens), words  # a listing of its own words
        assert {t[:wanted.KEY_CHARS] for t in tokens} & set(keys), words



@pytest.mark.gen_test(timeout=60)
async def test_approvals_at_the_same_moment_tell_a_post_once(api, app, config):
    t = {o: await api.login(o) for o in ("sue", "amy")}
    await posted(api, t["amy"], "amy", "耳机")
    gids = []
    for i in range(4):
        reply = await api.post_json("/wx/goods/goodsIssue",
                                    goods_body("sue", goodsName="耳机%d" % i), t["sue"])
        gids.append(reply.extend["gid"])
    replies = await asyncio.gather(*[api.get("/wx/admin/setState", admin(config), gid=g, state=1)
                                     for g in gids])
    assert [r.code for r in replies] == [200] * 4
    assert len(await wanted_inbox(api, t["amy"], "amy")) == 1
    assert await app.run_db(lambda: WantedPost.get().matches) == 1


@pytest.mark.gen_test(timeout=120)
async def test_a_post_matches_exactly_what_a_search_for_its_words_finds(api, app):
    """On the search corpus (tests/search_corpus.json): for every query and every listing, the
    post's match equals /wx/goods/query finding it, and a match always shares a key (the key
    index misses nothing)."""
    from models.search import GoodsSearch
    from tests.test_search_quality import found, load_corpus, seed
    corpus = load_corpus()
    keys = await app.run_db(seed, corpus["listings"])
    gid_of = {k: g for g, k in keys.items()}
    rows = await app.run_db(lambda: list(GoodsSearch.select()))
    tokens = {keys[r.gid]: set(r.words.split()) | set(r.pinyin.split()) for r in rows}
    checked = 0
    for query in corpus["queries"]:
        searched = set(await found(api, keys, query["q"]))
        post_keys = set(wanted.keys_of(query["q"]))
        for key, listing_tokens in tokens.items():
            matched = wanted.matches_tokens(query["q"], listing_tokens)
            assert matched == (key in searched), (query["q"], key, gid_of[key])
            if matched:
                assert post_keys & {t[:wanted.KEY_CHARS] for t in listing_tokens}, (query["q"], key)
                checked += 1
    assert checked > 30
