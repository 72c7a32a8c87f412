"""Chat over real WebSockets: live, multi-connection, offline cap, conversation list, refusals."""
import asyncio
import json

import pytest
from tornado.httpclient import HTTPClientError

from tests import chat_helpers
from tests.chat_helpers import read, send, silent, users


@pytest.mark.gen_test
async def test_live_delivery_and_no_echo_on_the_sending_socket(api):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"])
    b = await api.ws("bob", "alice", t["bob"])
    await send(a, fromOpenid="alice", toOpenid="bob", content="你好🚲")
    got = await read(b)
    assert got["fromOpenid"] == "alice" and got["toOpenid"] == "bob"
    assert got["content"] == "你好🚲" and len(got["sendTime"]) == 19
    assert await silent(a)
    await send(b, fromOpenid="bob", toOpenid="alice", content="hi")
    assert (await read(a))["content"] == "hi"


@pytest.mark.gen_test
async def test_every_socket_of_the_recipient_and_other_sender_devices_receive(api):
    t = await users(api, "alice", "bob")
    a1 = await api.ws("alice", "bob", t["alice"])
    a2 = await api.ws("alice", "bob", t["alice"])
    b1 = await api.ws("bob", "alice", t["bob"])
    b2 = await api.ws("bob", "alice", t["bob"])
    await send(a1, fromOpenid="alice", toOpenid="bob", content="m1")
    for ws in (b1, b2, a2):
        assert (await read(ws))["content"] == "m1"
    assert await silent(a1)


@pytest.mark.gen_test
async def test_closing_an_old_socket_keeps_the_newer_one_online(api, app):
    t = await users(api, "alice", "bob")
    old = await api.ws("bob", "alice", t["bob"])
    new = await api.ws("bob", "alice", t["bob"])
    assert app.registry.connection_count() == 2
    old.close()
    for _ in range(50):
        if app.registry.connection_count() == 1:
            break
        await asyncio.sleep(0.02)
    assert app.registry.connection_count() == 1 and app.registry.is_online("bob")
    a = await api.ws("alice", "bob", t["alice"])
    await send(a, toOpenid="bob", content="still there?")
    assert (await read(new))["content"] == "still there?"


@pytest.mark.gen_test
async def test_connection_cap_closes_the_oldest(api, app):
    t = await users(api, "alice", "bob")
    cap = app.config["chat"]["max_connections_per_user"]
    sockets = [await api.ws("alice", "bob", t["alice"]) for _ in range(cap + 1)]
    assert await read(sockets[0]) is None
    assert sockets[0].close_code == 4409
    assert app.registry.connection_count() == cap


@pytest.mark.gen_test
async def test_offline_store_cap_order_and_delivery_on_open(api, app):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    for i in range(3):
        await send(a, toOpenid="bob", content="离线%d" % i, msgId="m%d" % i)
        ack = await read(a)
        assert ack == {"type": "ack", "msgId": "m%d" % i, "status": "stored",
                       "sendTime": ack["sendTime"], "seq": ack["seq"]}  # seq: issue 25
        assert isinstance(ack["seq"], int)
    await send(a, toOpenid="bob", content="fourth", msgId="m3")
    refusal = await read(a)
    assert refusal["type"] == "error" and refusal["code"] == "offline_limit"
    assert refusal["fromOpenid"] == "system" and "3" in refusal["content"]
    assert refusal["msgId"] == "m3"
    b = await api.ws("bob", "alice", t["bob"])
    got = [await read(b) for _ in range(3)]
    assert [g["content"] for g in got] == ["离线0", "离线1", "离线2"]
    assert all(g["fromOpenid"] == "alice" for g in got)
    assert await silent(b)
    waiting = lambda: app.run_db(lambda: __import__("services.chat").chat.offline_waiting())
    for _ in range(100):  # received once bob's socket answered the ping that followed them
        if await waiting() == 0:
            break
        await asyncio.sleep(0.02)
    assert await waiting() == 0
    b.close()
    b2 = await api.ws("bob", "alice", t["bob"])  # issue 16: the conversation is shown again
    assert [(await read(b2))["content"] for _ in range(3)] == ["离线0", "离线1", "离线2"]
    assert await silent(b2)


