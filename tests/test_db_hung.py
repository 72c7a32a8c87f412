"""A hung and a killed database, on a private MariaDB of this module (stopped, paused with
SIGSTOP and killed by its PID; never the session's shared one). Every wait on the database is
bounded (docs/deploy.md, "Database bounds"): REST answers within `database.call_timeout`
(a 503 envelope), /healthz turns unhealthy within `database.health_timeout` (it never queues
behind the executor), chat refuses `unavailable` within `chat.store_timeout`, and everything
recovers by itself when the host wakes or the server is back.

With MariaDB paused for 20 s the server used to give no answer within 10 s on list, search,
detail and favourite, /healthz answered 200 after 18 s, and chat acknowledged messages 10-20 s
late: PyMySQL waited for the greeting with read_timeout (30 s), and run_db and /healthz queued on
the executor with no deadline."""
import asyncio
import json
import os
import signal
import subprocess
import time

import pytest

from devservers import wait_port
from models.goods import Goods
from tests.chat_helpers import read, send, silent, users
from tests.conftest import migrated_mariadb
from tests.security_helpers import goods_body

CALL, HEALTH, STORE = 3.0, 1.0, 1.0  # the bounds under test (database.*, chat.store_timeout)
SLACK = 1.0  # a loaded test machine: the answer may come this much after its bound


@pytest.fixture(scope="module")
def private_mariadb():
    """A MariaDB of this module only: its tests pause, kill and restart it."""
    server = migrated_mariadb("market_hung")
    yield server
    if server.proc and server.proc.poll() is None:
        os.kill(server.proc.pid, signal.SIGCONT)  # never leave it paused
    server.stop()


@pytest.fixture
def db_url(private_mariadb):
    return private_mariadb.url("market_hung")


@pytest.fixture
def settings_env(settings_env):
    settings_env.update(MARKET_LIMITS_PER_MINUTE_ADDRESS="100000",
                        MARKET_LIMITS_PUBLISH_PER_MINUTE_USER="1000",
                        MARKET_DATABASE_POOL_SIZE="4",
                        MARKET_DATABASE_CONNECT_TIMEOUT="1",
                        MARKET_DATABASE_QUERY_TIMEOUT="2",
                        MARKET_DATABASE_CALL_TIMEOUT=str(CALL),
                        MARKET_DATABASE_HEALTH_TIMEOUT=str(HEALTH),
                        MARKET_CHAT_STORE_TIMEOUT=str(STORE))
    return settings_env


@pytest.fixture
def database(db_url, config):
    """The app's database with the bounds of this module's config (as main.py opens it)."""
    from models import bind, open_database
    cfg = config["database"]
    database = bind(open_database(db_url, 8, connect_timeout=cfg["connect_timeout"],
                                  query_timeout=cfg["query_timeout"]))
    with database.connection_context():
        from tests.conftest import clean
        clean(database)
    yield database
    database.close_all()


async def opened(api, app, t):
    """alice's v2 socket to bob, once its replay is written (a replay the outage cut would
    close it: the client reconnects, which is not what these tests look at)."""
    ws = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    for _ in range(100):
        sockets = list(app.registry.sockets_for("alice"))
        if sockets and not any(getattr(s, "replaying", False) for s in sockets):
            break
        await asyncio.sleep(0.05)
    assert await silent(ws)
    # one message first: the recipient's checks (known user, block sets) are cached, so during
    # the outage a message goes straight to the writer and its deadline
    await send(ws, toOpenid="bob", content="before", msgId="before-1")
    ack = await read(ws)
    assert ack["type"] == "ack" and ack["msgId"] == "before-1", ack
    return ws


async def timed(call):
    started = time.monotonic()
    reply = await call
    return reply, time.monotonic() - started


async def scene(api, app):
    t = await users(api, "alice", "bob", "carol")
    reply = await api.post_json("/wx/goods/goodsIssue", goods_body("bob"), t["bob"])
    gid = reply.extend["gid"]
    await app.run_db(lambda: Goods.update(state=1).where(Goods.gid == gid).execute())
    return t, gid


def rest_calls(api, t, gid, n=3):
    """List, search, detail, favourite (n of each: more than the executor's 4 threads)."""
    for i in range(n):
        yield api.get("/wx/goods/getSimpleGoods", t["alice"], state=1, pageNum=i)
        yield api.get("/wx/goods/query", t["alice"], flag="教材%d" % i, pageNum=0)
        yield api.get("/wx/goods/getDeGoodfwl", t["alice"], gid=gid)
        yield api.post_json("/wx/user/addGoodsToCar", {"openid": "alice", "gid": [gid]},
                            t["alice"])


