"""Issue 25 item 1: recall (撤回). A sender takes back their own message within
chat.recall_seconds, by frame or over REST; every socket of both parties gets the recalled
frame (the original client a bubble it can show), and replay, history and the conversation list
show the placeholder from then on, never the content; a report still shows it. Real server, real
sockets, both databases (two processes on Redis: tests/test_scaleout.py)."""
import asyncio
import datetime

import pytest

from models.chat import ChatList, ChatMessage
from services import admin_accounts, reports
from tests import chat_helpers
from tests.chat_helpers import read, send, silent, users
from tests.test_chat_media import chat_picture
from tests.test_admin_pages import PASSWORD, Session
from tests.test_goods import approve, publish

YOU = "你撤回了一条消息"
PEER = "对方撤回了一条消息"


@pytest.fixture
def settings_env(settings_env):
    settings_env.update(MARKET_CHAT_RATE_PER_SECOND="10000", MARKET_CHAT_RATE_BURST="10000")
    return settings_env


async def next_of(ws, kind):
    """The next frame of this type (skipping others)."""
    frame = await read(ws)
    while frame.get("type") != kind:
        frame = await read(ws)
    return frame


async def sent(ws, msg_id, **frame):
    """Send a message on a v2 socket; its seq (from the store, once the ack came)."""
    await send(ws, msgId=msg_id, **frame)
    ack = await next_of(ws, "ack")
    assert ack["msgId"] == msg_id and ack["status"] in ("delivered", "stored"), ack
    assert ack["seq"] == await seq_of(ws.app, msg_id)  # the ack names what a recall names
    return ack["seq"]


async def seq_of(app, msg_id):
    return await app.run_db(lambda: ChatMessage.get(ChatMessage.client_msg_id == msg_id).seq)


async def row(app, seq):
    return await app.run_db(ChatMessage.get_by_id, seq)


async def recall_rest(api, token, peer, seq, **extra):
    return await api.post_json("/wx/chat/recall", dict({"peer": peer, "seq": seq}, **extra),
                               token)


async def list_row(api, token, owner, peer):
    rows = (await api.get("/wx/lt/list", token, openid=owner)).extend["chatLists"]
    return [r for r in rows if r["fromOpenid"] == peer][0]


async def v2(api, me, peer, token):
    ws = await api.ws(me, peer, token, query={"v": "2"})
    ws.app = api.app
    return ws


@pytest.fixture
def rapi(api, app):
    api.app = app
    return api


# -- the recall itself, on every socket -------------------------------------------------------
@pytest.mark.gen_test(timeout=30)
async def test_a_recall_reaches_every_socket_of_both_worded_for_each_and_v1_as_a_bubble(rapi, app):
    api = rapi
    t = await users(api, "alice", "bob")
    a1 = await v2(api, "alice", "bob", t["alice"])
    a_v1 = await api.ws("alice", "bob", t["alice"])  # the original client, the sender's phone
    b2 = await v2(api, "bob", "alice", t["bob"])
    b_v1 = await api.ws("bob", "alice", t["bob"])  # the original client, the recipient
    seq = await sent(a1, "m1", toOpenid="bob", content="这台相机九成新")
    for ws in (a_v1, b2, b_v1):
        assert (await next_of(ws, "text"))["content"] == "这台相机九成新"
    await send(a1, type="recall", seq=seq)
    mine = await next_of(a1, "recalled")  # the socket that recalled gets it: its confirmation
    assert mine == {"type": "recalled", "seq": seq, "fromOpenid": "alice", "toOpenid": "bob",
                    "content": YOU, "sendTime": mine["sendTime"], "msgId": "m1",
                    "recalledAt": mine["recalledAt"]}
    assert (await next_of(a_v1, "recalled"))["content"] == YOU  # v1 draws it on the right
    theirs = await next_of(b2, "recalled")
    assert theirs["content"] == PEER and theirs["fromOpenid"] == "alice" and theirs["seq"] == seq
    bubble = await read(b_v1)  # what the original client draws: fromOpenid and content
    assert bubble["fromOpenid"] == "alice" and bubble["content"] == PEER
    for ws in (a1, a_v1, b2, b_v1):
        assert await silent(ws, 0.2)
    stored = await row(app, seq)
    assert stored.recalled_at is not None and stored.content == "这台相机九成新"


