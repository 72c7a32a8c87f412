"""The shipped nginx site (deploy/nginx-market.conf) on a private Debian nginx with a throw-away
certificate, in front of a real `main.py serve`: REST over https://, chat over wss:// between
two clients, uploads and static files from disk, the real client address, body limit, redirect."""
import asyncio
import http.client
import json
import os
import re
import ssl
import subprocess

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

from tests.chat_helpers import read
from devservers import free_port, wait_port
from tests.serverproc import ROOT, MarketProcess, make_cert

NGINX = "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(not os.path.exists(NGINX),
                                reason="Debian's nginx is not installed (scripts/system-packages test)")

MAIN_CONF = """%(user)s
worker_processes 1;
daemon off;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log info;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    include %(dir)s/site.conf;
}
"""


def site_conf(dir, app_port, https_port, http_port, cert, key):
    """The shipped site with ports and paths made private (IPv6 listeners dropped)."""
    text = open(os.path.join(ROOT, "deploy", "nginx-market.conf")).read()
    text = "\n".join(line for line in text.splitlines() if "[::]" not in line)
    for old, new in [("listen 443 ssl", "listen 127.0.0.1:%d ssl" % https_port),
                     ("listen 80", "listen 127.0.0.1:%d" % http_port),
                     # the tests call https://127.0.0.1:PORT: a name the site serves
                     ("server_name market.example.edu;", "server_name market.example.edu 127.0.0.1;"),
                     ("127.0.0.1:8000", "127.0.0.1:%d" % app_port),
                     ("/etc/letsencrypt/live/market.example.edu/fullchain.pem", cert),
                     ("/etc/letsencrypt/live/market.example.edu/privkey.pem", key),
                     ("/var/lib/market/uploads/", dir + "/uploads/"),
                     ("/opt/market/static/", dir + "/static/"),
                     ("/var/log/nginx/", dir + "/"),
                     ("/var/www/letsencrypt", dir + "/acme")]:
        assert old in text, "the shipped site no longer has %r" % old
        text = text.replace(old, new)
    return text


