"""Issue 25 item 2: safety notices in chat. A message that looks like one of the usual frauds
(payment or a deposit before meeting, moving the talk elsewhere, a link) gets its RECIPIENT one
notice per conversation and China day, with advice for that kind; the message is delivered and
stored unchanged. The matcher undoes the usual evasions. Real server and sockets, both databases
(two processes on Redis: tests/test_chat_recall_scaleout.py)."""
import asyncio
import json

import pytest

from models.chat import ChatMessage, SafetyNotice
from services import dashboard, safety, safety_notices
from services.clock import display_now
from settings import ConfigError, SAFETY_KINDS, load_config
from tests.chat_helpers import read, send, silent, users
from tests.test_admin_pages import PASSWORD, Session
from services import admin_accounts

MATCHER = safety.Matcher(load_config(None, environ={}, base_dir="/tmp")["safety"]["kinds"])
PAYMENT = "交易提醒：请当面交易，验货后再付款；不要向陌生人预付定金、押金或先转账。"
CONTACT_START = "交易提醒：请在平台内沟通"


# -- the matcher: a pure function --------------------------------------------------------------
@pytest.mark.parametrize("text,kind", [
    ("可以先转账吗", "payment"), ("付50定金我给你留着", "payment"), ("押 金 一百", "payment"),
    ("你先付款我再发货", "payment"), ("支付宝转账也行", "payment"), ("微信转账", "payment"),
    ("先·付·款", "payment"), ("转\u200b账", "payment"),  # a zero-width space between
    ("加微信聊", "contact"), ("加 微 信", "contact"), ("加.微.信", "contact"),
    ("VX: abc123", "contact"), ("ｖｘ：ａｂｃ", "contact"), ("Ｖ信", "contact"), ("v 信", "contact"),
    ("WX号 abc", "contact"), ("我QQ 12345678", "contact"), ("ＱＱ：１２３４５６７", "contact"),
    ("扣扣号多少", "contact"), ("我的QQ是 1234567", "contact"), ("打我电话 13812345678", "contact"),
    ("138 1234 5678", "contact"), ("１３８－１２３４－５６７８", "contact"),
    ("1 3 8 1 2 3 4 5 6 7 8", "contact"),
    ("看这个 https://evil.example/pay", "link"), ("t.cn/AbCd", "link"), ("WWW.Pay.Top", "link"),
    ("淘宝 item.taobao.com 上有", "link"), ("ＨＴＴＰ：／／x.y", "link"),
])
def test_the_matcher_finds_each_kind_through_the_usual_evasions(text, kind):
    assert MATCHER.match(text) == kind


@pytest.mark.parametrize("text", [
    "还在吗", "iPhone 13 128G 2000元", "周五下午四点图书馆门口见", "可以便宜点吗？", "15000",
    "2026 12 05 见", "这本书的版本是 2.0", "welcome", "我想要这个台灯", "", "😀😀",
    "价格 120，九成新", "订单号 2026120512",
])
def test_ordinary_messages_match_nothing(text):
    assert MATCHER.match(text) is None


def test_the_kinds_come_from_config_and_a_bad_pattern_is_a_config_error(tmp_path):
    shipped = load_config("config.yaml", environ={})["safety"]["kinds"]
    assert shipped == load_config(None, environ={}, base_dir=str(tmp_path))["safety"]["kinds"]
    assert list(shipped) == list(SAFETY_KINDS)
    mine = {"deal": {"words": ["私下交易"], "advice": "走平台"}}
    config = load_config(None, environ={"MARKET_SAFETY_KINDS": json.dumps(mine)},
                         base_dir=str(tmp_path))
    matcher = safety.Matcher(config["safety"]["kinds"])
    assert matcher.match("我们 私 下 交易吧") == "deal" and matcher.match("先转账") is None
    for bad in ({"x": {"patterns": ["(unclosed"], "advice": "a"}},
                {"x": {"words": ["a"]}}, {"x": {"advice": "a"}}, {},
                {"x": {"words": ["a"], "advice": "a", "colour": "red"}}):
        with pytest.raises(ConfigError, match="safety.kinds|MARKET_SAFETY_KINDS"):
            load_config(None, environ={"MARKET_SAFETY_KINDS": json.dumps(bad)},
                        base_dir=str(tmp_path))


# -- over real sockets -------------------------------------------------------------------------
async def notice(ws):
    """The next safety notice on this socket (skipping other frames)."""
    frame = await read(ws)
    while frame.get("type") != "notice":
        frame = await read(ws)
    return frame


