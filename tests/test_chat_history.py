"""Issue 16: every message stored before its ack (group commits), the conversation replayed on
open, "received" by pong or receipt, since=, read receipts, history over REST, one-sided delete.
Real server, real sockets, both databases."""
import asyncio
import base64
import json
import os
import socket
import struct

import pytest

from services import chat
from tests import chat_helpers
from tests.chat_helpers import read, send, silent, users


@pytest.fixture
def settings_env(settings_env):
    """Bursts of messages here: the rate limit is tested elsewhere (test_chat.py)."""
    settings_env.update(MARKET_CHAT_RATE_PER_SECOND="10000", MARKET_CHAT_RATE_BURST="10000")
    return settings_env


async def acked(ws):
    """The next ack or refusal on a v2 socket (skipping message frames)."""
    frame = await read(ws)
    while frame.get("type") not in ("ack", "error"):
        frame = await read(ws)
    return frame


async def frames_until_quiet(ws, quiet=0.4):
    got = []
    try:
        while True:
            frame = await read(ws, quiet)
            if frame is None:
                return got
            got.append(frame)
    except asyncio.TimeoutError:
        return got


async def until(predicate, seconds=3.0):
    for _ in range(int(seconds / 0.02)):
        if await predicate():
            return True
        await asyncio.sleep(0.02)
    return await predicate()


class DeafClient:
    """A chat page whose phone stops reading: it completes the handshake, then never reads
    (so never answers a ping) and finally drops TCP without a close frame (RST)."""

    def __init__(self, port, me, peer, token):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET /wx/%s/%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n"
                           % (me, peer, port, key, token)).encode())
        head = b""
        while b"\r\n\r\n" not in head:  # the 101 response, and not one byte more
            head += self.sock.recv(1)
        assert b" 101 " in head.split(b"\r\n")[0], head

    def drop(self):
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def port_of(api):
    return int(api.base.rsplit(":", 1)[1])


# -- replay on open ----------------------------------------------------------------------------
@pytest.mark.gen_test
async def test_reopening_shows_the_conversation_both_directions_oldest_first(api, app):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"])
    b = await api.ws("bob", "alice", t["bob"])
    for i in range(12):  # the original client: no v, no msgId
        who, other, ws = (("alice", "bob", a), ("bob", "alice", b))[i % 2]
        await send(ws, fromOpenid=who, toOpenid=other, content="m%d" % i)
        assert (await read((b, a)[i % 2]))["content"] == "m%d" % i
    # both pages answered the ping that followed: everything counts as received
    assert await until(lambda: app.run_db(
        lambda: not chat_helpers.unreceived("bob", "alice") and not chat_helpers.unreceived("alice", "bob")))
    a.close()
    b.close()
    app.chat.history = 5
    b2 = await api.ws("bob", "alice", t["bob"])
    got = await frames_until_quiet(b2)
    assert [f["content"] for f in got] == ["m7", "m8", "m9", "m10", "m11"]
    assert [f["fromOpenid"] for f in got] == ["bob", "alice", "bob", "alice", "bob"]
    assert all(set(f) >= {"fromOpenid", "toOpenid", "content", "sendTime", "seq"} for f in got)
    assert [f["seq"] for f in got] == sorted(f["seq"] for f in got)
    app.chat.history = 0  # the original behaviour: nothing received is shown again
    b3 = await api.ws("bob", "alice", t["bob"])
    assert await silent(b3)