@pytest.fixture
def stack(tmp_path):
    """A market process (xheaders on) behind a private nginx; yields a namespace of both."""
    app = MarketProcess(tmp_path / "market", {"MARKET_SERVER_XHEADERS": "true"})
    app.migrate().start()
    dir = str(tmp_path / "nginx")
    for sub in ("uploads", "static", "acme"):
        os.makedirs(os.path.join(dir, sub))
    cert, key = make_cert(dir)
    https_port, http_port = free_port(), free_port()
    with open(os.path.join(dir, "site.conf"), "w") as f:
        f.write(site_conf(dir, app.port, https_port, http_port, cert, key))
    with open(os.path.join(dir, "nginx.conf"), "w") as f:
        f.write(MAIN_CONF % {"dir": dir, "user": "user root;" if os.geteuid() == 0 else ""})
    args = [NGINX, "-p", dir, "-c", dir + "/nginx.conf", "-e", dir + "/error.log"]
    check = subprocess.run(args + ["-t"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(https_port, proc, timeout=10)
        context = ssl.create_default_context(cafile=cert)
        yield type("Stack", (), dict(app=app, dir=dir, https="https://127.0.0.1:%d" % https_port,
                                     wss="wss://127.0.0.1:%d" % https_port, ssl=context,
                                     https_port=https_port, http_port=http_port))
    finally:
        proc.terminate()
        proc.wait(10)
        app.kill()


async def fetch(stack, path, **kwargs):
    request = HTTPRequest(stack.https + path, ssl_options=stack.ssl, request_timeout=10, **kwargs)
    return await AsyncHTTPClient().fetch(request, raise_error=False)


@pytest.mark.gen_test(timeout=30)
async def test_rest_and_chat_through_nginx_tls(stack):
    tokens = {}
    for name in ("alice", "bob"):
        reply = await fetch(stack, "/wx/user/devLogin?openid=" + name)
        assert reply.code == 200, reply.body
        tokens[name] = json.loads(reply.body)["token"]
    body = json.dumps({"openid": "alice", "wxname": "小王", "headImg": "https://img/a.png",
                       "sex": 1, "uname": "王", "qq": "1", "wx": "w"}, ensure_ascii=False)
    reply = await fetch(stack, "/wx/user/register", method="POST", body=body.encode(),
                        headers={"Authorization": "Bearer " + tokens["alice"],
                                 "Content-Type": "application/json"})
    assert json.loads(reply.body)["code"] == 200
    assert reply.headers["Strict-Transport-Security"].startswith("max-age=")

    def ws(me, peer):
        return websocket_connect(HTTPRequest(
            "%s/wx/%s/%s?v=2" % (stack.wss, me, peer), ssl_options=stack.ssl, request_timeout=10,
            headers={"Authorization": "Bearer " + tokens[me]}))
    alice, bob = await ws("alice", "bob"), await ws("bob", "alice")
    alice.write_message(json.dumps({"toOpenid": "bob", "content": "二手单车🚲 还在吗", "msgId": "1"}))
    got = await read(bob)
    assert got["fromOpenid"] == "alice" and got["content"] == "二手单车🚲 还在吗"
    assert (await read(alice))["status"] == "delivered"
    bob.write_message(json.dumps({"toOpenid": "alice", "content": "在的"}))
    assert (await read(alice))["content"] == "在的"
    alice.close(), bob.close()
    log = stack.app.output()
    assert "101 GET /wx/alice/bob user=alice 127.0.0.1" in log, log


@pytest.mark.gen_test(timeout=30)
async def test_files_from_disk_real_client_address_and_limits(stack):
    image = b"\xff\xd8\xff\xe0" + os.urandom(2000)
    with open(os.path.join(stack.dir, "uploads", "0" * 32 + ".jpg"), "wb") as f:
        f.write(image)
    with open(os.path.join(stack.dir, "static", "admin.css"), "w") as f:
        f.write("body{}")
    reply = await fetch(stack, "/uploads/%s.jpg" % ("0" * 32))
    assert reply.code == 200 and reply.body == image
    assert reply.headers["Content-Type"] == "image/jpeg"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert (await fetch(stack, "/static/admin.css")).body == b"body{}"
    assert (await fetch(stack, "/uploads/../site.conf")).code in (400, 403, 404)
    assert (await fetch(stack, "/metrics")).code == 404  # never published through nginx

    # nginx overwrites a client's X-Real-IP; the query string (a token) stays out of both logs
    spoof = await fetch(stack, "/wx/spoof-check?token=SECRET-IN-QUERY",
                        headers={"X-Real-IP": "10.9.9.9", "X-Request-Id": "client-chosen-id"})
    for _ in range(100):  # Tornado writes the access line just after the answer has gone
        line = [x for x in stack.app.output().splitlines() if "GET /wx/spoof-check" in x]
        if line:
            break
        await asyncio.sleep(0.05)
    assert line and "127.0.0.1" in line[0] and "10.9.9.9" not in stack.app.output()
    # one id in nginx's log, the app's line and the answer: nginx's, not the client's (issue 19)
    rid = spoof.headers["X-Request-Id"]
    assert re.match(r"^[0-9a-f]{32}$", rid) and line[0].endswith(" rid=" + rid)
    for _ in range(100):  # nginx, too, logs once the answer has gone
        if "rid=" + rid in open(os.path.join(stack.dir, "market.access.log")).read():
            break
        await asyncio.sleep(0.05)
    assert "rid=" + rid in open(os.path.join(stack.dir, "market.access.log")).read()
    assert "SECRET-IN-QUERY" not in stack.app.output()
    assert "SECRET-IN-QUERY" not in open(os.path.join(stack.dir, "market.access.log")).read()

    conn = http.client.HTTPSConnection("127.0.0.1", stack.https_port, context=stack.ssl,
                                       timeout=10)
    conn.putrequest("POST", "/wx/goods/publish")
    conn.putheader("Content-Length", str(13 * 1024 * 1024))
    conn.endheaders()
    assert conn.getresponse().status == 413  # refused before any byte reaches the app
    conn.close()

    plain = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=10)
    plain.request("GET", "/wx/user/devLogin?openid=x")
    answer = plain.getresponse()
    assert answer.status == 301
    assert re.match(r"https://127\.0\.0\.1/wx/user/devLogin\?openid=x$", answer.headers["Location"])
    plain.close()


@pytest.mark.gen_test(timeout=30)
async def test_an_unknown_host_is_dropped_before_the_app(stack):
    """The default_server answers nothing (444) for a Host the site does not serve, over https
    and http, also without any Host; the app never sees those requests."""
    import socket
    requests = [b"GET /wx/goods/getSimpleGoods?state=1 HTTP/1.1\r\nHost: attacker.invalid:8080\r\n\r\n",
                b"POST /wx/images/upload HTTP/1.1\r\nHost: attacker.invalid\r\nContent-Length: 0\r\n\r\n",
                b"GET /wx/goods/getSimpleGoods?state=1 HTTP/1.0\r\n\r\n"]
    for secure, port in ((True, stack.https_port), (False, stack.http_port)):
        for request in requests:
            raw = socket.create_connection(("127.0.0.1", port), timeout=10)
            conn = stack.ssl.wrap_socket(raw, server_hostname="localhost") if secure else raw
            conn.sendall(request)
            try:
                answer = conn.recv(65536)
            except ConnectionResetError:
                answer = b""
            conn.close()
            assert answer == b"", (secure, request, answer)
    known = await fetch(stack, "/wx/goods/getSimpleGoods?state=1")
    assert known.code in (200, 404) and json.loads(known.body)["code"] in (100, 200)
    for _ in range(100):  # the access line is written just after the answer
        if "GET /wx/goods/getSimpleGoods" in stack.app.output():
            break
        await asyncio.sleep(0.02)
    assert stack.app.output().count("GET /wx/goods/getSimpleGoods") == 1  # only the known one