@pytest.mark.gen_test(timeout=30)
async def test_after_a_recall_replay_history_and_list_show_the_placeholder_never_the_content(
        rapi, app):
    api = rapi
    t = await users(api, "alice", "bob")
    a = await v2(api, "alice", "bob", t["alice"])
    seqs = [await sent(a, "m%d" % i, toOpenid="bob", content="秘密%d" % i) for i in range(3)]
    await app.list_writer.flush()
    assert (await list_row(api, t["bob"], "bob", "alice"))["unread"] == 3
    # the middle one: the list keeps the newest message; one unread fewer
    assert (await recall_rest(api, t["alice"], "bob", seqs[1])).code == 200
    got = await list_row(api, t["bob"], "bob", "alice")
    assert (got["lastContext"], got["unread"]) == ("秘密2", 2)
    # the newest: the list shows the placeholder
    reply = await recall_rest(api, t["alice"], "bob", seqs[2])
    assert reply.code == 200 and reply.extend["seq"] == seqs[2] and reply.extend["recalledAt"]
    got = await list_row(api, t["bob"], "bob", "alice")
    assert (got["lastContext"], got["unread"]) == (PEER, 1)
    # history over REST, for each side in its words
    for me, peer, text in (("bob", "alice", PEER), ("alice", "bob", YOU)):
        history = (await api.get("/wx/chat/history", t[me], peer=peer)).extend["messages"]
        assert [(m["seq"], m["type"], m["content"]) for m in history] == [
            (seqs[2], "recalled", text), (seqs[1], "recalled", text), (seqs[0], "text", "秘密0")]
        assert "秘密1" not in str(history) and "秘密2" not in str(history)
    # replay on open: v1 and v2, v2 with since=
    b1 = await api.ws("bob", "alice", t["bob"])
    replay = [await read(b1) for _ in range(3)]
    assert [(f["seq"], f["content"]) for f in replay] == [
        (seqs[0], "秘密0"), (seqs[1], PEER), (seqs[2], PEER)]
    assert all(f["fromOpenid"] == "alice" for f in replay)
    b2 = await api.ws("bob", "alice", t["bob"], query={"v": "2", "since": str(seqs[0])})
    assert [(f["type"], f["content"]) for f in [await read(b2), await read(b2)]] == [
        ("recalled", PEER), ("recalled", PEER)]
    # a v2 read receipt counts only what is still shown
    await send(b2, type="read", seq=seqs[0])
    await asyncio.sleep(0.3)
    assert (await list_row(api, t["bob"], "bob", "alice"))["unread"] == 0
    # the moderators' view of a report keeps the content
    report = await api.post_json("/wx/report", {"openid": "bob", "targetType": "chat",
                                                "targetId": "alice", "reason": "诈骗",
                                                "seq": seqs[2]}, t["bob"])
    assert report.code == 200, report
    group = [g for g in await app.run_db(reports.queue) if g["targetType"] == "chat"][0]
    stored = group["context"]["messages"]["stored"]
    assert [(m["content"], m["recalled"]) for m in stored] == [
        ("秘密0", False), ("秘密1", True), ("秘密2", True)]
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    session = Session(api)
    await session.sign_in()
    page = (await session.get("/admin/reports")).body.decode()
    assert "alice: 秘密2 <em>(发送者已撤回)</em>" in page and "alice: 秘密0</li>" in page


@pytest.mark.gen_test(timeout=30)
async def test_an_offline_message_recalled_frees_its_slot_and_is_never_shown(rapi, app, config):
    api = rapi
    t = await users(api, "alice", "bob")
    a = await v2(api, "alice", "bob", t["alice"])
    seqs = [await sent(a, "o%d" % i, toOpenid="bob", content="离线%d" % i) for i in range(3)]
    await send(a, toOpenid="bob", content="第四条", msgId="o3")
    assert (await next_of(a, "error"))["code"] == "offline_limit"
    await send(a, type="recall", seq=seqs[0])
    assert (await next_of(a, "recalled"))["seq"] == seqs[0]
    assert (await sent(a, "o4", toOpenid="bob", content="第四条")) > seqs[2]  # its slot is free
    b = await api.ws("bob", "alice", t["bob"])
    got = [await read(b) for _ in range(4)]
    assert [f["content"] for f in got] == [PEER, "离线1", "离线2", "第四条"]
    await asyncio.sleep(0.6)  # the pong confirms the placeholder too: nothing waits any more
    assert await app.run_db(chat_helpers.unreceived, "bob", "alice") == []


@pytest.mark.gen_test(timeout=60)
async def test_image_and_goods_messages_are_recalled_too(rapi, app):
    api = rapi
    t = await users(api, "alice", "bob")
    picture = await chat_picture(api, t["alice"], "alice")
    gid = await publish(api, t["alice"], "alice", goodsTitle="台灯", goodsPriceNew="20")
    await approve(app, gid)
    a = await v2(api, "alice", "bob", t["alice"])
    b = await v2(api, "bob", "alice", t["bob"])
    image = await sent(a, "i1", toOpenid="bob", type="image", content=picture["name"])
    goods = await sent(a, "g1", toOpenid="bob", type="goods", content=str(gid))
    assert (await next_of(b, "image"))["seq"] == image
    assert (await next_of(b, "goods"))["seq"] == goods
    for seq in (image, goods):
        await send(a, type="recall", seq=seq)
        frame = await next_of(b, "recalled")
        assert frame["seq"] == seq and frame["content"] == PEER
        assert "thumbUrl" not in frame and "goods" not in frame
    history = (await api.get("/wx/chat/history", t["bob"], peer="alice")).extend["messages"]
    assert [m["type"] for m in history] == ["recalled", "recalled"]
    assert picture["name"] not in str(history) and "台灯" not in str(history)