@pytest.mark.gen_test(timeout=60)
async def test_a_reader_that_stops_reading_and_drops_tcp_loses_nothing_acked(api, app):
    """Again and again: bob's page stops reading, alice's messages flow (acked `delivered`), the
    connection drops without a close frame. After reopening, every acked message is there, in
    order, exactly once."""
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    acked_ids, n = [], 0
    for round_ in range(4):
        deaf = await asyncio.get_running_loop().run_in_executor(  # blocking: not on the IOLoop
            None, DeafClient, port_of(api), "bob", "alice", t["bob"])
        await asyncio.sleep(0.05)
        for _ in range(8):
            await send(a, toOpenid="bob", content="x%d" % n, msgId="x%d" % n)
            ack = await acked(a)
            assert ack.get("status") in ("delivered", "stored"), ack
            acked_ids.append(ack["msgId"])
            n += 1
        await asyncio.sleep(0.4 if round_ % 2 else 0.0)  # past the confirming ping, or not
        deaf.drop()
        assert await until(lambda: asyncio.sleep(0, not app.registry.is_online("bob")))
    app.chat.history = 0  # only what was not received: all of it (none was confirmed)
    b = await api.ws("bob", "alice", t["bob"])
    got = [f["msgId"] for f in await frames_until_quiet(b)]
    assert got == acked_ids  # in order, exactly once, more than history_on_open
    assert await until(lambda: app.run_db(lambda: not chat_helpers.unreceived("bob", "alice")))
    b.close()
    b2 = await api.ws("bob", "alice", t["bob"])
    assert await silent(b2)  # confirmed by b's pong: not replayed again


@pytest.mark.gen_test(timeout=60)
async def test_a_message_arriving_during_the_replay_appears_once_and_in_order(api, app):
    t = await users(api, "alice", "bob", "carol")
    await api.ws("bob", "carol", t["bob"])  # bob stays online: alice's messages are live ones
    ops = [{"op": "msg", "from": "alice", "to": "bob", "content": "old%d" % i, "type": "text",
            "msgId": None, "time": chat.utcnow().replace(microsecond=0), "offline": False}
           for i in range(400)]
    await app.run_db(chat.store_batch, ops, 3)  # 400 unreceived: a replay that takes a while
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    for attempt in range(20):  # the faster replay leaves a narrower window: more tries
        held_before = app.chat.counts["held"]
        opening = asyncio.ensure_future(api.ws("bob", "alice", t["bob"]))
        for i in range(6):
            await send(a, toOpenid="bob", content="live%d-%d" % (attempt, i))
            assert (await acked(a))["status"] == "delivered"
        b = await opening
        got = await frames_until_quiet(b, 0.6)
        seqs = [f["seq"] for f in got]
        assert len(seqs) == len(set(seqs))  # no duplicate
        assert seqs == sorted(seqs)  # nothing live ahead of older ones
        contents = [f["content"] for f in got]
        for i in range(6):  # no gap: every live message is there
            assert contents.count("live%d-%d" % (attempt, i)) == 1
        b.close()
        if app.chat.counts["held"] > held_before:
            break
    assert app.chat.counts["held"] > 0, "no live message ever came during a replay"


@pytest.mark.gen_test
async def test_since_replays_exactly_what_is_after(api, app):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    b = await api.ws("bob", "alice", t["bob"], query={"v": "2"})
    seqs = []
    for i in range(5):
        await send(a, toOpenid="bob", content="s%d" % i, msgId="s%d" % i)
        frame = await read(b)
        assert frame["msgId"] == "s%d" % i and frame["content"] == "s%d" % i
        seqs.append(frame["seq"])
        assert (await acked(a))["status"] == "delivered"
    b.close()
    app.chat.history = 2
    b2 = await api.ws("bob", "alice", t["bob"], query={"v": "2", "since": str(seqs[1])})
    got = await frames_until_quiet(b2)
    assert [(f["seq"], f["msgId"]) for f in got] == [(s, "s%d" % i) for i, s in
                                                     enumerate(seqs) if i > 1]
    b3 = await api.ws("bob", "alice", t["bob"], query={"v": "2", "since": str(seqs[-1])})
    assert await silent(b3)
    with pytest.raises(Exception) as refused:
        await api.ws("bob", "alice", t["bob"], query={"v": "2", "since": "-1"})
    assert getattr(refused.value, "code", None) == 400