@pytest.mark.gen_test
async def test_original_client_sees_the_offline_limit_as_a_bubble(api):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"])  # v1: no acks
    for i in range(3):
        await send(a, fromOpenid="alice", toOpenid="bob", content="x%d" % i)
    await send(a, fromOpenid="alice", toOpenid="bob", content="x3")
    frame = await read(a)
    assert frame["fromOpenid"] == "system" and frame["content"] == "对方不在线，最多发送3条离线消息"
    assert await silent(a)


@pytest.mark.gen_test
async def test_offline_messages_survive_a_new_application(api, app, config, database):
    from application import make_app
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    await send(a, toOpenid="bob", content="after restart")
    assert (await read(a))["status"] == "stored"
    fresh = make_app(config, database)
    from services import chat
    rows = await fresh.run_db(chat_helpers.pending_offline, "bob", "alice")
    assert [f["content"] for _, f in rows] == ["after restart"]
    fresh.db_executor.shutdown()


@pytest.mark.gen_test
async def test_resend_with_same_msg_id_is_stored_once(api, app):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    for _ in range(2):
        await send(a, toOpenid="bob", content="once", msgId="same-1")
        assert (await read(a))["type"] == "ack"
    from services import chat
    assert len(await app.run_db(chat_helpers.pending_offline, "bob", "alice")) == 1


@pytest.mark.gen_test
async def test_connection_dying_during_delivery_keeps_undelivered(api, app):
    """A recipient whose connection resets while its offline messages are being written loses
    nothing: rows are removed only once written, and the next connection gets them all."""
    from services import chat
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"])
    for i in range(3):
        await send(a, toOpenid="bob", content="keep%d" % i)
    await asyncio.sleep(0.2)
    port = int(api.base.rsplit(":", 1)[1])
    for _ in range(5):  # handshakes that reset at once, before or during delivery
        await asyncio.get_running_loop().run_in_executor(None, reset_handshake, port, t["bob"])
    await asyncio.sleep(0.3)
    b = await api.ws("bob", "alice", t["bob"])
    got = [(await read(b))["content"] for _ in range(3)]
    assert got == ["keep0", "keep1", "keep2"]
    for _ in range(50):
        if await app.run_db(chat.offline_waiting) == 0:
            break
        await asyncio.sleep(0.02)
    assert await app.run_db(chat.offline_waiting) == 0


def reset_handshake(port, token):
    """Send a WebSocket handshake for /wx/bob/alice and reset the TCP connection at once."""
    import base64
    import os
    import socket
    import struct
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /wx/bob/alice HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "Authorization: Bearer %s\r\n\r\n" % (port, key, token)).encode())
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


@pytest.mark.gen_test
async def test_two_reconnects_drain_each_message_once(api):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"])
    for i in range(3):
        await send(a, toOpenid="bob", content="d%d" % i)
    await asyncio.sleep(0.2)
    b1, b2 = await asyncio.gather(api.ws("bob", "alice", t["bob"]),
                                  api.ws("bob", "alice", t["bob"]))
    for ws in (b1, b2):  # issue 16: each page shows the conversation, each message once
        got = []
        try:
            while True:
                got.append((await read(ws, 0.5))["content"])
        except asyncio.TimeoutError:
            pass
        assert got == ["d0", "d1", "d2"]


