"""Issue 19 #6, logs: one line per request (a refusal was logged twice: its own line and the
access line), the request id (nginx's X-Request-Id kept when sane, else made; in the answer's
header and on every line of the request, error lines included), `logging.format: json`, and the
version on /healthz and the serving line. Against the real process (`main.py serve`)."""
import io
import json
import logging
import re
import urllib.error
import urllib.request

import pytest
import tornado.testing
from tornado.httpclient import AsyncHTTPClient

import logs
from application import HANDLER_MODULES, MarketApp, make_server
from handlers.base import ApiHandler
from tests.serverproc import MarketProcess
from version import __version__

HEX_ID = re.compile(r"^[0-9a-f]{32}$")


def call(url, headers=None, method="GET", data=None):
    """(status, headers, body) of one request (blocking)."""
    request = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


REFUSALS = [  # (path, method, body, extra headers, status): each kind of 4xx the app makes
    ("/no/such/path", "GET", None, {}, 404),                      # Tornado's HTTPError
    ("/wx/user/getUserInfo", "GET", None, {}, 401),               # a ServiceError
    ("/wx/report", "POST", b"not json", {}, 400),                 # bad input
    ("/admin/no-such-page", "GET", None, {}, 404),                # an admin page
    ("/wx/alice/bob", "GET", None, {"Upgrade": "websocket", "Connection": "Upgrade",  # chat
                                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                    "Sec-WebSocket-Version": "13"}, 401),
]


@pytest.fixture
def server(tmp_path):
    process = MarketProcess(tmp_path / "m").migrate().start()
    yield process
    process.kill()


def lines_about(output, path):
    return [line for line in output.splitlines() if path + " " in line or path + "?" in line
            or line.endswith(path)]


def test_each_request_is_one_line_with_its_id(server):
    base = "http://127.0.0.1:%d" % server.port
    ids = {}
    for path, method, body, headers, status in REFUSALS:
        got, answer_headers, _ = call(base + path, headers, method, body)
        assert got == status, (path, got)
        ids[path] = answer_headers["X-Request-Id"]
        assert HEX_ID.match(ids[path]), ids[path]  # none sent: a new one
    assert len(set(ids.values())) == len(ids)
    status, headers, body = call(base + "/healthz", {"X-Request-Id": "nginx-5f2c9a7e01"})
    assert status == 200 and json.loads(body)["extend"]["version"] == __version__
    assert headers["X-Request-Id"] == "nginx-5f2c9a7e01"  # a sane id from nginx is kept
    for bad in ("x" * 129, "short", "a b c d e f g h", "<script>alert(1)</script>", "é" * 10):
        status, headers, _ = call(base + "/healthz", {"X-Request-Id": bad.encode().decode("latin-1")})
        assert status == 200 and HEX_ID.match(headers["X-Request-Id"]), bad
    server.proc.terminate()
    server.proc.wait(10)
    output = server.output()
    for path, method, body, headers, status in REFUSALS:
        lines = lines_about(output, path)
        assert len(lines) == 1, (path, lines)  # twice before issue 19
        line = lines[0]
        assert " INFO tornado.access: %d %s %s " % (status, method, path) in line, line
        assert line.endswith(" rid=" + ids[path]), line
    assert "user=- 127.0.0.1" in lines_about(output, "/wx/user/getUserInfo")[0]
    assert "-- login required: send the token rid=" in lines_about(output, "/wx/user/getUserInfo")[0]
    assert "-- the body is not valid JSON rid=" in lines_about(output, "/wx/report")[0]
    assert any(line.endswith("rid=nginx-5f2c9a7e01") for line in lines_about(output, "/healthz"))
    assert "version %s)" % __version__ in output  # the serving line


def test_json_format_is_one_object_per_line(tmp_path):
    server = MarketProcess(tmp_path / "m", {"MARKET_LOGGING_FORMAT": "json"}).migrate().start()
    try:
        base = "http://127.0.0.1:%d" % server.port
        status, headers, _ = call(base + "/wx/user/getUserInfo?token=eyJ.secret.sig")
        assert status == 401
        rid = headers["X-Request-Id"]
        call(base + "/healthz", {"X-Request-Id": "from-nginx-0001"})
        server.proc.terminate()
        assert server.proc.wait(10) == 0
    finally:
        server.kill()
    records = [json.loads(line) for line in server.output().splitlines()]  # every line parses
    assert all({"time", "level", "logger", "msg"} <= set(r) for r in records)
    serving = [r for r in records if r["msg"].startswith("serving on")]
    assert len(serving) == 1 and serving[0]["level"] == "INFO" and __version__ in serving[0]["msg"]
    access = [r for r in records if r["logger"] == "tornado.access"]
    assert len(access) == 2, access
    refused, health = access
    assert refused["request_id"] == rid and refused["http"] == {
        "status": 401, "method": "GET", "path": "/wx/user/getUserInfo", "user": "-",
        "ip": "127.0.0.1", "ms": refused["http"]["ms"], "refusal": "invalid token"}
    assert health["request_id"] == "from-nginx-0001" and health["http"]["status"] == 200
    assert "eyJ.secret.sig" not in server.output()
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", refused["time"])


class CrashHandler(ApiHandler):
    """A route that fails the way a bug does (an uncaught exception), for the test below."""

    def get(self):
        raise KeyError("a bug")


default_handlers = [(r"/test/crash", CrashHandler)]  # only in the application made below


@pytest.mark.gen_test
async def test_an_uncaught_error_is_logged_with_the_request_id(config, database, io_loop):
    """A bug: its traceback and its access line, both with the request's id (and its 500
    answer carries the id the operator greps for)."""
    app = MarketApp(config, database, HANDLER_MODULES[:1] + ["tests.test_ops_logs"])
    await app.start()
    server = make_server(app)
    sock, port = tornado.testing.bind_unused_port()
    server.add_socket(sock)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.AddRequestId())
    logging.getLogger().addHandler(handler)
    try:
        reply = await AsyncHTTPClient().fetch("http://127.0.0.1:%d/test/crash" % port,
                                        headers={"X-Request-Id": "bug-report-42"},
                                        raise_error=False)
    finally:
        logging.getLogger().removeHandler(handler)
        server.stop()
        await app.shutdown(1)
        app.db_executor.shutdown(wait=True)
    assert reply.code == 500 and json.loads(reply.body) == {"code": 100, "msg": "服务器内部错误"}
    assert reply.headers["X-Request-Id"] == "bug-report-42"
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    crash = [r for r in records if "exc" in r]
    assert len(crash) == 1 and "KeyError: 'a bug'" in crash[0]["exc"]
    assert crash[0]["request_id"] == "bug-report-42" and crash[0]["level"] == "ERROR"
    access = [r for r in records if r["logger"] == "tornado.access"]
    assert len(access) == 1 and access[0]["request_id"] == "bug-report-42"
    assert access[0]["level"] == "ERROR" and access[0]["http"]["status"] == 500