# -- refusals: the reason, in Chinese, and nothing changes ------------------------------------
@pytest.mark.gen_test(timeout=30)
async def test_refusals_say_why_in_chinese_and_change_nothing(rapi, app):
    api = rapi
    t = await users(api, "alice", "bob", "carol")
    a = await v2(api, "alice", "bob", t["alice"])
    b = await v2(api, "bob", "alice", t["bob"])
    c = await v2(api, "carol", "bob", t["carol"])
    mine = await sent(a, "a1", toOpenid="bob", content="你好")
    theirs = await sent(b, "b1", toOpenid="alice", content="在的")
    carols = await sent(c, "c1", toOpenid="bob", content="卡罗尔的消息")
    old = await sent(a, "a2", toOpenid="bob", content="很久以前")
    sent_at = (await row(app, old)).send_time
    await app.run_db(lambda: ChatMessage.update(
        send_time=sent_at - datetime.timedelta(seconds=121)).where(ChatMessage.seq == old)
        .execute())
    await app.list_writer.flush()
    before = await app.run_db(lambda: [(m.seq, m.recalled_at) for m in ChatMessage.select()])
    lists = await app.run_db(lambda: [(r.last_context, r.unread) for r in ChatList.select()])
    cases = [(theirs, "recall_not_own", 403, "只能撤回自己发送的消息"),
             (carols, "recall_unknown", 404, "这个对话中没有这条消息"),
             (999999, "recall_unknown", 404, "这个对话中没有这条消息"),
             (old, "recall_too_late", 400, "发送超过2分钟的消息不能撤回")]
    for seq, code, status, text in cases:
        await send(a, type="recall", seq=seq)
        error = await next_of(a, "error")
        assert (error["code"], error["content"], error["fromOpenid"]) == (code, text, "system")
        reply = await recall_rest(api, t["alice"], "bob", seq)
        assert (reply.status, reply.code, reply.json["msg"]) == (status, 100, text), reply
    await app.list_writer.flush()  # the refusals changed no conversation list either
    assert await app.run_db(
        lambda: [(r.last_context, r.unread) for r in ChatList.select()]) == lists
    assert (await recall_rest(api, t["alice"], "bob", mine)).code == 200
    again = await recall_rest(api, t["alice"], "bob", mine)
    assert (again.status, again.json["msg"]) == (409, "这条消息已经撤回了")
    await send(a, type="recall", seq=mine)
    assert (await next_of(a, "error"))["code"] == "recall_done"
    # the seq of bob's conversation with carol, named as if it were in alice's
    assert (await recall_rest(api, t["carol"], "alice", carols)).status == 404
    after = await app.run_db(lambda: [(m.seq, m.recalled_at) for m in ChatMessage.select()])
    assert [x for x in after if x[0] != mine] == [x for x in before if x[0] != mine]
    assert await silent(c, 0.2)  # carol saw nothing of any of it


@pytest.mark.gen_test(timeout=30)
async def test_bad_rest_input_is_refused_with_the_field_named(rapi):
    api = rapi
    t = await users(api, "alice", "bob")
    for body, needle in (({"peer": "bob"}, "要撤回的消息"), ({"seq": 1}, "聊天对象"),
                         ({"peer": "bob", "seq": "²"}, "要撤回的消息"),
                         ({"peer": "bob", "seq": "1e3"}, "要撤回的消息"),
                         ({"peer": "bob", "seq": "-0"}, "要撤回的消息"),
                         ({"peer": "bob", "seq": True}, "要撤回的消息"),
                         ({"peer": "bob", "seq": 1, "openid": "carol"}, "")):
        reply = await api.post_json("/wx/chat/recall", body, t["alice"])
        assert reply.code == 100 and reply.status in (400, 403), (body, reply)
        assert needle in reply.json["msg"], (body, reply)
    assert (await api.post_json("/wx/chat/recall", {"peer": "bob", "seq": 1})).status == 401
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    for seq in (0, -1, "3", 1.5, True, None):
        await send(a, type="recall", seq=seq)
        assert (await read(a))["code"] == "bad_frame", seq


