"""Abuse: bodies too large for the server, polyglot uploads, rate limits per user and per address,
a chat client that never reads. Each refusal is clear and costs the others nothing.

Elsewhere: bombs, type spoofing, truncated files and filename tricks
(tests/test_images.py::test_refused_uploads_say_why, ::test_filename_tricks_never_reach_the_disk,
::test_damaged_images_are_refused_never_a_500); the per-user connection cap
(tests/test_chat.py::test_connection_cap_closes_the_oldest); frames over the size limit
(tests/test_chat.py::test_ping_pong_and_oversize_frame_closes_with_1009); flooding one socket
(tests/test_chat.py::test_flooding_is_rate_limited_and_others_unaffected); failed admin
sign-ins (tests/test_admin_api.py::test_repeated_failed_logins_are_slowed_down); publishing per
user (tests/test_goods.py::test_publish_identity_and_blocked_users).
"""
import asyncio
import base64
import io
import json
import os
import socket
import time
import urllib.error
import urllib.request

import pytest
from PIL import Image
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from handlers.chat_socket import WRITE_BUFFER_LIMIT
from services import chat, tokens
from tests import chat_helpers
from tests.chat_helpers import read, send, users
from tests.security_helpers import goods_body
from tests.serverproc import MarketProcess, dev_login
from tests.test_images import multipart, stored, upload


# -- bodies too large: refused before they are buffered ---------------------------------------
@pytest.fixture(scope="module")
def small_body_server(tmp_path_factory):
    """main.py serve with server.max_body_bytes = 1 MiB (the real HTTPServer settings) and
    uploads.max_bytes = 512 KiB."""
    proc = MarketProcess(tmp_path_factory.mktemp("bodies"),
                         {"MARKET_SERVER_MAX_BODY_BYTES": str(1024 * 1024),
                          "MARKET_UPLOADS_MAX_BYTES": str(512 * 1024)})
    yield proc.migrate().start()
    proc.kill()