@pytest.mark.gen_test
async def test_conversation_list_two_rows_last_context_unread_and_delete(api, app):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})  # acks: we know when stored
    lists = lambda who: api.get("/wx/lt/list", t[who], openid=who)
    a_rows = (await lists("alice")).extend["chatLists"]
    b_rows = (await lists("bob")).extend["chatLists"]
    assert [r["fromOpenid"] for r in a_rows] == ["bob"] and [r["fromOpenid"] for r in b_rows] == ["alice"]
    assert set(a_rows[0]) >= {"fromOpenid", "fromName", "fromHeadimage", "lastContext", "sendTime"}
    assert a_rows[0]["fromName"] == "名字-bob"
    for text in ("第一条", "第二条"):
        await send(a, toOpenid="bob", content=text)
        assert (await read(a))["status"] == "stored"
    b_row = (await lists("bob")).extend["chatLists"][0]
    assert b_row["lastContext"] == "第二条" and b_row["unread"] == 2
    assert (await lists("alice")).extend["chatLists"][0]["lastContext"] == ""  # alice's row: bob's words
    b = await api.ws("bob", "alice", t["bob"])  # opening resets bob's unread
    for _ in range(2):
        await read(b)
    assert (await lists("bob")).extend["chatLists"][0]["unread"] == 0
    deleted = await api.get("/wx/lt/deleteList1", t["bob"], myOpenid="bob", beDeleteOpenid="alice")
    assert deleted.code == 200
    assert (await lists("bob")).extend["chatLists"] == []
    assert len((await lists("alice")).extend["chatLists"]) == 1  # only the caller's row went
    await send(a, toOpenid="bob", content="回来了")
    assert (await read(b))["content"] == "回来了"
    assert (await read(a))["status"] == "delivered"
    back = (await lists("bob")).extend["chatLists"]
    assert back[0]["fromOpenid"] == "alice" and back[0]["lastContext"] == "回来了"


@pytest.mark.gen_test
async def test_list_is_most_recent_first_and_only_the_callers(api):
    t = await users(api, "alice", "bob", "carol")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    await send(a, toOpenid="bob", content="1")
    assert (await read(a))["type"] == "ack"
    await asyncio.sleep(1.1)  # stored times have a resolution of one second on MariaDB
    c = await api.ws("carol", "alice", t["carol"], query={"v": "2"})
    await send(c, toOpenid="alice", content="2")
    assert (await read(c))["type"] == "ack"
    rows = (await api.get("/wx/lt/list", t["alice"], openid="alice")).extend["chatLists"]
    assert [r["fromOpenid"] for r in rows] == ["carol", "bob"]
    other = await api.get("/wx/lt/list", t["alice"], openid="bob")
    assert other.status == 403
    other = await api.get("/wx/lt/deleteList1", t["alice"], myOpenid="bob", beDeleteOpenid="alice")
    assert other.status == 403


@pytest.mark.gen_test
async def test_broadcast_by_a_user_is_refused_and_admin_broadcast_reaches_all(api, app):
    t = await users(api, "alice", "bob", "carol")
    a = await api.ws("alice", "bob", t["alice"])
    b = await api.ws("bob", "alice", t["bob"])
    c = await api.ws("carol", "alice", t["carol"])
    await send(a, fromOpenid="alice", toOpenid="-1", content="everyone!")
    refusal = await read(a)
    assert refusal["code"] == "forbidden" and refusal["fromOpenid"] == "system"
    assert await silent(b) and await silent(c, 0.05)
    assert await app.chat.broadcast("系统维护") == 3
    for ws in (a, b, c):
        frame = await read(ws)
        assert frame["content"] == "系统维护" and frame["fromOpenid"] and frame["type"] == "broadcast"


