"""Tornado's own TLS (server.tls.cert / server.tls.key): https:// and wss:// without nginx."""
import json
import signal
import ssl

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

from tests.chat_helpers import read
from tests.serverproc import MarketProcess, make_cert


@pytest.fixture
def tls_server(tmp_path):
    cert, key = make_cert(str(tmp_path))
    server = MarketProcess(tmp_path / "market", {"MARKET_SERVER_TLS_CERT": cert,
                                                 "MARKET_SERVER_TLS_KEY": key})
    server.migrate().start()
    server.ssl = ssl.create_default_context(cafile=cert)
    server.base = "https://127.0.0.1:%d" % server.port
    yield server
    server.kill()


@pytest.mark.gen_test(timeout=30)
async def test_https_and_wss_served_by_tornado(tls_server):
    client = AsyncHTTPClient()
    tokens = {}
    for name in ("alice", "bob"):
        reply = await client.fetch(HTTPRequest(tls_server.base + "/wx/user/devLogin?openid=" + name,
                                               ssl_options=tls_server.ssl))
        tokens[name] = json.loads(reply.body)["token"]
    health = await client.fetch(HTTPRequest(tls_server.base + "/healthz",
                                            ssl_options=tls_server.ssl))
    assert json.loads(health.body)["msg"] == "ok"

    def ws(me, peer):
        url = "wss://127.0.0.1:%d/wx/%s/%s" % (tls_server.port, me, peer)
        return websocket_connect(HTTPRequest(url, ssl_options=tls_server.ssl, request_timeout=10,
                                             headers={"Authorization": "Bearer " + tokens[me]}))
    alice, bob = await ws("alice", "bob"), await ws("bob", "alice")
    alice.write_message(json.dumps({"toOpenid": "bob", "content": "over TLS 🔒"}))
    got = await read(bob)
    assert got["fromOpenid"] == "alice" and got["content"] == "over TLS 🔒"

    # an unencrypted request to the TLS port gets no answer, and an untrusted client refuses
    with pytest.raises(OSError):
        await client.fetch("http://127.0.0.1:%d/healthz" % tls_server.port, request_timeout=5)
    with pytest.raises(ssl.SSLError):
        await client.fetch(tls_server.base + "/healthz", request_timeout=5)

    tls_server.signal(signal.SIGTERM)
    assert await read(alice, timeout=5) is None and alice.close_code == 1001
    assert await tls_server.wait_exit() == 0
    assert "serving on https://" in tls_server.output()


def test_tls_needs_both_files(tmp_path):
    from settings import ConfigError, load_config
    cert, _ = make_cert(str(tmp_path))
    with pytest.raises(ConfigError, match="server.tls"):
        load_config(None, environ={"MARKET_SERVER_TLS_CERT": cert}, base_dir=str(tmp_path))
    with pytest.raises(ConfigError, match="server.tls.key: file not found"):
        load_config(None, environ={"MARKET_SERVER_TLS_CERT": cert,
                                   "MARKET_SERVER_TLS_KEY": str(tmp_path / "missing.pem")},
                    base_dir=str(tmp_path))