def raw_request(port, head, chunks=(), read_timeout=5):
    """Send a request head and then body chunks on a raw socket; returns (bytes sent before the
    server stopped us, the server's answer)."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(read_timeout)
    sent = 0
    try:
        s.sendall(head)
        for chunk in chunks:
            s.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        answer = s.recv(65536)
    except (ConnectionResetError, socket.timeout):
        answer = b""
    s.close()
    return sent, answer


def test_a_declared_oversize_body_is_refused_at_once(small_body_server):
    """Content-Length of 1 GiB: answered without the server waiting for (or storing) a byte of
    the body; the process goes on serving."""
    port = small_body_server.port
    started = time.monotonic()
    head = ("POST /wx/images/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
            "multipart/form-data; boundary=x\r\nContent-Length: %d\r\n\r\n" % (1 << 30)).encode()
    _, answer = raw_request(port, head)
    assert answer.startswith(b"HTTP/1.1 4"), answer  # 400/413, the connection closed
    assert time.monotonic() - started < 3
    assert dev_login("http://127.0.0.1:%d" % port, "still-up")


def test_a_chunked_body_past_the_limit_is_cut_off(small_body_server):
    """No Content-Length (chunked): the server stops reading once the limit is passed, long
    before the 8 MiB the client tries to send."""
    port = small_body_server.port
    head = (b"POST /wx/user/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
            b"application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"x" * 65536
    chunks = (b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(128))
    sent, answer = raw_request(port, head, chunks)
    assert sent < 6 * 1024 * 1024, sent  # what the kernel buffers on loopback, at most
    assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer
    assert dev_login("http://127.0.0.1:%d" % port, "still-up-2")


def test_a_body_under_the_server_limit_but_over_the_upload_limit_is_a_413_envelope(
        small_body_server):
    """Under server.max_body_bytes the handler answers: a photo over uploads.max_bytes is 413
    with the envelope (nothing stored)."""
    port = small_body_server.port
    base = "http://127.0.0.1:%d" % port
    token = dev_login(base, "uploader")
    body, ctype = multipart({"openid": "uploader", "flag": "0"},
                            [("file", "a.png", "image/png", os.urandom(900 * 1024))])
    request = urllib.request.Request(base + "/wx/images/upload", data=body, method="POST",
                                     headers={"Content-Type": ctype,
                                              "Authorization": "Bearer " + token})
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("an upload over uploads.max_bytes was accepted")
    except urllib.error.HTTPError as e:
        assert e.code == 413 and json.loads(e.read())["code"] == 100


# -- bodies refused before they are kept: the streamed upload, every route's limit ----------
@pytest.fixture(scope="module")
def default_server(tmp_path_factory):
    """main.py serve with the default limits (server.max_body_bytes 12 MiB, uploads 10 MiB)."""
    proc = MarketProcess(tmp_path_factory.mktemp("defaults"),
                         {"MARKET_SERVER_LOG_LEVEL": "warning"})
    yield proc.migrate().start()
    proc.kill()


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int([x for x in f if x.startswith("VmRSS:")][0].split()[1]) / 1024


def upload_head(port, length, token=None, expect=False, path="/wx/images/upload",
                ctype="multipart/form-data; boundary=bbbb"):
    return ("POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: %s\r\n"
            "Content-Length: %d\r\n%s%s\r\n"
            % (path, port, ctype, length,
               "Authorization: Bearer %s\r\n" % token if token else "",
               "Expect: 100-continue\r\n" if expect else "")).encode()


def envelope(answer):
    """(status, JSON body) of a raw HTTP answer."""
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.mark.parametrize("path,ctype", [
    ("/wx/images/upload", "multipart/form-data; boundary=bbbb"),
    ("/wx/user/register", "application/json"),  # a sibling: every other route's 1 MiB limit
])
def test_held_open_anonymous_11_mib_bodies_cost_no_memory(default_server, path, ctype):
    """40 anonymous 11 MiB bodies, all sent but the last byte and held open: the server keeps
    none of them (it was +441 MiB RSS before the upload body was streamed and other routes
    limited to 1 MiB; bench/held_uploads.py measures it)."""
    port, pid = default_server.port, default_server.proc.pid
    size = 11 * 1024 * 1024
    body = os.urandom(1024 * 1024) * 11
    before = rss_mib(pid)
    held = []
    for _ in range(40):
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(10)
        try:
            s.sendall(upload_head(port, size, path=path, ctype=ctype) + body[:-1])
        except OSError:
            pass  # the 1 MiB routes close the connection at the head (Tornado's 400)
        held.append(s)
    time.sleep(1)
    grown = rss_mib(pid) - before
    for s in held:
        s.close()
    assert grown < 40, "server RSS grew %.0f MiB" % grown
    assert dev_login("http://127.0.0.1:%d" % port, "still-serving")


def test_refused_uploads_are_answered_before_the_body(default_server):
    """From the headers alone, each with the envelope: no token 401, an admin token 403,
    larger than uploads.max_bytes + the form 413; a client that waits for 100-continue gets
    the refusal instead (never a 100), and one that sends anyway gets it after its body, which
    is dropped (not a reset)."""
    port = default_server.port
    admin = tokens.issue(open(os.path.join(default_server.folder, "data", "token_secret")).read()
                         .strip(), "boss", 600, role="admin")
    user = dev_login("http://127.0.0.1:%d" % port, "uploader")
    for token, length, status in [(None, 1000, 401), ("garbage", 1000, 401), (admin, 1000, 403),
                                  (user, 11 * 1024 * 1024, 413), (None, 1 << 30, 413)]:
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(5)
        s.sendall(upload_head(port, length, token, expect=True))
        answer = s.recv(65536)
        s.close()
        assert not answer.startswith(b"HTTP/1.1 100"), answer
        got, reply = envelope(answer)
        assert (got, reply["code"]) == (status, 100) and reply["msg"], (token, length, answer)
    s = socket.create_connection(("127.0.0.1", port))  # no Expect: the body goes first
    s.settimeout(10)
    s.sendall(upload_head(port, 3 * 1024 * 1024) + os.urandom(3 * 1024 * 1024))
    assert envelope(s.recv(65536))[0] == 401
    s.close()


def test_uploads_at_once_per_user_are_capped(default_server):
    """A user's 11th upload body at once is refused (429) before it is read; a finished one
    frees its place."""
    port = default_server.port
    token = dev_login("http://127.0.0.1:%d" % port, "tenfold")
    held = []
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(5)
        s.sendall(upload_head(port, 5000, token, expect=True))
        assert s.recv(100).startswith(b"HTTP/1.1 100"), "upload not accepted"
        held.append(s)
    extra = socket.create_connection(("127.0.0.1", port))
    extra.settimeout(5)
    extra.sendall(upload_head(port, 5000, token, expect=True))
    status, reply = envelope(extra.recv(65536))
    assert status == 429 and reply["code"] == 100
    extra.close()
    held.pop().close()
    time.sleep(0.2)
    again = socket.create_connection(("127.0.0.1", port))
    again.settimeout(5)
    again.sendall(upload_head(port, 5000, token, expect=True))
    assert again.recv(100).startswith(b"HTTP/1.1 100")
    for s in held + [again]:
        s.close()


@pytest.mark.gen_test(timeout=60)
async def test_connections_per_address_are_capped(tmp_path):
    """server.max_connections_per_address: the extra connection is closed unread, a chat
    socket counts while open, a closed one frees its place; behind a proxy (xheaders, where
    every connection is the proxy's) the cap is off and nginx's limit_conn applies."""
    def answers(port):
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(5)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            return s.recv(100).startswith(b"HTTP/1.1 200")
        except OSError:  # reset: closed unread
            return False
        finally:
            s.close()

    capped = MarketProcess(tmp_path / "cap", {"MARKET_SERVER_MAX_CONNECTIONS_PER_ADDRESS": "3"})
    proxied = MarketProcess(tmp_path / "proxied", {"MARKET_SERVER_MAX_CONNECTIONS_PER_ADDRESS": "1",
                                                   "MARKET_SERVER_XHEADERS": "true"})
    try:
        capped.migrate().start()
        token = dev_login("http://127.0.0.1:%d" % capped.port, "capped")
        dev_login("http://127.0.0.1:%d" % capped.port, "peer")
        await asyncio.sleep(0.3)  # the login's connection is closed on both sides
        chat_socket = await websocket_connect(HTTPRequest(
            "ws://127.0.0.1:%d/wx/capped/peer" % capped.port,
            headers={"Authorization": "Bearer " + token}))
        idle = [socket.create_connection(("127.0.0.1", capped.port)) for _ in range(2)]
        await asyncio.sleep(0.2)
        assert not answers(capped.port)  # the 4th: closed before a byte is read
        chat_socket.close()
        await asyncio.sleep(0.5)
        assert answers(capped.port)  # the chat socket's place is free again
        for s in idle:
            s.close()
        assert "max_connections_per_address" in capped.output()
        proxied.migrate().start()
        held = [socket.create_connection(("127.0.0.1", proxied.port)) for _ in range(3)]
        assert answers(proxied.port)
        for s in held:
            s.close()
    finally:
        capped.kill()
        proxied.kill()


# -- polyglots --------------------------------------------------------------------------------
def polyglots():
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (9, 9, 9)).save(out, "GIF")
    gif = out.getvalue()
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (9, 9, 9)).save(out, "JPEG", comment=b"<?php system($_GET[c]); ?>")
    jpeg = out.getvalue()
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (9, 9, 9)).save(out, "PNG")
    png = out.getvalue()
    return [
        (gif + b"<script>alert('gifar')</script>", "a.gif", b"alert('gifar')"),
        (jpeg + b"<html><script>alert(1)</script>", "a.jpg", b"system($_GET"),
        (png + b"PK\x03\x04zip-in-png<script>x</script>", "a.png", b"zip-in-png"),
    ]


@pytest.fixture
def roomy(settings_env):
    settings_env["MARKET_LIMITS_PUBLISH_PER_MINUTE_USER"] = "1000"
    settings_env["MARKET_LIMITS_COMMENT_PER_MINUTE_USER"] = "1000"


@pytest.mark.gen_test(timeout=60)
async def test_polyglot_images_are_rewritten_and_their_payload_dropped(api, app, config, roomy):
    """A real image with HTML/PHP/ZIP riding along is accepted as the image only: the file is
    re-encoded, the payload is not in it, and it is served with a fixed type, nosniff and a
    sandbox CSP."""
    token = await api.login("sam")
    assert (await api.post_json("/wx/goods/goodsIssue", goods_body("sam"), token)).code == 200
    for data, name, payload in polyglots():
        reply = await upload(api, token, "sam", data, filename=name)
        assert reply.status == 200, reply
        with open(stored(config, reply.extend["imageUrl"]), "rb") as f:
            assert payload not in f.read() and b"<script" not in f.read()
        path = "/uploads/" + reply.extend["imageUrl"].rsplit("/", 1)[1]
        served = await api.fetch("GET", path)
        assert served.status == 200 and payload not in served.body
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert served.headers["Content-Type"].startswith("image/")
        assert "sandbox" in served.headers["Content-Security-Policy"]


# -- rate limits ------------------------------------------------------------------------------
@pytest.mark.gen_test(timeout=60)
async def test_login_is_limited_per_user_and_per_address(api, app, config):
    """One openid logging in over and over is stopped at login_per_minute_user; many students
    behind one address get login_per_minute_address (generous); X-Real-Ip from a client that
    is not behind the proxy (xheaders off) does not buy a fresh bucket."""
    per_user = config["limits"]["login_per_minute_user"]
    assert config["limits"]["login_per_minute_address"] >= 10 * per_user  # the default is generous
    answers = [await api.get("/wx/user/getOpenid", code="ok-same") for _ in range(per_user + 2)]
    assert [a.status for a in answers[:per_user]] == [200] * per_user
    assert answers[per_user].status == 429 and answers[per_user].code == 100
    assert "token" not in answers[per_user].json
    app.config["limits"]["login_per_minute_address"] = 40
    app.limiter.buckets.clear()
    statuses = []
    for i in range(45):
        reply = await api.fetch("GET", "/wx/user/getOpenid", {"code": "ok-student%d" % i},
                                headers={"X-Real-Ip": "10.0.0.%d" % i,
                                         "X-Forwarded-For": "10.1.0.%d" % i})
        statuses.append(reply.status)
    assert statuses[:40] == [200] * 40 and set(statuses[40:]) == {429}


@pytest.mark.gen_test(timeout=60)
async def test_comments_and_publishing_are_limited_per_user_not_per_neighbour(api, app):
    app.config["limits"]["comment_per_minute_user"] = 3
    app.config["limits"]["publish_per_minute_user"] = 2
    t = await users(api, "alice", "bob")
    from models.goods import Goods
    gids = [(await api.post_json("/wx/goods/goodsIssue", goods_body("alice"), t["alice"]))
            .extend["gid"] for _ in range(2)]
    third = await api.post_json("/wx/goods/goodsIssue", goods_body("alice"), t["alice"])
    assert third.status == 429 and third.code == 100
    assert (await api.post_json("/wx/goods/goodsIssue", goods_body("bob"), t["bob"])).code == 200
    await app.run_db(lambda: Goods.update(state=1).execute())

    async def comment(who):
        info = json.dumps({"goodId": gids[0], "fromOpenid": who, "content": "hi"})
        return await api.post_json("/wx/pl/addMainComments", {"info": info}, t[who])
    assert [(await comment("alice")).status for _ in range(3)] == [200] * 3
    limited = await comment("alice")
    assert limited.status == 429 and "太频繁" in limited.json["msg"]
    reply = await api.post_json("/wx/pl/addSonCommments", {"fromOpenid": "alice", "content": "r",
                                                           "commentId": 1}, t["alice"])
    assert reply.status == 429  # replies share the bucket
    assert (await comment("bob")).status == 200  # a neighbour is not punished
    assert await app.run_db(lambda: Goods.select().where(Goods.openid == "alice").count()) == 2


@pytest.mark.gen_test(timeout=60)
async def test_every_api_call_is_limited_per_address_with_an_envelope(api, app):
    app.config["limits"]["per_minute_address"] = 30
    app.limiter.buckets.clear()
    statuses = [(await api.get("/wx/goods/getSimFrGoods")).status for _ in range(35)]
    assert statuses[:30] == [200] * 30 and 429 in statuses[30:]
    reply = await api.get("/wx/images/getHomeImages")
    assert reply.status == 429 and reply.json["code"] == 100
    assert (await api.get("/healthz")).status == 200  # health checks are never limited


@pytest.mark.gen_test(timeout=60)
async def test_chat_rate_is_per_user_across_sockets(api, app):
    """A user cannot multiply the chat rate by opening more sockets: the budget is the user's."""
    t = await users(api, "alice", "bob")
    app.config["chat"]["rate_per_second"] = 0.01  # no refill while the test runs, however slow
    burst = app.config["chat"]["rate_burst"]
    cap = app.config["chat"]["max_connections_per_user"]
    senders = [await api.ws("alice", "bob", t["alice"]) for _ in range(cap)]
    b = await api.ws("bob", "alice", t["bob"])
    for i in range(burst * 2):
        await send(senders[i % cap], toOpenid="bob", content="f%d" % i)
    delivered = 0
    try:
        while True:
            frame = await read(b, 0.5)
            delivered += frame["fromOpenid"] == "alice"
    except asyncio.TimeoutError:
        pass
    assert delivered == burst, delivered


@pytest.mark.gen_test(timeout=60)
async def test_chat_handshakes_share_the_address_budget(api, app):
    """Opening sockets over and over from one address is refused with 429 like REST calls."""
    from tornado.httpclient import HTTPClientError
    t = await users(api, "alice", "bob")
    app.config["limits"]["per_minute_address"] = 5
    app.limiter.buckets.clear()
    for _ in range(5):
        (await api.ws("alice", "bob", t["alice"])).close()
    with pytest.raises(HTTPClientError) as err:
        await api.ws("alice", "bob", t["alice"])
    assert err.value.code == 429


# -- a chat client that never reads ------------------------------------------------------------
def silent_client(port, token, me="bob", peer="alice"):
    """A raw TCP WebSocket client that completes the handshake and then never reads again."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /wx/%s/%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "Authorization: Bearer %s\r\n\r\n" % (me, peer, port, key, token)).encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += s.recv(1)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return s


@pytest.mark.gen_test(timeout=90)
async def test_a_client_that_never_reads_is_dropped_with_a_bounded_buffer(api, app, caplog):
    """bob's socket stops reading while alice sends: the server's write buffer for it never
    passes WRITE_BUFFER_LIMIT (+ one frame), the socket is dropped, every acknowledged message
    stays unreceived for bob's next open, and alice's socket and a third user are unaffected."""
    app.config["chat"]["rate_per_second"] = 100000
    app.config["chat"]["rate_burst"] = 100000
    t = await users(api, "alice", "bob", "carol")
    port = int(api.base.rsplit(":", 1)[1])
    raw = await asyncio.get_running_loop().run_in_executor(None, silent_client, port, t["bob"])
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    c = await api.ws("carol", "alice", t["carol"])
    for _ in range(100):
        if app.registry.is_online("bob"):
            break
        await asyncio.sleep(0.02)
    handler = app.registry.sockets_for("bob")[0]
    content = "字" * app.config["chat"]["max_content_chars"]  # 6 kB a frame
    largest, statuses = 0, []
    for i in range(4000):
        await send(a, toOpenid="bob", content=content, msgId="m%d" % i)
        ack = await read(a, 5)
        statuses.append(ack.get("status") or ack.get("code"))
        stream = handler.ws_connection.stream if handler.ws_connection else None
        if stream is not None:
            largest = max(largest, len(stream._write_buffer or b""))
        if statuses[-1] != "delivered":
            break
    assert statuses[-1] in ("stored",), statuses[-5:]  # bob was dropped, then kept offline
    assert largest <= WRITE_BUFFER_LIMIT + 4 * len(content.encode()), largest
    for _ in range(400):
        if not app.registry.is_online("bob"):
            break
        await asyncio.sleep(0.05)
    assert not app.registry.is_online("bob")
    await send(c, toOpenid="alice", content="alice still fine?")
    assert (await read(a))["content"] == "alice still fine?"
    assert a.close_code is None
    # bob never answered a ping, so nothing written to his socket counts as received: every
    # acknowledged message waits for his next open (issue 16), and the offline cap still holds
    waiting = await app.run_db(chat_helpers.unreceived, "bob", "alice")
    assert len(waiting) == len(statuses)
    pending = await app.run_db(chat_helpers.pending_offline, "bob", "alice")
    assert len(pending) <= app.config["chat"]["offline_limit"]
    raw.close()
    assert "never retrieved" not in caplog.text  # one warning line, not an error per frame


# -- parsers, static files, versions ----------------------------------------------------------
@pytest.mark.gen_test(timeout=60)
async def test_parser_abuse_is_cheap(api, app):
    """A 1000-part multipart upload and a 60 KB pathological Cookie are answered quickly."""
    token = await api.login("sam")
    body, ctype = multipart({"openid": "sam", "flag": "0"},
                            [("file", "a%d.jpg" % i, "image/jpeg", b"x") for i in range(1000)])
    started = time.monotonic()
    reply = await api.fetch("POST", "/wx/images/upload", token=token, body=body,
                            headers={"Content-Type": ctype})
    assert reply.status == 400 and reply.code == 100 and time.monotonic() - started < 1.0
    started = time.monotonic()
    cookie = "a=" + '"\\' * 20000
    reply = await api.fetch("GET", "/wx/goods/getSimFrGoods", headers={"Cookie": cookie[:60000]})
    assert reply.status < 500 and time.monotonic() - started < 0.5


@pytest.mark.gen_test(timeout=30)
async def test_static_and_upload_paths_do_not_escape_their_folders(api, app):
    for path in ("/static/../config.yaml", "/static/..%2fconfig.yaml", "/static/%2e%2e/main.py",
                 "/static/....//config.yaml", "/static//etc/passwd", "/uploads/..%2f..%2fmain.py",
                 "/wx/images/private/..%2f..%2fconfig.yaml"):
        reply = await api.fetch("GET", path, follow_redirects=False)
        assert reply.status in (400, 403, 404), (path, reply)
        assert b"token_secret" not in reply.body and b"import" not in reply.body, path


def test_dependency_versions_meet_the_security_floor():
    """The floors of /work/shared/security-notes.md (CVE fixes)."""
    import PIL
    import pymysql
    import tornado
    assert tornado.version_info >= (6, 5, 8, 0), tornado.version
    assert tuple(int(x) for x in PIL.__version__.split(".")[:2]) >= (12, 3), PIL.__version__
    assert tuple(int(x) for x in pymysql.__version__.split(".")[:3]) >= (1, 1, 1)


@pytest.fixture
def fast_pings(settings_env):
    settings_env["MARKET_CHAT_PING_INTERVAL"] = "0.2"
    settings_env["MARKET_CHAT_PING_TIMEOUT"] = "0.2"


@pytest.mark.gen_test(timeout=30)
async def test_a_dead_peer_is_dropped_by_the_ping_timeout(fast_pings, api, app):
    """A client that completed the handshake and then went silent (no pong, no close) leaves the
    registry within a few ping intervals; a message to it is then kept offline."""
    t = await users(api, "alice", "bob")
    port = int(api.base.rsplit(":", 1)[1])
    raw = await asyncio.get_running_loop().run_in_executor(None, silent_client, port, t["bob"])
    try:
        for _ in range(100):
            if app.registry.is_online("bob"):
                break
            await asyncio.sleep(0.02)
        assert app.registry.is_online("bob")
        started = time.monotonic()
        for _ in range(300):  # no pong: Tornado closes, and aborts after 5 s without a close
            if not app.registry.is_online("bob"):
                break
            await asyncio.sleep(0.05)
        assert time.monotonic() - started < 8
        assert not app.registry.is_online("bob")
        a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
        await send(a, toOpenid="bob", content="are you there?", msgId="p1")
        assert (await read(a))["status"] == "stored"
    finally:
        raw.close()
