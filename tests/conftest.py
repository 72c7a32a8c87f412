"""Fixtures: a real server per test (pytest-tornado), every database test on SQLite and MariaDB,
a private MariaDB for the session, a fake WeChat API, and an `api` helper that speaks the contract."""
import asyncio
import json
import os
import sys
import urllib.parse

import pytest
import tornado.httpserver
import tornado.testing
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from application import make_app, make_server  # noqa: E402
from models import bind, open_database, is_mysql  # noqa: E402
import migrations  # noqa: E402
from tests.tables import MODELS  # noqa: E402
from settings import load_config  # noqa: E402
from devservers import MariaDB  # noqa: E402
from tests.wechat_fake import FakeWeChat  # noqa: E402

BACKENDS = ["sqlite", "mariadb"]


def migrated_mariadb(name):
    """Start a private MariaDB and create and migrate the database `name` in it."""
    server = MariaDB().start()
    database = open_database(server.create_database(name), 2)
    with database.connection_context():
        migrations.migrate(database, log=lambda *a: None)
    database.close_all()
    return server


@pytest.fixture(scope="session")
def mariadb():
    """One private MariaDB for the whole run, with a migrated `market_test` database."""
    server = migrated_mariadb("market_test")
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """The database URL of this test: a temp-file SQLite, or the session's MariaDB."""
    if request.param == "sqlite":
        return "sqlite:///" + str(tmp_path / "market.db")
    return request.getfixturevalue("mariadb").url("market_test")


def clean(database):
    """Empty every table (MariaDB keeps its migrated schema between tests)."""
    for model in reversed(MODELS):
        model.delete().execute()


@pytest.fixture
def database(db_url):
    """An opened, migrated, empty database bound to the models."""
    database = bind(open_database(db_url, 8))
    with database.connection_context():
        if is_mysql(database):
            clean(database)
        else:
            migrations.migrate(database, log=lambda *a: None)
    yield database
    database.close_all()


@pytest.fixture
def wechat(io_loop):
    """The fake WeChat API on a loopback port of this test's IOLoop."""
    fake = FakeWeChat()
    sock, port = tornado.testing.bind_unused_port()
    server = tornado.httpserver.HTTPServer(fake.app)
    server.add_socket(sock)
    fake.url = "http://127.0.0.1:%d" % port
    yield fake
    server.stop()


@pytest.fixture
def settings_env(db_url, wechat, tmp_path, base_url):
    """The MARKET_* environment a test's config is loaded with; tests may add to it."""
    return {
        "MARKET_SERVER_PUBLIC_URL": base_url.replace("localhost", "127.0.0.1"),
        "MARKET_DATABASE_URL": db_url,
        "MARKET_WECHAT_API_BASE": wechat.url,
        "MARKET_WECHAT_APPID": "wx-server-appid",
        "MARKET_WECHAT_SECRET": "server-secret-xyz",
        "MARKET_WECHAT_TIMEOUT": "1",
        "MARKET_AUTH_DEV_LOGIN": "true",
        "MARKET_CHAT_PING_INTERVAL": "5",
        "MARKET_CHAT_PING_TIMEOUT": "5",
        "MARKET_UPLOADS_DIR": str(tmp_path / "uploads"),
    }


@pytest.fixture
def config(settings_env, tmp_path):
    """The loaded config (real loader, real environment overrides)."""
    return load_config(None, environ=settings_env, base_dir=str(tmp_path))


@pytest.fixture
def app(config, database, io_loop):
    """The product's application on the test database (pytest-tornado serves it)."""
    application = make_app(config, database)
    io_loop.run_sync(application.start)
    yield application
    io_loop.run_sync(lambda: application.shutdown(1))
    application.db_executor.shutdown(wait=True)


@pytest.fixture
def http_server(request, io_loop, _unused_port, app):
    """pytest-tornado's server fixture, but the product's server (main.py's make_server: body
    limits, the per-address connection cap) around the `app` fixture."""
    server = make_server(app)
    server.add_socket(_unused_port[0])
    yield server
    server.stop()
    io_loop.run_sync(server.close_all_connections, timeout=5)


class Reply:
    def __init__(self, response):
        self.status = response.code
        self.headers = response.headers
        self.body = response.body
        try:
            self.json = json.loads(response.body) if response.body else None
        except ValueError:
            self.json = None

    @property
    def code(self):
        return self.json.get("code") if isinstance(self.json, dict) else None

    @property
    def extend(self):
        return self.json.get("extend") if isinstance(self.json, dict) else None

    def __repr__(self):
        return "<Reply %s %r>" % (self.status, self.body[:300])


class Api:
    """Calls the running server the way the mini-program does."""

    def __init__(self, http_client, base_url, app=None):
        self.http, self.base = http_client, base_url.replace("localhost", "127.0.0.1")
        self.app = app

    def url(self, path, params=None):
        return self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")

    async def fetch(self, method, path, params=None, token=None, body=None, headers=None,
                    **kwargs):
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = "Bearer " + token
        request = HTTPRequest(self.url(path, params), method=method, headers=headers, body=body,
                              allow_nonstandard_methods=True, request_timeout=30, **kwargs)
        return Reply(await self.http.fetch(request, raise_error=False))

    async def get(self, path, token=None, **params):
        return await self.fetch("GET", path, params, token)

    async def post_json(self, path, data, token=None):
        return await self.fetch("POST", path, None, token,
                                json.dumps(data, ensure_ascii=False).encode(),
                                {"Content-Type": "application/json"})

    async def post_form(self, path, data, token=None):
        return await self.fetch("POST", path, None, token, urllib.parse.urlencode(data),
                                {"Content-Type": "application/x-www-form-urlencoded"})

    async def login(self, openid, register=True, **profile):
        """Dev-login as openid (registering a profile); returns the token."""
        reply = await self.get("/wx/user/devLogin", openid=openid)
        assert reply.status == 200, reply
        token = reply.json["token"]
        if register:
            body = {"openid": openid, "wxname": profile.get("wxname", "name-" + openid),
                    "headImg": profile.get("headImg", "https://img.example/" + openid),
                    "sex": 1, "uname": "u", "qq": "1", "wx": "w"}
            assert (await self.post_json("/wx/user/register", body, token)).code == 200
            await self.settled()
        return token

    async def settled(self, timeout=10):
        """Wait for the follow-ups the server started (a profile picture's content check writes
        a media_check row after the answer): a snapshot taken next sees them already."""
        running = set(self.app.actions.follow_ups.running) if self.app is not None else ()
        if running:
            await asyncio.wait(running, timeout=timeout)

    async def ws(self, from_openid, to_openid, token=None, query=None, headers=None):
        """Open the chat socket /wx/{from}/{to} (raises on a refused handshake)."""
        params = dict(query or {})
        url = self.base.replace("http", "ws", 1) + "/wx/%s/%s" % (from_openid, to_openid)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = "Bearer " + token
        return await websocket_connect(HTTPRequest(url, headers=headers, request_timeout=10))


@pytest.fixture
def api(app, http_client, base_url):
    return Api(http_client, base_url, app)