async def outage(api, t, gid, chat_socket):
    """Everything at once while the database is away: each answer and how long it took."""
    rest = [timed(call) for call in rest_calls(api, t, gid)]
    health = timed(api.get("/healthz"))
    started = time.monotonic()
    await send(chat_socket, toOpenid="bob", content="while away", msgId="away-1")
    frame = asyncio.ensure_future(read(chat_socket, timeout=CALL + STORE + 5))
    answers = await asyncio.gather(*rest)
    healthz = await health
    frame = await frame
    return answers, healthz, (frame, time.monotonic() - started)


def check_bounded(answers, healthz, chat):
    for reply, took in answers:
        assert took < CALL + SLACK, (took, reply)
        assert reply.status in (200, 503), reply  # a search may come from its cache
        if reply.status == 503:
            assert reply.json["code"] == 100 and reply.json["msg"], reply
    assert sum(r.status == 503 for r, _ in answers) >= 9
    reply, took = healthz
    assert reply.status == 503 and took < HEALTH + SLACK, (took, reply)
    assert reply.json["msg"].startswith("database: unavailable"), reply
    frame, took = chat
    assert frame["type"] == "error" and frame["code"] == "unavailable", frame
    # the message's checks (the block sets, cached for a moment) are run_db calls, bounded by
    # call_timeout and the breaker; its commit by the writer's deadline (chat.store_timeout)
    assert frame["msgId"] == "away-1" and took < CALL + SLACK, (took, frame)


async def recovered(api, t, gid, ws):
    """Within 10 s everything answers again, without a restart of the server."""
    deadline = time.monotonic() + 10
    while True:
        replies = [await api.get("/healthz"),
                   await api.get("/wx/goods/getDeGoodfwl", t["alice"], gid=gid),
                   await api.post_json("/wx/user/addGoodsToCar",
                                       {"openid": "alice", "gid": [gid]}, t["alice"])]
        if all(r.status == 200 for r in replies) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert [r.status for r in replies] == [200, 200, 200], replies
    await send(ws, toOpenid="bob", content="back", msgId="back-1")
    ack = await read(ws, timeout=5)
    assert ack["type"] == "ack" and ack["msgId"] == "back-1", ack


@pytest.mark.gen_test(timeout=90)
async def test_hung_database_sigstop_every_wait_is_bounded_then_recovers(
        api, app, private_mariadb):
    t, gid = await scene(api, app)
    ws = await opened(api, app, t)
    pid = private_mariadb.proc.pid
    os.kill(pid, signal.SIGSTOP)  # a hung host: TCP accepts, nothing answers
    try:
        answers, healthz, chat = await outage(api, t, gid, ws)
        # a new connection (the greeting never comes) is bounded too: /healthz again, a
        # fresh call after the pool's connections timed out
        again = await timed(api.get("/healthz"))
        later = await timed(api.get("/wx/goods/getDeGoodfwl", t["alice"], gid=gid))
    finally:
        os.kill(pid, signal.SIGCONT)
    check_bounded(answers, healthz, chat)
    assert again[0].status == 503 and again[1] < HEALTH + SLACK, again
    assert later[0].status == 503 and later[1] < CALL + SLACK, later
    await recovered(api, t, gid, ws)


@pytest.mark.gen_test(timeout=90)
async def test_killed_database_sigkill_answers_at_once_then_recovers(api, app, private_mariadb):
    t, gid = await scene(api, app)
    ws = await opened(api, app, t)
    maria = private_mariadb
    maria.proc.send_signal(signal.SIGKILL)
    maria.proc.wait(10)
    try:
        answers, healthz, chat = await outage(api, t, gid, ws)
    finally:
        maria.proc = subprocess.Popen(maria.proc.args, stdout=maria.log,
                                      stderr=subprocess.STDOUT)
    check_bounded(answers, healthz, chat)
    # refused connections are answered at once, not at the bounds
    assert max(took for _, took in answers) < 1.0 + SLACK, answers
    assert all(r.status == 503 for r, _ in answers if r.status != 200)
    await asyncio.get_running_loop().run_in_executor(None, wait_port, maria.port, maria.proc)
    await recovered(api, t, gid, ws)
    assert json.loads((await api.get("/healthz")).body)["code"] == 200