@pytest.mark.gen_test(timeout=30)
async def test_the_recipient_gets_one_notice_per_conversation_and_day_the_message_unchanged(
        api, app):
    t = await users(api, "alice", "bob", "carol")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    b2 = await api.ws("bob", "alice", t["bob"], query={"v": "2"})
    b1 = await api.ws("bob", "alice", t["bob"])  # the original client: a bubble from system
    await send(a, toOpenid="bob", content="先付 50 定金，我给你留着", msgId="1")
    for ws in (b2, b1):
        got = await read(ws)
        assert got["content"] == "先付 50 定金，我给你留着"  # delivered as it was written
        frame = await read(ws)
        assert frame == {"type": "notice", "kind": "safety", "topic": "payment",
                         "fromOpenid": "system", "toOpenid": "bob", "peer": "alice",
                         "content": PAYMENT, "sendTime": frame["sendTime"]}
    # the sender is told nothing; a second matching message the same day: no second notice
    await send(a, toOpenid="bob", content="加我微信吧 abc", msgId="2")
    assert (await read(b2))["content"] == "加我微信吧 abc"
    assert (await read(b1))["content"] == "加我微信吧 abc"
    assert await silent(b2, 0.4) and await silent(b1, 0.1)
    frames = []
    while True:
        try:
            frames.append(await read(a, 0.3))
        except asyncio.TimeoutError:
            break
    assert [f["type"] for f in frames] == ["ack", "ack"]
    stored = await app.run_db(lambda: [m.content for m in ChatMessage.select()
                                       .order_by(ChatMessage.seq)])
    assert stored == ["先付 50 定金，我给你留着", "加我微信吧 abc"]
    # another conversation of bob's gets its own; the other direction too, with its own advice
    c = await api.ws("carol", "bob", t["carol"])
    await send(c, toOpenid="bob", content="看看 t.cn/abc")
    assert (await notice(b2))["topic"] == "link"
    b_to_a = await api.ws("alice", "bob", t["alice"])
    await send(b2, toOpenid="alice", content="我的QQ是 1234567")
    got = await notice(b_to_a)
    assert got["topic"] == "contact" and got["content"].startswith(CONTACT_START)
    day = display_now()[:10]
    rows = await app.run_db(lambda: sorted((n.recipient, n.sender, n.day, n.kind)
                                           for n in SafetyNotice.select()))
    assert rows == [("alice", "bob", day, "contact"), ("bob", "alice", day, "payment"),
                    ("bob", "carol", day, "link")]


@pytest.mark.gen_test(timeout=30)
async def test_an_offline_recipient_is_told_when_opening_the_conversation(api, app):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    await send(a, toOpenid="bob", content="押金转我支付宝", msgId="1")
    assert (await read(a))["status"] == "stored"
    await asyncio.sleep(0.3)  # nobody took the notice: its row is given back
    assert await app.run_db(lambda: SafetyNotice.select().count()) == 0
    b = await api.ws("bob", "alice", t["bob"])
    assert (await read(b))["content"] == "押金转我支付宝"  # the replay, then the notice
    assert (await read(b))["content"] == PAYMENT
    b_again = await api.ws("bob", "alice", t["bob"])
    assert (await read(b_again))["content"] == "押金转我支付宝"
    assert await silent(b_again, 0.4)  # once a day


def test_a_claim_is_once_per_recipient_sender_and_day(database):
    assert safety_notices.claim("bob", "alice", "2026-12-07", "payment")
    assert not safety_notices.claim("bob", "alice", "2026-12-07", "contact")
    assert safety_notices.claim("bob", "alice", "2026-12-08", "contact")  # another day
    assert safety_notices.claim("alice", "bob", "2026-12-07", "link")  # the other recipient
    safety_notices.release("bob", "alice", "2026-12-07")
    assert safety_notices.claim("bob", "alice", "2026-12-07", "link")
    days = ["2026-12-06", "2026-12-07", "2026-12-08"]
    assert safety_notices.per_day(days) == {
        "total": [0, 2, 1], "kinds": {"link": [0, 2, 0], "contact": [0, 0, 1]}}


@pytest.mark.gen_test(timeout=30)
async def test_switched_off_nothing_is_said(api, app):
    app.chat.safety.enabled = False
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"])
    b = await api.ws("bob", "alice", t["bob"])
    await send(a, toOpenid="bob", content="先转账")
    assert (await read(b))["content"] == "先转账"
    assert await silent(b, 0.4)


@pytest.mark.gen_test(timeout=30)
async def test_moderators_see_per_day_counts_on_the_dashboard(api, app):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"])
    b = await api.ws("bob", "alice", t["bob"])
    await send(a, toOpenid="bob", content="先付款")
    assert (await notice(b))["topic"] == "payment"
    trends = await app.run_db(dashboard.trends)
    assert trends["safety"][-1] == 1 and trends["safety_today"] == {"payment": 1}
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    s = Session(api)
    await s.sign_in()
    page = (await s.get("/admin/")).body
    page = page.decode()
    assert 'id="trend-safety"' in page
    assert "<b>1</b> 今日聊天交易提醒 (先付款/定金: 1)" in page