# -- receipts ----------------------------------------------------------------------------------
@pytest.mark.gen_test
async def test_v2_receipts_move_the_unread_count_and_reach_the_sender(api, app):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    for i in range(3):
        await send(a, toOpenid="bob", content="r%d" % i, msgId="r%d" % i)
        assert (await acked(a))["status"] == "stored"
    unread = lambda: api.get("/wx/lt/list", t["bob"], openid="bob")
    assert (await unread()).extend["chatLists"][0]["unread"] == 3
    b = await api.ws("bob", "alice", t["bob"], query={"v": "2"})
    got = await frames_until_quiet(b)
    assert [f["content"] for f in got] == ["r0", "r1", "r2"]
    assert (await unread()).extend["chatLists"][0]["unread"] == 3  # v2: receipts decide
    assert await app.run_db(chat_helpers.unreceived, "bob", "alice")  # v2: a pong is no receipt
    await send(b, type="received", seq=got[2]["seq"])
    assert await until(lambda: app.run_db(lambda: not chat_helpers.unreceived("bob", "alice")))
    assert await app.run_db(chat.offline_waiting) == 0  # received frees the offline slots
    await send(b, type="read", seq=got[0]["seq"])
    tick = await read(a)
    assert tick == {"type": "read", "fromOpenid": "bob", "toOpenid": "alice",
                    "seq": got[0]["seq"], "content": ""}
    assert (await unread()).extend["chatLists"][0]["unread"] == 2
    await send(a, toOpenid="bob", content="r3", msgId="r3")  # live while bob's v2 page is open
    assert (await acked(a))["status"] == "delivered"
    live = await read(b)
    assert live["content"] == "r3"
    assert (await unread()).extend["chatLists"][0]["unread"] == 3
    await send(b, type="read", seq=live["seq"])
    assert (await read(a))["seq"] == live["seq"]
    assert (await unread()).extend["chatLists"][0]["unread"] == 0
    await send(b, type="read", seq="x")
    assert (await read(b))["code"] == "bad_frame"


@pytest.mark.gen_test
async def test_the_original_client_confirms_by_pong_and_gets_no_acks_or_ticks(api, app):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"])
    for i in range(3):
        await send(a, fromOpenid="alice", toOpenid="bob", content="o%d" % i)
    await send(a, fromOpenid="alice", toOpenid="bob", content="o3")
    bubble = await read(a)  # the offline cap, as the original showed it
    assert bubble["fromOpenid"] == "system" and bubble["content"] == "对方不在线，最多发送3条离线消息"
    assert await silent(a)  # no acks for the original client
    b = await api.ws("bob", "alice", t["bob"])
    assert [f["content"] for f in await frames_until_quiet(b)] == ["o0", "o1", "o2"]
    assert await until(lambda: app.run_db(lambda: chat.offline_waiting() == 0))
    await send(a, fromOpenid="alice", toOpenid="bob", content="live")
    assert (await read(b))["content"] == "live"
    v2 = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    await frames_until_quiet(v2)
    await send(v2, type="read", seq=1)  # a tick for alice's v2 page would never reach bob's v1
    assert await silent(b)


