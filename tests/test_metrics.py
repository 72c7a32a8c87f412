"""GET /metrics parsed by prometheus-client, its address rule, xheaders, the access log, and
/healthz while a private MariaDB is stopped and started again."""
import json
import logging
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import tornado.httpserver
import tornado.testing
from prometheus_client.parser import text_string_to_metric_families
from tornado.httpclient import HTTPRequest

from application import make_app
from tests.chat_helpers import read, send, users
from devservers import MariaDB, wait_port
from tests.serverproc import MarketProcess
from version import __version__


@pytest.fixture
def db_url(tmp_path):
    """Metrics do not depend on the backend: SQLite only, to keep these tests quick."""
    return "sqlite:///" + str(tmp_path / "market.db")


def samples(body):
    """{(name, frozenset(labels)): value} of every sample in a text-format body."""
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(found, name, **labels):
    return found[(name, frozenset(labels.items()))]


@pytest.mark.gen_test
async def test_metrics_count_requests_sockets_and_messages(api, app):
    t = await users(api, "alice", "bob", "carol")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    b = await api.ws("bob", "alice", t["bob"])
    await send(a, toOpenid="bob", content="live", msgId="1")
    assert (await read(b))["content"] == "live" and (await read(a))["status"] == "delivered"
    for i in range(4):  # offline_limit is 3: three stored, the fourth refused
        await send(a, toOpenid="carol", content="offline", msgId="o%d" % i)
        assert (await read(a)).get("status", "refused") == ("stored" if i < 3 else "refused")
    assert (await api.get("/no/such/path")).status == 404

    reply = await api.get("/metrics")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/plain")
    found = samples(reply.body)
    assert value(found, "market_http_requests_total", route="DevLoginHandler", method="GET",
                 status="200") == 3
    assert value(found, "market_http_requests_total", route="NotFoundHandler", method="GET",
                 status="404") == 1
    assert value(found, "market_http_requests_total", route="ChatSocketHandler", method="GET",
                 status="101") == 2
    assert value(found, "market_http_request_duration_seconds_count", route="RegisterHandler") == 3
    assert value(found, "market_http_request_duration_seconds_bucket", route="RegisterHandler",
                 le="+Inf") == 3
    assert not any("no/such" in str(key) for key in found)  # routes, never raw paths
    assert value(found, "market_chat_connections") == 2
    assert value(found, "market_chat_online_users") == 2
    assert value(found, "market_chat_messages_total", outcome="delivered") == 1
    assert value(found, "market_chat_messages_total", outcome="stored") == 3
    assert value(found, "market_chat_messages_total", outcome="refused") == 1
    assert value(found, "market_chat_offline_waiting") == 3
    assert value(found, "market_database_up") == 1
    assert value(found, "market_http_requests_in_flight") == 1  # this scrape


def test_metrics_allow_is_checked_at_load(tmp_path):
    from settings import ConfigError, load_config
    config = load_config(None, environ={}, base_dir=str(tmp_path))
    assert config["metrics"]["allow"] == ["127.0.0.1/32", "::1/128"]
    with pytest.raises(ConfigError, match="metrics.allow"):
        load_config(None, environ={"MARKET_METRICS_ALLOW": "not-an-ip"}, base_dir=str(tmp_path))


async def fetch_metrics(http_client, config, database, xheaders, headers):
    """Scrape /metrics on a server of our own (pytest-tornado's has xheaders off)."""
    app = make_app(config, database)
    sock, port = tornado.testing.bind_unused_port()
    server = tornado.httpserver.HTTPServer(app, xheaders=xheaders)
    server.add_socket(sock)
    try:
        return await http_client.fetch(HTTPRequest("http://127.0.0.1:%d/metrics" % port,
                                                   headers=headers), raise_error=False)
    finally:
        server.stop()
        app.db_executor.shutdown(wait=True)


@pytest.mark.gen_test
async def test_metrics_refused_outside_allow_and_spoofed_real_ip_ignored(
        http_client, config, database, caplog):
    caplog.set_level(logging.INFO, "tornado.access")
    config["metrics"]["allow"] = ["10.1.2.3/32", "192.168.0.0/16"]
    spoof = {"X-Real-Ip": "10.1.2.3", "X-Forwarded-For": "10.1.2.3"}
    reply = await fetch_metrics(http_client, config, database, False, spoof)
    assert reply.code == 403 and json.loads(reply.body)["code"] == 100
    assert b"market_" not in reply.body
    assert "10.1.2.3" not in caplog.text and "127.0.0.1" in caplog.text
    # behind nginx (xheaders on) the proxy's X-Real-IP is the client address
    reply = await fetch_metrics(http_client, config, database, True, spoof)
    assert reply.code == 200 and b"market_http_requests_total" in reply.body
    reply = await fetch_metrics(http_client, config, database, True,
                                {"X-Real-Ip": "192.168.7.7"})
    assert reply.code == 200
    reply = await fetch_metrics(http_client, config, database, True, {"X-Real-Ip": "8.8.8.8"})
    assert reply.code == 403


