"""Two server processes share one chat through a private Redis and one database.

Process 1 is the test's own server (pytest-tornado), process 2 a `main.py serve` subprocess on the
same database (SQLite file or MariaDB) and the same Redis.
"""
import asyncio
import json
import os
import signal
import subprocess
import sys

import pytest

from tests import chat_helpers
from tests.chat_helpers import read, send, silent, users
from tests.conftest import Api
from tests.serverproc import ROOT, MarketProcess
from devservers import Redis

SECRET = "scale-out-shared-token-secret-0123456789"


@pytest.fixture(scope="session")
def redis_server():
    server = Redis().start()
    yield server
    server.stop()


@pytest.fixture
def settings_env(settings_env, redis_server):
    return redis_env(settings_env, redis_server)


def redis_env(settings_env, redis_server):
    """The environment of a process on the shared Redis bus (a clean Redis each test)."""
    import redis
    if redis_server.proc.poll() is not None:
        redis_server.start()
    redis.Redis.from_url(redis_server.url).flushall()
    settings_env.update(MARKET_CHAT_BUS="redis", MARKET_REDIS_URL=redis_server.url,
                        MARKET_REDIS_PRESENCE_TTL="1.5", MARKET_AUTH_TOKEN_SECRET=SECRET)
    return settings_env


@pytest.fixture
def process2(app, settings_env, tmp_path, http_client):
    proc = MarketProcess(tmp_path / "p2", env=settings_env).start()
    proc.api = Api(http_client, "http://127.0.0.1:%d" % proc.port)
    yield proc
    proc.kill()


async def settle(seconds=0.2):
    """Let presence changes reach Redis."""
    await asyncio.sleep(seconds)


@pytest.mark.gen_test(timeout=30)
async def test_live_chat_between_processes(api, process2):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"])
    b = await process2.api.ws("bob", "alice", t["bob"])
    await settle()
    await send(a, fromOpenid="alice", toOpenid="bob", content="跨进程你好")
    got = await read(b)
    assert got["fromOpenid"] == "alice" and got["content"] == "跨进程你好"
    await send(b, fromOpenid="bob", toOpenid="alice", content="收到")
    assert (await read(a))["content"] == "收到"
    for i in range(15):  # order per pair holds (within the rate burst)
        await send(a, toOpenid="bob", content=str(i))
    assert [(await read(b))["content"] for _ in range(15)] == [str(i) for i in range(15)]


@pytest.mark.gen_test(timeout=30)
async def test_all_sockets_on_both_processes_receive_and_stats_cover_both(api, app, process2):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"])
    b1 = await api.ws("bob", "alice", t["bob"])
    b2 = await process2.api.ws("bob", "alice", t["bob"])
    await settle()
    await send(a, toOpenid="bob", content="both")
    assert (await read(b1))["content"] == "both"
    assert (await read(b2))["content"] == "both"
    await asyncio.sleep(0.6)  # a heartbeat of process 2 (ttl/3)
    stats = await app.bus.stats()
    assert stats["connections"] == 3 and stats["processes"] == 2


@pytest.mark.gen_test(timeout=30)
async def test_offline_cap_exact_under_concurrent_senders_on_both_processes(api, app, process2):
    from services import chat
    t = await users(api, "alice", "bob")
    a1 = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    a2 = await process2.api.ws("alice", "bob", t["alice"], query={"v": "2"})
    await settle()
    sends = []
    for i in range(3):
        sends += [send(a1, toOpenid="bob", content="p1-%d" % i, msgId="p1-%d" % i),
                  send(a2, toOpenid="bob", content="p2-%d" % i, msgId="p2-%d" % i)]
    await asyncio.gather(*sends)
    outcomes = []
    for ws in (a1, a2):
        for _ in range(3):
            frame = await read(ws)
            while frame.get("type") not in ("ack", "error"):  # echoes of the other device
                frame = await read(ws)
            outcomes.append(frame.get("status") or frame.get("code"))
    assert sorted(outcomes) == ["offline_limit"] * 3 + ["stored"] * 3
    assert len(await app.run_db(chat_helpers.pending_offline, "bob", "alice")) == 3


