"""Graceful shutdown of a real `main.py serve` process: chat sockets get 1001, in-flight requests
finish, exit code 0, and a message stored offline before the stop is delivered after a restart."""
import asyncio
import json
import signal
import socket
import time
import urllib.request

import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from tests.chat_helpers import read
from tests.serverproc import MarketProcess, dev_login

CONTENT = "还在吗？自行车 🚲 still for sale"
LAST = "好的，明天图书馆见"


def ws_request(port, me, peer, token, query=""):
    return HTTPRequest("ws://127.0.0.1:%d/wx/%s/%s%s" % (port, me, peer, query),
                       headers={"Authorization": "Bearer " + token}, request_timeout=10)


@pytest.fixture
def server(tmp_path):
    proc = MarketProcess(tmp_path / "market").migrate().start()
    yield proc
    proc.kill()


@pytest.mark.gen_test(timeout=60)
async def test_sigterm_closes_chat_with_1001_and_stored_message_survives_restart(server):
    base = "http://127.0.0.1:%d" % server.port
    tokens = {name: dev_login(base, name) for name in ("alice", "bob", "carol")}
    alice = await websocket_connect(ws_request(server.port, "alice", "bob", tokens["alice"], "?v=2"))
    alice.write_message(json.dumps({"toOpenid": "bob", "content": CONTENT, "msgId": "m-1"}))
    ack = await read(alice)
    assert ack["type"] == "ack" and ack["status"] == "stored" and ack["msgId"] == "m-1"
    carol = await websocket_connect(ws_request(server.port, "carol", "alice", tokens["carol"]))
    alice.write_message(json.dumps({"toOpenid": "carol", "content": LAST, "msgId": "m-2"}))
    assert (await read(carol))["content"] == LAST and (await read(alice))["status"] == "delivered"
    # SIGTERM at once: the conversation-list change is still pending in the writer (0.25 s)

    server.signal(signal.SIGTERM)
    for client in (alice, carol):
        assert await read(client, timeout=5) is None
        assert client.close_code == 1001
    assert await server.wait_exit() == 0
    assert server.stopped_after < 3, "shutdown took %.2fs" % server.stopped_after
    log = server.output()
    assert "stopped in" in log and "chat close user=alice code=1001" in log
    assert CONTENT not in log and LAST not in log and "m-1" not in log  # never content
    assert not any(t in log for t in tokens.values())  # never tokens

    server.start()
    lists = urllib.request.urlopen(urllib.request.Request(
        base + "/wx/lt/list?openid=carol",
        headers={"Authorization": "Bearer " + tokens["carol"]}), timeout=10)
    rows = json.loads(lists.read())["extend"]["chatLists"]
    assert [(r["fromOpenid"], r["lastContext"]) for r in rows] == [("alice", LAST)]
    bob = await websocket_connect(ws_request(server.port, "bob", "alice", tokens["bob"]))
    frame = await read(bob)
    assert frame["fromOpenid"] == "alice" and frame["toOpenid"] == "bob"
    assert frame["content"] == CONTENT
    server.signal(signal.SIGINT)
    assert await read(bob, timeout=5) is None and bob.close_code == 1001
    assert await server.wait_exit() == 0


def test_in_flight_request_finishes_and_new_connections_are_refused(server):
    base = "http://127.0.0.1:%d" % server.port
    token = dev_login(base, "dave")
    body = json.dumps({"openid": "dave", "wxname": "dave", "headImg": "https://img/d.png",
                       "sex": 1, "uname": "d", "qq": "1", "wx": "w"}).encode()
    head = ("POST /wx/user/register HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (token, len(body)))
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    idle = socket.create_connection(("127.0.0.1", server.port), timeout=10)  # keep-alive, no request
    slow.sendall(head.encode() + body[:10])  # a slow upload: half a request is in flight
    time.sleep(0.2)
    server.signal(signal.SIGTERM)
    time.sleep(0.5)
    assert server.proc.poll() is None, "exited with a request in flight"
    with pytest.raises(OSError):  # the listening socket is closed
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
    slow.sendall(body[10:])
    answer = slow.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 200"), answer
    assert json.loads(answer.split("\r\n\r\n", 1)[1])["code"] == 200
    assert server.proc.wait(10) == 0
    assert idle.recv(10) == b""  # idle connections are closed, not waited for
    slow.close(), idle.close()


def test_deadline_bounds_a_stuck_request(tmp_path):
    server = MarketProcess(tmp_path / "m", {"MARKET_SERVER_SHUTDOWN_TIMEOUT": "1"})
    server.migrate().start()
    try:
        stuck = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        stuck.sendall(b"POST /wx/user/register HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        time.sleep(0.2)
        began = time.monotonic()
        server.signal(signal.SIGTERM)
        assert server.proc.wait(10) == 0
        assert 0.9 < time.monotonic() - began < 4
        assert "still running after server.shutdown_timeout" in server.output()
        stuck.close()
    finally:
        server.kill()


@pytest.mark.gen_test(timeout=10)
async def test_stop_tasks_ends_a_task_that_swallows_a_cancel():
    """A library may catch the CancelledError thrown into its await and carry on (redis-py did,
    issue 14 #15): stop_tasks cancels again until the task has ended."""
    from process.periodic import stop_tasks
    swallowed = []

    async def stubborn():
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed.append(1)  # swallowed once, as the library did

    task = asyncio.ensure_future(stubborn())
    await asyncio.sleep(0)
    assert await stop_tasks([task], patience=5) == set()
    assert task.cancelled() and swallowed == [1]
