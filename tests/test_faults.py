"""Faults: MariaDB stopped (and killed) mid-run, and the server killed with SIGKILL between a
message's acceptance and its delivery. Each test proves a clear refusal, nothing half-written,
nothing acknowledged and then lost, and recovery without a restart of the server.

Elsewhere: a receiving connection reset during offline delivery keeps the rest
(tests/test_chat.py::test_connection_dying_during_delivery_keeps_undelivered); /healthz with
MariaDB down (tests/test_metrics.py); the WeChat API timing out or answering garbage
(tests/test_login.py); Redis stopped mid-run (tests/test_scaleout.py); MariaDB hung (SIGSTOP) and
killed with every wait timed (tests/test_db_hung.py).
"""
import asyncio
import json
import os
import signal
import subprocess
import time

import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClosedError, websocket_connect

from models import open_database
from models.comment import Comment, Notice
from models.goods import Goods
from services import chat
from tests import chat_helpers
from tests.chat_helpers import read, send, silent, users
from tests.conftest import migrated_mariadb
from tests.security_helpers import goods_body
from tests.serverproc import MarketProcess, dev_login
from devservers import wait_port
from tests.test_images import multipart
from tests.test_security_identity import tiny_png


@pytest.fixture(scope="module")
def private_mariadb():
    """A MariaDB of this module only: the tests stop and kill it."""
    server = migrated_mariadb("market_faults")
    yield server
    server.stop()


@pytest.fixture
def db_url(private_mariadb):
    """Every test of this module runs on the private MariaDB (not SQLite: it cannot be stopped)."""
    return private_mariadb.url("market_faults")


@pytest.fixture(autouse=True)
def roomy_limits(settings_env):
    settings_env["MARKET_LIMITS_PUBLISH_PER_MINUTE_USER"] = "1000"
    settings_env["MARKET_LIMITS_COMMENT_PER_MINUTE_USER"] = "1000"
    settings_env["MARKET_LIMITS_PER_MINUTE_ADDRESS"] = "100000"
    settings_env["MARKET_DATABASE_POOL_SIZE"] = "4"


def stop(maria, sig=signal.SIGTERM):
    maria.proc.send_signal(sig)
    maria.proc.wait(30)


def restart(maria):
    maria.proc = subprocess.Popen(maria.proc.args, stdout=maria.log, stderr=subprocess.STDOUT)
    wait_port(maria.port, maria.proc)