@pytest.mark.gen_test(timeout=30)
async def test_broadcast_from_process_1_reaches_process_2(api, app, process2):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"])
    b = await process2.api.ws("bob", "alice", t["bob"])
    await settle()
    for _ in range(100):  # a publish reaches only subscribers: this process's must be listening
        if app.bus.subscribed:
            break
        await asyncio.sleep(0.1)
    await app.chat.broadcast("全体注意")
    assert (await read(a, 10))["content"] == "全体注意"
    frame = await read(b, 10)
    assert frame["content"] == "全体注意" and frame["type"] == "broadcast"


@pytest.mark.gen_test(timeout=30)
async def test_killed_process_users_count_offline_within_the_expiry(api, app, process2):
    t = await users(api, "alice", "bob")
    await process2.api.ws("bob", "alice", t["bob"])
    await settle()
    assert await app.bus.is_online("bob")
    process2.signal(signal.SIGKILL)
    await asyncio.sleep(1.5 + 1.5 / 3 + 0.3)  # the expiry, plus a cached answer's lifetime
    assert not await app.bus.is_online("bob")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    await send(a, toOpenid="bob", content="are you there", msgId="k1")
    assert (await read(a))["status"] == "stored"


@pytest.mark.gen_test(timeout=40)
async def test_redis_outage_loses_no_message_and_recovers(api, app, process2, redis_server):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    b = await process2.api.ws("bob", "alice", t["bob"])
    await settle()
    redis_server.proc.terminate()
    redis_server.proc.wait(10)
    await send(a, toOpenid="bob", content="during outage", msgId="o1")
    ack = await read(a, 10)
    assert ack["type"] == "ack" and ack["status"] in ("stored", "delivered"), ack
    redis_server.start()
    await asyncio.sleep(1.5)  # heartbeats and subscriptions come back (back-off <= 5 s)
    assert process2.proc.poll() is None
    if ack["status"] == "stored":
        b.close()
        b = await process2.api.ws("bob", "alice", t["bob"])
    assert (await read(b, 10))["content"] == "during outage"
    for _ in range(50):  # live again across processes once both are resubscribed
        if await app.bus.is_online("bob"):
            break
        await asyncio.sleep(0.2)
    await send(a, toOpenid="bob", content="after outage", msgId="o2")
    f = await read(a, 10)
    assert f.get("status") == "delivered", f
    assert (await read(b, 10))["content"] == "after outage"
    assert await silent(a, 0.1)


def test_processes_flag_forks_workers_sharing_the_port(tmp_path, redis_server):
    import urllib.request
    env = {"MARKET_CHAT_BUS": "redis", "MARKET_REDIS_URL": redis_server.url,
           "MARKET_SERVER_PROCESSES": "2"}
    proc = MarketProcess(tmp_path / "forked", env=env).migrate().start()
    try:
        pids = set()
        for _ in range(40):
            children = open("/proc/%d/task/%d/children" % (proc.proc.pid, proc.proc.pid)).read()
            pids = set(children.split())
            with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % proc.port, timeout=5) as r:
                assert r.status == 200
            if len(pids) == 2:
                break
        assert len(pids) == 2
        proc.proc.send_signal(signal.SIGTERM)  # to the parent only, as an operator would
        assert proc.proc.wait(20) == 0
        for pid in pids:  # every worker stopped too
            assert not os.path.exists("/proc/%s" % pid) or \
                open("/proc/%s/stat" % pid).read().split()[2] == "Z"
    finally:
        proc.kill()


