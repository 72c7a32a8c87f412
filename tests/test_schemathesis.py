"""schemathesis against docs/openapi.yaml on a real `main.py serve` process: every operation, with
data generated from the description, answers below 500 with a body and content type the
description allows. The description itself is checked to list every REST route of the app."""
import asyncio
import itertools
import os
import threading

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (content_type_conformance, not_a_server_error,
                                 response_schema_conformance)

from services import tokens
from tests.serverproc import ROOT, MarketProcess, dev_login
from tests.wechat_fake import FakeWeChat

SPEC = os.path.join(ROOT, "docs", "openapi.yaml")
SECRET = "schemathesis-token-secret-of-32-bytes-or-more"
schema = schemathesis.openapi.from_path(SPEC)


def fake_wechat_in_a_thread():
    """The fake WeChat API on its own IOLoop thread (the server under test is a subprocess)."""
    import tornado.httpserver
    import tornado.testing
    sock, port = tornado.testing.bind_unused_port()
    ready = threading.Event()

    def serve():
        async def main():
            server = tornado.httpserver.HTTPServer(FakeWeChat().app)
            server.add_socket(sock)
            ready.set()
            await asyncio.Event().wait()
        asyncio.run(main())
    threading.Thread(target=serve, daemon=True).start()
    ready.wait(10)
    return "http://127.0.0.1:%d" % port


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    env = {"MARKET_AUTH_TOKEN_SECRET": SECRET, "MARKET_LIMITS_PER_MINUTE_ADDRESS": "1000000",
           "MARKET_WECHAT_API_BASE": fake_wechat_in_a_thread(), "MARKET_WECHAT_TIMEOUT": "2",
           "MARKET_WECHAT_APPID": "wx-server-appid", "MARKET_WECHAT_SECRET": "server-secret",
           "MARKET_LIMITS_PUBLISH_PER_MINUTE_USER": "1000000",
           "MARKET_LIMITS_COMMENT_PER_MINUTE_USER": "1000000",
           "MARKET_LIMITS_LOGIN_PER_MINUTE_USER": "1000000",
           "MARKET_LIMITS_LOGIN_PER_MINUTE_ADDRESS": "1000000"}
    proc = MarketProcess(tmp_path_factory.mktemp("schemathesis"), env).migrate().start()
    base = "http://127.0.0.1:%d" % proc.port
    proc.base = base
    proc.headers = itertools.cycle([
        {}, {"Authorization": "Bearer " + dev_login(base, "alice")},
        {"Authorization": "Bearer " + tokens.issue(SECRET, "root", 3600, role="admin")}])
    yield proc
    assert "Traceback" not in proc.output()  # nothing unexpected on the server side either
    proc.kill()


def test_the_description_covers_every_rest_route(app):
    from tests.test_properties import ENDPOINTS
    described = set(schema.raw_schema["paths"])
    fuzzed = {p if "/private/" not in p else "/wx/images/private/{name}" for p in ENDPOINTS}
    assert fuzzed == described


@schema.parametrize()
@settings(max_examples=12, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, live):
    case.call_and_validate(base_url=live.base, headers=next(live.headers),
                           checks=[not_a_server_error, response_schema_conformance,
                                   content_type_conformance], timeout=30)