async def until(predicate, timeout=15):
    """Poll an async predicate until it is true (the server recovers by itself)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.2)


def stored_files(config):
    """Every file in the public and the private upload folders."""
    from services.images import folders
    return sorted(name for folder in folders(config) if os.path.isdir(folder)
                  for name in os.listdir(folder))


async def in_thread(fn, *args):
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


@pytest.mark.gen_test(timeout=120)
async def test_mariadb_stopped_rest_503_chat_unavailable_then_recovers(api, app, private_mariadb):
    t = await users(api, "alice", "bob", "carol")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    c = await api.ws("carol", "alice", t["carol"])  # alice's peer who stays online
    assert await silent(c) and await silent(a, 0.05)  # both replays (nothing) are written
    goods_before = await app.run_db(lambda: Goods.select().count())

    await in_thread(stop, private_mariadb)
    try:
        for method, path, body in [
                ("GET", "/wx/lt/list?openid=alice", None),
                ("GET", "/wx/goods/getSimpleGoods?state=1", None),
                ("POST", "/wx/goods/goodsIssue", json.dumps(goods_body("alice")).encode()),
                ("POST", "/wx/user/updateUserInfo",
                 json.dumps({"openid": "alice", "school": "X"}).encode())]:
            reply = await api.fetch(method, path, token=t["alice"], body=body,
                                    headers={"Content-Type": "application/json"})
            assert reply.status == 503, (path, reply)
            assert reply.json["code"] == 100, reply
            assert reply.json["msg"] == "服务暂时不可用，请稍后再试", reply
        # an upload is refused before anything reaches the disk
        files_before = stored_files(app.config)
        body, ctype = multipart({"openid": "alice", "flag": "1"},
                                [("file", "id.png", "image/png", tiny_png())])
        reply = await api.fetch("POST", "/wx/images/upload", token=t["alice"], body=body,
                                headers={"Content-Type": ctype})
        assert reply.status == 503 and reply.code == 100, reply
        assert stored_files(app.config) == files_before
        # a message for an offline user cannot be stored: the sender is told, not acked
        await send(a, toOpenid="bob", content="while down", msgId="down-1")
        frame = await read(a)
        assert frame["type"] == "error" and frame["code"] == "unavailable", frame
        assert frame["msgId"] == "down-1" and frame["fromOpenid"] == "system"
        # issue 16: a live message is stored before it is delivered, so it is refused too
        # (never acknowledged or shown, then lost)
        await send(c, toOpenid="alice", content="live while down")
        frame = await read(c)
        assert frame["type"] == "error" and frame["code"] == "unavailable", frame
        assert await silent(a, 0.1)
        # a new chat socket needs the database: refused clearly, not hung
        with pytest.raises(Exception) as err:
            await api.ws("bob", "alice", t["bob"])
        assert getattr(err.value, "code", None) == 503
    finally:
        await in_thread(restart, private_mariadb)

    async def healthy():
        return (await api.get("/wx/lt/list", t["alice"], openid="alice")).status == 200
    assert await until(healthy), "the server did not recover by itself"
    assert await app.run_db(lambda: Goods.select().count()) == goods_before  # nothing half-done
    assert await app.run_db(chat_helpers.pending_offline, "bob", "alice") == []  # never accepted
    await send(a, toOpenid="bob", content="after", msgId="up-1")
    ack = await read(a)
    assert ack == {"type": "ack", "msgId": "up-1", "status": "stored",
                   "sendTime": ack["sendTime"], "seq": ack["seq"]}
    b = await api.ws("bob", "alice", t["bob"])
    assert (await read(b))["content"] == "after"
    assert await silent(b)
    lists = await api.get("/wx/lt/list", t["alice"], openid="alice")
    assert {r["fromOpenid"] for r in lists.extend["chatLists"]} >= {"bob", "carol"}


@pytest.mark.gen_test(timeout=120)
async def test_mariadb_killed_under_concurrent_writes_leaves_nothing_half_written(
        api, app, private_mariadb):
    """Comments (each written with its notice in one transaction) and listings are posted while
    MariaDB is killed with SIGKILL: every acknowledged write survives, every comment has its
    notice, and every answer is 200 or a 503 envelope."""
    t = await users(api, "alice", "bob")
    reply = await api.post_json("/wx/goods/goodsIssue", goods_body("bob"), t["bob"])
    gid = reply.extend["gid"]
    await app.run_db(lambda: Goods.update(state=1).where(Goods.gid == gid).execute())

    async def comment(i):
        info = json.dumps({"goodId": gid, "fromOpenid": "alice", "content": "c%d" % i})
        return await api.post_json("/wx/pl/addMainComments", {"info": info}, t["alice"])

    async def listing(i):
        return await api.post_json("/wx/goods/goodsIssue",
                                   goods_body("alice", goodsTitle="g%d" % i), t["alice"])

    async def writer(fn, results):
        for i in range(400):
            results.append((i, await fn(i)))
            if len(results) > 5 and results[-1][1].status == 503 and results[-3][1].status == 503:
                return

    comments, listings = [], []
    tasks = [asyncio.ensure_future(writer(comment, comments)),
             asyncio.ensure_future(writer(listing, listings))]
    while len(comments) < 10:
        await asyncio.sleep(0.01)
    await in_thread(stop, private_mariadb, signal.SIGKILL)
    await asyncio.gather(*tasks)
    await in_thread(restart, private_mariadb)

    for _, reply in comments + listings:
        assert reply.status in (200, 503) and reply.code in (200, 100), reply
    assert any(r.status == 503 for _, r in comments)

    async def stored():
        try:
            return await app.run_db(lambda: (
                [c.content for c in Comment.select().where(Comment.from_openid == "alice")],
                [n.obj_id for n in Notice.select()],
                [c.in_id for c in Comment.select()],
                [g.goods_title for g in Goods.select().where(Goods.openid == "alice")]))
        except Exception:
            return None
    found = await until(stored)
    assert found, "the server did not recover by itself"
    contents, notice_ids, comment_ids, titles = found
    acked = {r.json["extend"]["commentsInfo"]["content"] for _, r in comments if r.status == 200}
    assert acked <= set(contents)  # every acknowledged comment is there
    assert sorted(notice_ids) == sorted(comment_ids)  # each comment with its notice, no orphan
    acked_titles = {"g%d" % i for i, r in listings if r.status == 200}
    assert acked_titles <= set(titles)


# -- SIGKILL between acceptance and delivery ---------------------------------------------------
def ws_request(port, me, peer, token, query=""):
    return HTTPRequest("ws://127.0.0.1:%d/wx/%s/%s%s" % (port, me, peer, query),
                       headers={"Authorization": "Bearer " + token}, request_timeout=10)


@pytest.fixture
def server(tmp_path):
    proc = MarketProcess(tmp_path / "market", {"MARKET_CHAT_RATE_PER_SECOND": "10000",
                                               "MARKET_CHAT_RATE_BURST": "10000"})
    yield proc.migrate().start()
    proc.kill()


async def collect(ws, into):
    """Keep every frame of ws until it closes (runs beside the sender, as a client would)."""
    while True:
        message = await ws.read_message()
        if message is None:
            return
        into.append(json.loads(message))


@pytest.mark.gen_test(timeout=90)
async def test_sigkill_loses_no_acknowledged_message(server):
    """alice streams messages (?v=2) to offline bob and to online carol; the server is killed
    with SIGKILL mid-stream. After a restart every message acked `stored` reaches bob exactly
    once, every message acked `delivered` had reached carol, and nothing unsent appears."""
    base = "http://127.0.0.1:%d" % server.port
    tok = {name: dev_login(base, name) for name in ("alice", "bob", "carol")}
    carol = await websocket_connect(ws_request(server.port, "carol", "alice", tok["carol"]))
    to_bob = await websocket_connect(ws_request(server.port, "alice", "bob", tok["alice"], "?v=2"))
    to_carol = await websocket_connect(ws_request(server.port, "alice", "carol", tok["alice"],
                                                  "?v=2"))
    frames = {"carol": [], "to_bob": [], "to_carol": []}
    readers = [asyncio.ensure_future(collect(ws, frames[name]))
               for name, ws in (("carol", carol), ("to_bob", to_bob), ("to_carol", to_carol))]
    sent_bob = ["b%d" % i for i in range(3)]  # the offline cap is 3 per sender
    for msg_id in sent_bob:
        to_bob.write_message(json.dumps({"toOpenid": "bob", "content": msg_id, "msgId": msg_id}))
    for _ in range(250):  # the stored path has run (acked) before the stream that gets killed
        if sum(f.get("type") == "ack" for f in frames["to_bob"]) == len(sent_bob):
            break
        await asyncio.sleep(0.02)
    for i in range(300):
        try:
            await to_carol.write_message(json.dumps({"toOpenid": "carol", "content": "c%d" % i,
                                                     "msgId": "c%d" % i}))
        except WebSocketClosedError:
            break
        if i == 150:
            server.signal(signal.SIGKILL)
        await asyncio.sleep(0.002)
    await asyncio.wait_for(asyncio.gather(*readers), 10)
    assert await server.wait_exit() == -signal.SIGKILL
    acks = [f for f in frames["to_bob"] + frames["to_carol"] if f.get("type") == "ack"]
    stored = {a["msgId"] for a in acks if a["status"] == "stored"}
    delivered = {a["msgId"] for a in acks if a["status"] == "delivered"}
    assert stored == set(sent_bob) and delivered, acks  # both paths ran before the kill
    received_by_carol = [f["msgId"] for f in frames["carol"]]
    assert delivered <= set(received_by_carol)  # acknowledged live messages had been written
    assert len(received_by_carol) == len(set(received_by_carol))

    server.start()
    bob = await websocket_connect(ws_request(server.port, "bob", "alice", tok["bob"]))
    got = []
    reader = asyncio.ensure_future(collect(bob, got))
    await asyncio.sleep(1.0)
    bob.close()
    await reader
    got = [f["msgId"] for f in got]
    assert len(got) == len(set(got))  # once each
    assert stored <= set(got) <= set(sent_bob), (stored, got)


@pytest.mark.gen_test(timeout=90)
async def test_sigkill_between_ack_and_delivery_loses_nothing_and_a_resend_is_stored_once(server):
    """Issue 16: bob's page is open but has stopped reading; alice's messages are acked
    `delivered` (written to bob's socket, never read). SIGKILL mid-stream. After the restart,
    alice resends everything with the same msgIds: what was acked comes back `duplicate`, and
    bob's reopened page shows every acked message exactly once, in order."""
    from tests.test_chat_history import DeafClient
    base = "http://127.0.0.1:%d" % server.port
    tok = {name: dev_login(base, name) for name in ("alice", "bob")}
    loop = asyncio.get_running_loop()
    deaf = await loop.run_in_executor(None, DeafClient, server.port, "bob", "alice", tok["bob"])
    alice = await websocket_connect(ws_request(server.port, "alice", "bob", tok["alice"], "?v=2"))
    frames = []
    reader = asyncio.ensure_future(collect(alice, frames))
    ids = ["k%d" % i for i in range(40)]
    for i, msg_id in enumerate(ids):
        try:
            await alice.write_message(json.dumps({"toOpenid": "bob", "content": msg_id,
                                                  "msgId": msg_id}))
        except WebSocketClosedError:
            break
        if i == 25:
            server.signal(signal.SIGKILL)
        await asyncio.sleep(0.005)
    await asyncio.wait_for(reader, 10)
    assert await server.wait_exit() == -signal.SIGKILL
    acked = [f["msgId"] for f in frames if f.get("type") == "ack"]
    assert acked and len(acked) == len(set(acked)), frames
    deaf.drop()

    server.start()
    alice = await websocket_connect(ws_request(server.port, "alice", "bob", tok["alice"],
                                               "?v=2&since=999999999"))
    statuses = {}
    for msg_id in ids:
        await alice.write_message(json.dumps({"toOpenid": "bob", "content": msg_id,
                                              "msgId": msg_id}))
        frame = json.loads(await asyncio.wait_for(alice.read_message(), 5))
        statuses[msg_id] = frame.get("status") or frame.get("code")
    assert all(statuses[m] == "duplicate" for m in acked), statuses
    bob = await websocket_connect(ws_request(server.port, "bob", "alice", tok["bob"]))
    got = []
    reader = asyncio.ensure_future(collect(bob, got))
    await asyncio.sleep(1.0)
    bob.close()
    await reader
    got = [f["msgId"] for f in got]
    assert len(got) == len(set(got))  # once each (the resends were not stored again)
    assert set(acked) <= set(got)
    assert [m for m in got if m in acked] == acked  # in order
    # every message the store holds is shown: the acked ones, those stored by the resend, and
    # any committed just before the kill whose ack never left (its resend said "duplicate")
    in_store = [m for m in ids if statuses[m] in ("stored", "delivered", "duplicate")]
    assert set(got) == set(acked) | set(in_store)


# -- "MySQL server has gone away" ---------------------------------------------------------------
def test_gone_away_outside_a_transaction_is_retried_once_and_the_context_stays_balanced(
        private_mariadb):
    """The pooled connection is killed under a worker (MariaDB restarted, wait_timeout, KILL):
    the next statement reconnects and succeeds, and the connection context still closes cleanly
    (it used to raise IndexError from peewee's context stack: a 500 on the first request after
    every database restart)."""
    database = open_database(private_mariadb.url("market_faults"), 2)
    try:
        for _ in range(2):
            with database.connection_context():
                cid = database.execute_sql("SELECT CONNECTION_ID()").fetchone()[0]
                private_mariadb.execute("KILL %d" % cid)
                assert database.execute_sql("SELECT 1").fetchone() == (1,)
            assert database.is_closed()
    finally:
        database.close_all()


def test_gone_away_inside_a_transaction_surfaces_and_writes_nothing(private_mariadb):
    """Inside atomic() a lost connection is never silently retried: the error surfaces and the
    first half of the transaction is not kept."""
    import peewee
    from models import bind, db
    database = bind(open_database(private_mariadb.url("market_faults"), 2))
    try:
        with database.connection_context():
            Goods.delete().where(Goods.openid == "txn-user").execute()
        with pytest.raises((peewee.OperationalError, peewee.InterfaceError)):
            with database.connection_context():
                with db.atomic():
                    Goods.create(openid="txn-user", goods_name="half", goods_title="t",
                                 goods_dec="d", goods_price_new="1", goods_price_old="1")
                    cid = database.execute_sql("SELECT CONNECTION_ID()").fetchone()[0]
                    private_mariadb.execute("KILL %d" % cid)
                    Goods.create(openid="txn-user", goods_name="other half", goods_title="t",
                                 goods_dec="d", goods_price_new="1", goods_price_old="1")
        assert database.is_closed() and not database.in_transaction()  # this thread can go on
        with database.connection_context():
            assert Goods.select().where(Goods.openid == "txn-user").count() == 0
    finally:
        database.close_all()