@pytest.mark.parametrize("delay", [0.0, 0.3, 0.6, 0.9, 1.2, 1.6, 2.0])
def test_a_stop_at_any_moment_of_start_up_stops_every_worker(tmp_path, redis_server, delay):
    """Issue 14 #15: a stop may reach a real service while workers are still being forked or
    are starting (connecting to Redis, building the app). Whenever it lands, the parent exits 0
    and no worker is left behind. Before the fix a worker whose Redis bus was cancelled while
    connecting kept running (redis-py swallowed the cancel) and the parent waited forever."""
    import time
    env = {"MARKET_CHAT_BUS": "redis", "MARKET_REDIS_URL": redis_server.url,
           "MARKET_SERVER_PROCESSES": "2"}
    proc = MarketProcess(tmp_path / "early", env=env).migrate()
    log = open(proc.log_path, "a")
    proc.proc = subprocess.Popen([sys.executable, "main.py", "--config", proc.config, "serve"],
                                 cwd=ROOT, env=proc.env, stdout=log, stderr=subprocess.STDOUT)
    try:
        time.sleep(delay)
        workers = set()
        try:
            workers = set(open("/proc/%d/task/%d/children" % ((proc.proc.pid,) * 2)).read().split())
        except OSError:
            pass
        proc.proc.send_signal(signal.SIGTERM)
        code = proc.proc.wait(20)
        # 0, or killed by the signal itself while the interpreter was still starting (before
        # main.py ran a line: nothing had started, nothing forked; systemd counts it as clean)
        assert code == 0 or (code == -signal.SIGTERM and "Starting" not in proc.output()
                             and "starting" not in proc.output()), (code, proc.output())
        time.sleep(0.2)
        left = subprocess.run(["pgrep", "-f", proc.config], capture_output=True, text=True)
        assert left.stdout.strip() == "", proc.output()  # no worker left behind
        for pid in workers:
            assert not os.path.exists("/proc/%s" % pid) or \
                open("/proc/%s/stat" % pid).read().split()[2] == "Z", proc.output()
    finally:
        log.close()
        proc.kill()


def test_a_crashed_worker_is_restarted_and_a_stop_still_ends_all(tmp_path, redis_server):
    """The parent supervises: a worker killed by a signal is replaced; SIGTERM then stops the
    replacement too and the parent exits 0."""
    import time
    import urllib.request
    env = {"MARKET_CHAT_BUS": "redis", "MARKET_REDIS_URL": redis_server.url,
           "MARKET_SERVER_PROCESSES": "2"}
    proc = MarketProcess(tmp_path / "crash", env=env).migrate().start()
    try:
        def children():
            return set(open("/proc/%d/task/%d/children" % ((proc.proc.pid,) * 2)).read().split())
        deadline = time.monotonic() + 20
        while len(children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        first = children()
        assert len(first) == 2
        victim = sorted(first)[0]
        os.kill(int(victim), signal.SIGKILL)
        while (victim in children() or len(children()) < 2) and time.monotonic() < deadline:
            time.sleep(0.05)
        now = children()
        assert victim not in now and len(now) == 2, proc.output()
        while proc.output().count("serving on") < 3 and time.monotonic() < deadline:
            time.sleep(0.05)  # the replacement serves
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % proc.port, timeout=5) as r:
            assert r.status == 200
        assert "restarting" in proc.output()
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.proc.wait(20) == 0, proc.output()
        for pid in now:
            assert not os.path.exists("/proc/%s" % pid) or \
                open("/proc/%s/stat" % pid).read().split()[2] == "Z"
    finally:
        proc.kill()


