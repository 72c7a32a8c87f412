"""Property tests (hypothesis) over the admin pages with a signed-in session: any query on any
page and any form on any action answers below 500, as an HTML page or a redirect inside /admin/
(never a traceback, never a redirect off-site)."""
import asyncio
import http.client
import re
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings

from services import admin_accounts
from tests.security_helpers import route_patterns, scene
from tests.test_properties import query_values
from tests.test_security_admin import PASSWORD, Session

FIELDS = ["action", "back", "clear", "comment", "confirm", "decision", "deleted", "gid", "image",
          "mid", "next", "ok", "openid", "page", "q", "reason", "remove", "reply", "state",
          "status", "text", "word"]
SKIP = {"/admin$", "/admin/login$", "/admin/logout$", "/admin/.*$"}  # sign-in: test_admin_pages
SETTINGS = settings(max_examples=25, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


def pages(s):
    """Every admin route as concrete paths (GET pages and POST actions)."""
    return {
        "/admin/": ["/admin/"], "/admin/review": ["/admin/review"],
        "/admin/goods": ["/admin/goods"], "/admin/users": ["/admin/users"],
        "/admin/users/bob": ["/admin/users/bob"], "/admin/notices": ["/admin/notices"],
        "/admin/audit": ["/admin/audit"], "/admin/openids": ["/admin/openids"],
        "/admin/banners": ["/admin/banners"], "/admin/broadcast": ["/admin/broadcast"],
        "/admin/reports": ["/admin/reports"], "/admin/held": ["/admin/held"],
        "/admin/held/release": ["/admin/held/release"], "/admin/hotwords": ["/admin/hotwords"],
        "/admin/words": ["/admin/words"],
        "/admin/accounts": ["/admin/accounts", "/admin/accounts/root/remove",
                            "/admin/accounts/ghost/remove", "/admin/accounts/%E4%B8%AD/remove"],
        "/admin/export": ["/admin/export/listings.csv", "/admin/export/users.csv",
                          "/admin/export/reports.csv"],
        "/admin/wanted": ["/admin/wanted"], "/admin/ratings": ["/admin/ratings"],
        "actions": ["/admin/goods/%d/review" % s["pending"], "/admin/goods/%d/delete" % s["approved"],
                    "/admin/goods/%d/restore" % s["approved"], "/admin/goods/999999/review",
                    "/admin/users/bob/verify", "/admin/users/bob/reject", "/admin/users/bob/block",
                    "/admin/users/bob/unblock", "/admin/users/ghost/block",
                    "/admin/banners/1/delete", "/admin/reports/goods/%d/dismiss" % s["approved"],
                    "/admin/reports/user/bob/block", "/admin/reports/comment/1/take_down",
                    "/admin/reports/chat/bob/dismiss", "/admin/reports/goods/abc/block",
                    "/admin/reports/goods/999999/block", "/admin/reports/comment/abc/take_down",
                    "/admin/reports/comment/999999/block", "/admin/reports/goods/x/take_down",
                    "/admin/review/bulk", "/admin/verify/bulk",
                    "/admin/accounts/root/password", "/admin/accounts/root/role",
                    "/admin/accounts/ghost/role", "/admin/accounts/ghost/password",
                    "/admin/wanted/1/take_down", "/admin/wanted/1/release",
                    "/admin/wanted/9999999999/take_down", "/admin/ratings/1/remove",
                    "/admin/ratings/9999999999/release", "/admin/reports/rating/1/dismiss",
                    "/admin/reports/wanted/1/block", "/admin/reports/rating/9999999999/take_down"],
    }


class Browser:
    def __init__(self, port, cookies):
        self.port, self.cookies = port, cookies

    def request(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Cookie": "; ".join("%s=%s" % kv for kv in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            return r.status, r.getheader("Location") or "", r.read()
        finally:
            conn.close()


def answered(path, status, location, body):
    assert status < 500, (path, status, body[:300])
    assert b"Traceback" not in body, path
    if status in (301, 302, 303):
        assert location.startswith("/admin") and "//" not in location, (path, location)


def fuzz(browser, path, method):
    @SETTINGS
    @given(values=query_values(FIELDS))
    def check(values):
        if method == "GET":
            query = "&".join("%s=%s" % kv for kv in values.items())
            answered(path, *browser.request("GET", path + ("?" + query if query else "")))
        else:
            values["_xsrf"] = urllib.parse.quote(browser.cookies["_xsrf"], safe="")
            body = "&".join("%s=%s" % kv for kv in values.items())
            answered(path, *browser.request("POST", path, body))
    check()


@pytest.mark.gen_test(timeout=600)
async def test_admin_pages_answer_any_input_without_a_server_error(api, app):
    s = await scene(api, app)
    every_path = [p for paths in pages(s).values() for p in paths]
    for pattern in route_patterns(app):  # a new admin route must be added to pages()
        if pattern.startswith("/admin") and pattern not in SKIP:
            assert any(re.match(pattern, p) for p in every_path), pattern
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    session = Session(api)
    await session.sign_in()
    browser = Browser(int(api.base.rsplit(":", 1)[1]), dict(session.cookies))
    loop = asyncio.get_running_loop()
    xsrf = urllib.parse.quote(browser.cookies["_xsrf"], safe="")
    status, location, _ = await loop.run_in_executor(
        None, browser.request, "POST", "/admin/notices", "mid=1&text=ok&_xsrf=" + xsrf)
    assert status == 302 and location.startswith("/admin/notices")  # forms really get through
    for name, paths in pages(s).items():
        for path in paths:
            for method in (("POST",) if name == "actions" else ("GET", "POST")):
                await loop.run_in_executor(None, fuzz, browser, path, method)
    assert (await session.get("/admin/")).status == 200  # still signed in, still serving