@pytest.mark.parametrize("raw,code", [
    ("not json", "bad_json"),
    ("[1, 2]", "bad_frame"),
    ('"text"', "bad_frame"),
    (json.dumps({"toOpenid": "bob"}), "bad_content"),
    (json.dumps({"toOpenid": "bob", "content": ""}), "bad_content"),
    (json.dumps({"toOpenid": "bob", "content": "   "}), "bad_content"),
    (json.dumps({"toOpenid": "bob", "content": 12}), "bad_content"),
    (json.dumps({"toOpenid": "bob", "content": ["x"]}), "bad_content"),
    (json.dumps({"toOpenid": 5, "content": "x"}), "bad_recipient"),
    (json.dumps({"toOpenid": "alice", "content": "me"}), "bad_recipient"),
    (json.dumps({"toOpenid": "nobody-here", "content": "x"}), "bad_recipient"),
    (json.dumps({"fromOpenid": "bob", "toOpenid": "bob", "content": "forged"}), "forbidden"),
    (json.dumps({"toOpenid": "bob", "content": "x", "type": "video"}), "bad_type"),
    (json.dumps({"toOpenid": "bob", "content": "x" * 2001}), "too_long"),
    (json.dumps({"toOpenid": "bob", "content": "x", "msgId": {"a": 1}}), "bad_frame"),
])
@pytest.mark.gen_test
async def test_bad_frames_get_a_refusal_and_the_socket_stays_usable(api, raw, code):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"])
    b = await api.ws("bob", "alice", t["bob"])
    await a.write_message(raw)
    frame = await read(a)
    assert frame["type"] == "error" and frame["code"] == code, frame
    assert frame["fromOpenid"] == "system" and frame["content"]
    assert await silent(b, 0.1)
    await send(a, toOpenid="bob", content="still works")
    assert (await read(b))["content"] == "still works"


@pytest.mark.gen_test
async def test_ping_pong_and_oversize_frame_closes_with_1009(api, app):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"])
    await send(a, type="ping")
    assert await read(a) == {"type": "pong"}
    await a.write_message("x" * (app.config["chat"]["max_frame_bytes"] + 1))
    assert await read(a) is None and a.close_code == 1009
    b = await api.ws("bob", "alice", t["bob"])  # the process is fine
    assert b.protocol is not None


@pytest.mark.gen_test
async def test_flooding_is_rate_limited_and_others_unaffected(api, app):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"])
    b = await api.ws("bob", "alice", t["bob"])
    burst = app.config["chat"]["rate_burst"]
    for i in range(burst + 10):
        await send(a, toOpenid="bob", content="f%d" % i)
    delivered, refused = 0, 0
    try:
        while True:
            (await read(b, 0.5))
            delivered += 1
    except asyncio.TimeoutError:
        pass
    try:
        while True:
            frame = await read(a, 0.3)
            refused += frame["code"] == "rate_limited"
    except asyncio.TimeoutError:
        pass
    assert delivered + refused == burst + 10
    assert refused >= 5 and delivered >= burst


@pytest.mark.gen_test
async def test_handshake_refusals(api, app):
    t = await users(api, "alice", "bob")
    cases = [
        (dict(from_openid="alice", to_openid="bob", token=None), 401),
        (dict(from_openid="bob", to_openid="alice", token=t["alice"]), 403),
        (dict(from_openid="alice", to_openid="bob", token=t["alice"][:-2] + "xx"), 401),
        (dict(from_openid="alice", to_openid="ghost", token=t["alice"]), 404),
        (dict(from_openid="alice", to_openid="alice", token=t["alice"]), 403),
        (dict(from_openid="alice", to_openid="bob", token=t["alice"],
              headers={"Origin": "https://evil.example"}), 403),
        (dict(from_openid="alice", to_openid="bob", token=t["alice"], headers={"Origin": "null"}), 403),
    ]
    for kwargs, status in cases:
        with pytest.raises(HTTPClientError) as err:
            await api.ws(**kwargs)
        assert err.value.code == status, kwargs
    assert app.registry.connection_count() == 0
    ok = await api.ws("alice", "bob", query={"token": t["alice"]})
    assert ok.protocol is not None


@pytest.mark.gen_test
async def test_without_require_token_the_path_is_trusted(api, app):
    await users(api, "alice", "bob")
    app.config["auth"]["require_token"] = False
    a = await api.ws("alice", "bob")
    b = await api.ws("bob", "alice")
    await send(a, fromOpenid="alice", toOpenid="bob", content="legacy")
    assert (await read(b))["content"] == "legacy"


@pytest.mark.gen_test
async def test_blocked_user_cannot_open_a_chat(api, app):
    from models.user import User
    t = await users(api, "alice", "bob")
    await app.run_db(lambda: User.update(state=10).where(User.openid == "alice").execute())
    with pytest.raises(HTTPClientError) as err:
        await api.ws("alice", "bob", t["alice"])
    assert err.value.code == 403