def test_several_processes_need_the_redis_bus(tmp_path):
    proc = MarketProcess(tmp_path / "local", env={"MARKET_SERVER_PROCESSES": "2"}).migrate()
    out = subprocess.run([sys.executable, "main.py", "--config", proc.config, "serve"],
                         cwd=ROOT, env=proc.env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "chat.bus" in out.stderr


@pytest.mark.gen_test(timeout=30)
async def test_a_cached_offline_answer_is_dropped_when_the_user_connects_elsewhere(api, app, process2):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    await settle()
    assert not await app.bus.is_online("bob")  # cached: bob is nowhere
    b = await process2.api.ws("bob", "alice", t["bob"])
    await settle()  # process 2 announces bob; process 1 drops its cached answer
    await send(a, toOpenid="bob", content="实时", msgId="c1")
    assert (await read(a))["status"] == "delivered"
    assert (await read(b))["content"] == "实时"
    b.close()
    await settle()
    await send(a, toOpenid="bob", content="离线", msgId="c2")
    assert (await read(a))["status"] == "stored"


@pytest.mark.gen_test(timeout=30)
async def test_the_same_msg_id_to_two_recipients_across_processes(api, app, process2):
    """msgId "1" to bob and "1" to carol, live through Redis and offline from either process:
    each reaches its recipient (a msgId is unique per sender and recipient)."""
    from services import chat
    t = await users(api, "alice", "bob", "carol", "dave", "erin")
    a1 = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    a2 = await process2.api.ws("alice", "dave", t["alice"], query={"v": "2"})
    b = await process2.api.ws("bob", "alice", t["bob"])
    c = await process2.api.ws("carol", "alice", t["carol"])
    await settle()

    async def acked(ws):
        frame = await read(ws)
        while frame.get("type") not in ("ack", "error"):  # echoes to the other device
            frame = await read(ws)
        return frame
    for to in ("bob", "carol"):  # live, from process 1 to users on process 2
        await send(a1, toOpenid=to, content="live " + to, msgId="1")
        assert (await acked(a1))["status"] == "delivered"
    assert (await read(b))["content"] == "live bob"
    assert (await read(c))["content"] == "live carol"
    # offline: "2" to dave from process 1, then "2" to erin from process 2
    await send(a1, toOpenid="dave", content="for dave", msgId="2")
    assert (await acked(a1))["status"] == "stored"
    await send(a2, toOpenid="erin", content="for erin", msgId="2")
    assert (await acked(a2))["status"] == "stored"
    assert [f["content"] for _, f in await app.run_db(chat_helpers.pending_offline, "erin", "alice")] \
        == ["for erin"]
    e = await process2.api.ws("erin", "alice", t["erin"])
    assert (await read(e))["content"] == "for erin"


@pytest.mark.gen_test(timeout=40)
async def test_history_across_processes_replays_once_and_a_resend_elsewhere_is_a_duplicate(
        api, app, process2):
    """Issue 16 on two processes: messages accepted by process 1 for bob on process 2 are shown
    again, in order and once, when bob reopens on process 2; a resend of one of them through
    process 2 is recognised by the database's unique key (no second row, no second bubble)."""
    from services import chat
    t = await users(api, "alice", "bob")
    a1 = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    b = await process2.api.ws("bob", "alice", t["bob"])
    await settle()
    for i in range(6):
        await send(a1, toOpenid="bob", content="x%d" % i, msgId="x%d" % i)
        assert (await read(a1))["status"] == "delivered"
    assert [(await read(b))["content"] for _ in range(6)] == ["x%d" % i for i in range(6)]
    b.close()  # at once: not yet confirmed by a pong
    a2 = await process2.api.ws("alice", "bob", t["alice"], query={"v": "2"})
    history = [json.loads(m) for m in [await a2.read_message() for _ in range(6)]]
    assert [f["content"] for f in history] == ["x%d" % i for i in range(6)]
    await send(a2, toOpenid="bob", content="x2", msgId="x2")
    frame = await read(a2)
    assert frame["type"] == "ack" and frame["status"] == "duplicate", frame
    b2 = await process2.api.ws("bob", "alice", t["bob"])
    got = []
    try:
        while True:
            got.append((await read(b2, 0.5))["content"])
    except asyncio.TimeoutError:
        pass
    assert got == ["x%d" % i for i in range(6)]
    rows = await app.run_db(lambda: chat.ChatMessage.select().where(
        chat.ChatMessage.from_openid == "alice").count())
    assert rows == 6