# -- REST history and one-sided delete ---------------------------------------------------------
@pytest.mark.gen_test
async def test_history_endpoint_pages_newest_first_and_refuses_a_third_user(api, app):
    t = await users(api, "alice", "bob", "carol")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    await api.ws("bob", "alice", t["bob"])  # online: no offline cap
    for i in range(7):
        await send(a, toOpenid="bob", content="h%d" % i, msgId="h%d" % i)
        await acked(a)
    page = await api.get("/wx/chat/history", t["bob"], peer="alice", limit=3)
    assert page.code == 200
    assert [m["content"] for m in page.extend["messages"]] == ["h6", "h5", "h4"]
    assert page.extend["more"] is True
    before = page.extend["messages"][-1]["seq"]
    page2 = await api.get("/wx/chat/history", t["bob"], peer="alice", limit=3, before=before)
    assert [m["content"] for m in page2.extend["messages"]] == ["h3", "h2", "h1"]
    page3 = await api.get("/wx/chat/history", t["bob"], peer="alice", limit=3,
                          before=page2.extend["messages"][-1]["seq"])
    assert [m["content"] for m in page3.extend["messages"]] == ["h0"]
    assert page3.extend["more"] is False
    # carol: not a party. Naming alice is refused; her own conversation with bob is empty
    spy = await api.get("/wx/chat/history", t["carol"], openid="alice", peer="bob")
    assert spy.status == 403 and spy.code == 100
    own = await api.get("/wx/chat/history", t["carol"], peer="bob")
    assert own.code == 200 and own.extend["messages"] == []
    assert (await api.get("/wx/chat/history", None, peer="alice")).status == 401
    for bad in ({"limit": "101"}, {"limit": "0"}, {"before": "x"}, {}):
        reply = await api.get("/wx/chat/history", t["bob"], **dict({"peer": "alice"}, **bad)
                              if bad else {})
        assert reply.status == 400 and reply.code == 100, (bad, reply)


@pytest.mark.gen_test
async def test_delete_hides_messages_for_the_deleting_side_only(api, app):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    for i in range(3):
        await send(a, toOpenid="bob", content="d%d" % i, msgId="d%d" % i)
        await acked(a)
    reply = await api.get("/wx/lt/deleteList1", t["bob"], myOpenid="bob", beDeleteOpenid="alice")
    assert reply.code == 200
    assert (await api.get("/wx/lt/list", t["bob"], openid="bob")).extend["chatLists"] == []
    assert await app.run_db(chat.offline_waiting) == 0  # deleted: no longer waiting
    hist = await api.get("/wx/chat/history", t["bob"], peer="alice")
    assert hist.extend["messages"] == []
    mine = await api.get("/wx/chat/history", t["alice"], peer="bob")  # alice keeps everything
    assert [m["content"] for m in mine.extend["messages"]] == ["d2", "d1", "d0"]
    await send(a, toOpenid="bob", content="again", msgId="d3")
    await acked(a)
    rows = (await api.get("/wx/lt/list", t["bob"], openid="bob")).extend["chatLists"]
    assert [(r["fromOpenid"], r["lastContext"], r["unread"]) for r in rows] == [
        ("alice", "again", 1)]
    b = await api.ws("bob", "alice", t["bob"])
    assert [f["content"] for f in await frames_until_quiet(b)] == ["again"]
    a.close()
    a2 = await api.ws("alice", "bob", t["alice"])
    assert [f["content"] for f in await frames_until_quiet(a2)] == ["d0", "d1", "d2", "again"]


# -- storage -----------------------------------------------------------------------------------
@pytest.mark.gen_test
async def test_messages_are_written_in_group_commits_and_resends_stored_once(api, app):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    b = await api.ws("bob", "alice", t["bob"])
    await frames_until_quiet(b, 0.1)
    commits = app.chat.writer.commits
    for i in range(20):  # one burst, written before the first ack arrives
        send(a, toOpenid="bob", content="g%d" % i, msgId="g%d" % i)
    acks = [await acked(a) for _ in range(20)]
    assert [x["status"] for x in acks] == ["delivered"] * 20
    assert app.chat.writer.commits - commits < 20  # batches, not one commit per message
    got = [(await read(b))["content"] for _ in range(20)]
    assert got == ["g%d" % i for i in range(20)]
    app.chat.recent.clear()  # as another process, or after a restart: only the database knows
    await send(a, toOpenid="bob", content="g3", msgId="g3")
    assert (await acked(a))["status"] == "duplicate"
    assert await silent(b, 0.1)
    rows = await app.run_db(lambda: chat.ChatMessage.select().where(
        chat.ChatMessage.client_msg_id == "g3").count())
    assert rows == 1