@pytest.mark.gen_test
async def test_a_refused_message_can_be_resent_with_the_same_msg_id(api, app):
    from services import chat
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    for i in range(3):
        await send(a, toOpenid="bob", content="m%d" % i, msgId="id%d" % i)
        assert (await read(a))["status"] == "stored"
    await send(a, toOpenid="bob", content="fourth", msgId="id3")
    assert (await read(a))["code"] == "offline_limit"
    b = await api.ws("bob", "alice", t["bob"])  # bob reads; the store empties
    assert [(await read(b))["content"] for _ in range(3)] == ["m0", "m1", "m2"]
    for _ in range(100):  # received: bob's socket answered the ping that followed them
        if not await app.run_db(chat.offline_waiting):
            break
        await asyncio.sleep(0.02)
    b.close()
    for _ in range(50):
        if not app.registry.is_online("bob") and not await app.run_db(chat.offline_waiting):
            break
        await asyncio.sleep(0.02)
    await send(a, toOpenid="bob", content="fourth", msgId="id3")  # the same id, resent
    assert (await read(a))["status"] == "stored"


@pytest.mark.gen_test(timeout=30)
async def test_both_sides_opening_at_once_never_fail(api, app):
    """Simultaneous opens of one conversation used to deadlock on MariaDB (a 503 handshake)."""
    names = ["u%d" % i for i in range(16)]
    t = await users(api, *names)
    pairs = [(names[i], names[i + 1]) for i in range(0, 16, 2)]
    opens = []
    for a, b in pairs:
        opens += [api.ws(a, b, t[a]), api.ws(b, a, t[b])]
    sockets = await asyncio.gather(*opens)
    assert all(ws.protocol is not None for ws in sockets)
    rows = await api.get("/wx/lt/list", t["u0"], openid="u0")
    assert [r["fromOpenid"] for r in rows.extend["chatLists"]] == ["u1"]


def test_run_unit_retries_a_lock_conflict(mariadb):
    """A real lock wait timeout (1205): another connection holds the row past our wait; the
    transaction is rolled back and the unit run again by models.run_unit, and then succeeds."""
    import threading
    import time
    import pymysql
    from models import bind, open_database
    from models.chat import ChatList
    from models import run_unit, write_txn
    database = bind(open_database(mariadb.url("market_test"), 2))
    with database.connection_context():
        ChatList.delete().execute()
        ChatList.insert(to_openid="d1", from_openid="d2").execute()
    other = pymysql.connect(host="127.0.0.1", port=mariadb.port, user="root",
                            database="market_test", autocommit=False)
    held = threading.Event()

    def rival():
        with other.cursor() as cur:
            cur.execute("UPDATE chat_list SET unread = 7 WHERE to_openid = 'd1'")
            held.set()
            time.sleep(1.6)  # longer than our 1 s wait: the first attempt times out
            other.commit()
    attempts = []

    def write():
        attempts.append(time.monotonic())
        with write_txn():
            ChatList.update(unread=ChatList.unread + 1).where(
                ChatList.to_openid == "d1").execute()
    thread = threading.Thread(target=rival)
    thread.start()
    held.wait(5)
    with database.connection_context():
        database.execute_sql("SET SESSION innodb_lock_wait_timeout = 1")
        run_unit(write)
        unread = ChatList.get(ChatList.to_openid == "d1").unread
    thread.join(10)
    other.close()
    database.close_all()
    assert len(attempts) == 2 and unread == 8  # the rival's 7, then ours once


def test_store_offline_resend_is_the_same_row_even_when_the_store_is_full(database):
    from services import chat
    from services.chat import ChatRefusal
    ids = [chat_helpers.store_offline("s", "r", "m%d" % i, "text", "id%d" % i, 3) for i in range(3)]
    assert chat_helpers.store_offline("s", "r", "m2", "text", "id2", 3) == ids[2]
    with pytest.raises(ChatRefusal):
        chat_helpers.store_offline("s", "r", "m3", "text", "id3", 3)
    chat_helpers.mark_received("r", ids[:1])
    assert chat_helpers.store_offline("s", "r", "m1", "text", "id1", 3) == ids[1]  # resend: no new row
    assert len(chat_helpers.pending_offline("r", "s")) == 2