@pytest.mark.gen_test
async def test_access_log_has_route_user_and_no_query_or_token(api, caplog):
    caplog.set_level(logging.INFO)
    token = await api.login("erin")
    await api.get("/wx/user/getUserInfo", openid="erin", token=token)  # token in the query
    await api.fetch("GET", "/wx/user/getUserInfo", {"openid": "erin"}, token=token)
    lines = [r.getMessage() for r in caplog.records if r.name == "tornado.access"]
    assert any("GET /wx/user/getUserInfo user=erin 127.0.0.1" in line for line in lines), lines
    assert token not in caplog.text and "openid=erin" not in caplog.text


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_healthz_reports_the_database_down_and_recovers(tmp_path):
    maria = MariaDB().start()
    server = None
    try:
        url = maria.create_database("market_health")
        server = MarketProcess(tmp_path / "m", {"MARKET_DATABASE_URL": url,
                                                "MARKET_DATABASE_POOL_SIZE": "2"})
        server.migrate().start()
        health = "http://127.0.0.1:%d/healthz" % server.port
        assert get(health) == (200, {"code": 200, "msg": "ok",
                                     "extend": {"version": __version__}})
        maria.proc.terminate()
        maria.proc.wait(30)
        request = urllib.request.Request(health, headers={"X-Request-Id": "health-check-0001"})
        status, body = get(request)
        assert status == 503 and body["code"] == 100 and body["extend"] == {"version": __version__}
        assert body["msg"].startswith("database: ") and "unavailable" in body["msg"]
        # the database thread's warning carries the id of the request it served (issue 19)
        assert any("database unavailable" in line and line.endswith(" rid=health-check-0001")
                   for line in server.output().splitlines()), server.output()
        maria.proc = subprocess.Popen(maria.proc.args, stdout=maria.log, stderr=subprocess.STDOUT)
        wait_port(maria.port, maria.proc)
        deadline = time.time() + 10
        while get(health)[0] != 200 and time.time() < deadline:
            time.sleep(0.2)
        assert get(health)[0] == 200
        assert "database unavailable" in server.output()
    finally:
        if server:
            server.kill()
        maria.stop()


def test_credentials_in_tornado_warnings_are_redacted():
    from main import RedactSecrets
    record = logging.LogRecord("tornado.general", logging.WARNING, __file__, 1,
                               "%d %s: %s", (404, "GET /x?openid=a&token=eyJ.abc.def&code=0a1",
                                             "no such endpoint"), None)
    RedactSecrets().filter(record)
    assert record.getMessage() == ("404 GET /x?openid=a&token=[redacted]&code=[redacted]: "
                                   "no such endpoint")


def test_every_credential_parameter_is_redacted():
    """Issue 14 #13: `passwd=` (the admin login's field) was printed in clear in a 404 line."""
    from main import RedactSecrets
    names = ["passwd", "password", "PWD", "access_token", "session_key", "secret", "s", "sign",
             "signature", "ticket"]
    uri = "/wx/admin/nowhere?" + "&".join("%s=SECRET%d" % (n, i) for i, n in enumerate(names))
    record = logging.LogRecord("tornado.general", logging.WARNING, __file__, 1, "%d %s %s",
                               (404, "GET", uri + "&username=root&e=1700000000"), None)
    RedactSecrets().filter(record)
    message = record.getMessage()
    assert "SECRET" not in message, message
    assert message.count("[redacted]") == len(names)
    assert "username=root" in message and "e=1700000000" in message  # the rest stays readable


def test_log_level_comes_from_the_config(tmp_path):
    server = MarketProcess(tmp_path / "m", {"MARKET_SERVER_LOG_LEVEL": "warning"})
    server.migrate().start()
    try:
        assert get("http://127.0.0.1:%d/healthz" % server.port)[0] == 200
        get("http://127.0.0.1:%d/nowhere?token=abc" % server.port)
        server.proc.terminate()
        assert server.proc.wait(10) == 0
        log = server.output()
        assert "tornado.access" not in log and "INFO" not in log
        # a 404 is said once, on its INFO access line: nothing at warning (issue 19: it was
        # logged twice, a tornado.general warning and the access line)
        assert "/nowhere" not in log and "abc" not in log
    finally:
        server.kill()