@pytest.mark.gen_test(timeout=60)
async def test_twenty_parallel_recalls_of_one_message_succeed_once(rapi, app):
    api = rapi
    t = await users(api, "alice", "bob")
    a = await v2(api, "alice", "bob", t["alice"])
    seq = await sent(a, "p1", toOpenid="bob", content="并发")
    replies = await asyncio.gather(*[recall_rest(api, t["alice"], "bob", seq)
                                     for _ in range(20)])
    assert sorted(r.status for r in replies) == [200] + [409] * 19
    assert (await next_of(a, "recalled"))["seq"] == seq
    assert await silent(a, 0.3)  # one recalled frame, not twenty


@pytest.mark.gen_test(timeout=30)
async def test_recall_switched_off_is_refused(rapi, app):
    api = rapi
    app.config["chat"]["recall_seconds"] = 0
    t = await users(api, "alice", "bob")
    a = await v2(api, "alice", "bob", t["alice"])
    seq = await sent(a, "x1", toOpenid="bob", content="hi")
    reply = await recall_rest(api, t["alice"], "bob", seq)
    assert (reply.status, reply.json["msg"]) == (403, "撤回消息功能未开启")
    assert (await row(app, seq)).recalled_at is None


@pytest.mark.gen_test(timeout=30)
async def test_a_blocked_account_cannot_recall_and_retention_purges_recalled_messages(
        rapi, app, config):
    from models.user import BLOCKED, User
    from realtime.retention import ChatRetention
    api = rapi
    t = await users(api, "alice", "bob")
    a = await v2(api, "alice", "bob", t["alice"])
    first = await sent(a, "b1", toOpenid="bob", content="一")
    second = await sent(a, "b2", toOpenid="bob", content="二")
    assert (await recall_rest(api, t["alice"], "bob", first)).code == 200
    await app.run_db(lambda: User.update(state=BLOCKED).where(User.openid == "alice").execute())
    reply = await recall_rest(api, t["alice"], "bob", second)
    assert (reply.status, reply.code) == (403, 100), reply
    assert (await row(app, second)).recalled_at is None
    # retention treats a recalled message like any other
    retention = ChatRetention(app.run_db, config["chat"]["history_days"], str(config["base_dir"]))
    later = datetime.datetime.utcnow() + datetime.timedelta(days=config["chat"]["history_days"] + 1)
    assert (await retention.purge(later))[0] == 2
    assert await app.run_db(lambda: ChatMessage.select().count()) == 0


@pytest.mark.gen_test(timeout=30)
async def test_each_reader_gets_the_placeholder_in_its_language(rapi, app):
    api = rapi
    t = await users(api, "alice", "bob")
    a = await v2(api, "alice", "bob", t["alice"])
    english = await api.ws("bob", "alice", t["bob"], query={"v": "2"},
                           headers={"Accept-Language": "en-US,en;q=0.9"})
    seq = await sent(a, "e1", toOpenid="bob", content="oops")
    assert (await read(english))["seq"] == seq
    await send(a, type="recall", seq=seq)
    assert (await next_of(a, "recalled"))["content"] == YOU
    assert (await next_of(english, "recalled"))["content"] == "The other party recalled a message"
    reply = await api.fetch("GET", "/wx/chat/history", {"peer": "bob"}, t["alice"],
                            headers={"Accept-Language": "en"})
    assert [m["content"] for m in reply.json["extend"]["messages"]] == ["You recalled a message"]


@pytest.mark.gen_test(timeout=30)
async def test_a_list_change_written_after_the_recall_brings_neither_content_nor_count_back(
        rapi, app):
    """The order a recall and a pending list write can take across processes (the other
    process's list writer still holds the message's change when the recall commits): here the
    change is noted again after the rule, as that writer would write it. It shows the
    placeholder and does not count the recalled message; a message after it counts."""
    api = rapi
    t = await users(api, "alice", "bob")
    a = await v2(api, "alice", "bob", t["alice"])
    first = await sent(a, "k0", toOpenid="bob", content="还在")
    seq = await sent(a, "k1", toOpenid="bob", content="秘密")
    await app.list_writer.flush()
    assert (await recall_rest(api, t["alice"], "bob", seq)).code == 200
    got = await list_row(api, t["bob"], "bob", "alice")
    assert (got["lastContext"], got["unread"]) == (PEER, 1)
    # the late change of the recalled message (the other process's writer, written now)
    app.list_writer.note_message("alice", "bob", "秘密", 1, seq=seq)
    await app.list_writer.flush()
    got = await list_row(api, t["bob"], "bob", "alice")
    assert (got["lastContext"], got["unread"]) == (PEER, 1)
    # a late change of two: the recalled one counted with one still shown, which is newest
    app.list_writer.note_message("alice", "bob", "秘密", 1, seq=seq)
    app.list_writer.note_message("alice", "bob", "还在", 1, seq=first)
    await app.list_writer.flush()
    got = await list_row(api, t["bob"], "bob", "alice")
    assert (got["lastContext"], got["unread"]) == ("还在", 2)