# -- a msgId is unique per sender and recipient ------------------------------------------------
async def acked(ws):
    """The next ack or refusal on a v2 socket (skipping echoes of the sender's other devices)."""
    frame = await read(ws)
    while frame.get("type") not in ("ack", "error"):
        frame = await read(ws)
    return frame


@pytest.mark.gen_test
async def test_the_same_msg_id_to_two_recipients_reaches_both_live(api):
    """A client numbering messages per chat page sends msgId "1" to bob, then "1" to carol."""
    t = await users(api, "alice", "bob", "carol")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    b = await api.ws("bob", "alice", t["bob"])
    c = await api.ws("carol", "alice", t["carol"])
    await send(a, toOpenid="bob", content="to bob", msgId="1")
    assert (await acked(a))["status"] == "delivered"
    await send(a, toOpenid="carol", content="to carol", msgId="1")
    assert (await acked(a))["status"] == "delivered"
    assert (await read(b))["content"] == "to bob"
    assert (await read(c))["content"] == "to carol"
    await send(a, toOpenid="carol", content="to carol", msgId="1")  # a true resend
    assert (await acked(a))["status"] == "duplicate"
    assert await silent(c, 0.2) and await silent(b, 0.1)


@pytest.mark.gen_test
async def test_the_same_msg_id_to_two_offline_recipients_is_kept_for_both(api, app):
    from services import chat
    t = await users(api, "alice", "bob", "carol")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    for to in ("bob", "carol"):
        await send(a, toOpenid=to, content="for " + to, msgId="1")
        assert (await acked(a))["status"] == "stored"
    await send(a, toOpenid="carol", content="for carol", msgId="1")  # a true resend
    assert (await acked(a))["status"] == "duplicate"
    for to in ("bob", "carol"):
        assert len(await app.run_db(chat_helpers.pending_offline, to, "alice")) == 1
        ws = await api.ws(to, "alice", t[to])
        assert (await read(ws))["content"] == "for " + to
        assert await silent(ws, 0.1)


def test_store_offline_msg_id_is_per_recipient(database):
    """The database's unique key is (sender, recipient, msgId): the same id to another recipient
    is another message (two processes, or a restart, skip the in-memory resend check)."""
    from services import chat
    first = chat_helpers.store_offline("s", "r1", "one", "text", "1", 3)
    second = chat_helpers.store_offline("s", "r2", "two", "text", "1", 3)
    assert first != second
    assert chat_helpers.store_offline("s", "r2", "two", "text", "1", 3) == second  # a resend
    assert [f["content"] for _, f in chat_helpers.pending_offline("r2", "s")] == ["two"]
    assert [f["content"] for _, f in chat_helpers.pending_offline("r1", "s")] == ["one"]
    for i in range(2, 4):  # r2's store fills up; r1's resend still finds its own row
        chat_helpers.store_offline("s", "r2", "x", "text", str(i), 3)
    assert chat_helpers.store_offline("s", "r1", "one", "text", "1", 3) == first


@pytest.mark.gen_test
async def test_remembered_msg_ids_are_bounded(app):
    """The resend memory keeps at most a fixed number of ids in all, least recent sender first."""
    chat = app.chat
    chat.recent_cap = 10
    assert not chat._seen("alice", "bob", "1") and chat._seen("alice", "bob", "1")
    chat.recent.clear()
    chat.recent_count = 0
    for i in range(25):
        assert not chat._seen("sender%d" % i, "bob", "1")
        assert chat.recent_count <= 10
    assert "sender24" in chat.recent and "sender0" not in chat.recent
    assert chat._seen("sender24", "bob", "1")
    for i in range(300):  # one sender alone is capped too
        chat._seen("busy", "bob", str(i))
    assert chat.recent_count <= 10 and len(chat.recent["busy"]) <= 10
    assert sum(len(ids) for ids in chat.recent.values()) == chat.recent_count
