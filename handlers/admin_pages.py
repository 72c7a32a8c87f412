"""Browser admin pages under /admin/: session, sign-in, dashboard, announcements, broadcast, audit.

Pages derive from PageHandler (a plain RequestHandler): Tornado's XSRF check runs on every POST,
errors render as HTML, templates autoescape. Moderation pages live in admin_moderation_pages.py.
"""
import json
import logging
import re
import time

import tornado.ioloop
import tornado.web

from handlers.admin_api import sign_in_throttle
from models import utcnow
from services import admin, admins, validate
from services.reports import trust_figures
from services.clock import display
from services.errors import Invalid, ServiceError, TooMany

log = logging.getLogger("market.admin")

COOKIE = "market_admin"
CSP = ("default-src 'none'; img-src 'self' data: https:; style-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
SAFE_NEXT = re.compile(r"^/admin(/[A-Za-z0-9_\-/.?=&%+]*)?$")
PROCESS_START = utcnow()
DONE = {  # ?ok= codes after a redirect: fixed texts, never text from the request
    "approved": "Listing approved.", "rejected": "Listing rejected; the seller can read why.",
    "deleted": "Listing taken down.", "restored": "Listing restored.",
    "verify": "User verified.", "reject": "Verification rejected.",
    "block": "User blocked; their chat connections were closed.", "unblock": "User unblocked.",
    "notice": "Announcement saved.", "broadcast": "Broadcast sent.", "openid": "Admin openids updated.",
    "banner": "Banners updated.",
}


def safe_next(value, default="/admin/"):
    """Only a path inside /admin/ (never //host or a scheme): no open redirect."""
    if value and SAFE_NEXT.match(value) and "//" not in value and ".." not in value:
        return value
    return default


class PageHandler(tornado.web.RequestHandler):
    """HTML page of the admin site; `self.current_user` is the signed-in admin's name or None."""

    def set_default_headers(self):
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("Cache-Control", "no-store")

    @property
    def config(self):
        return self.settings["config"]

    def run_db(self, fn, *args, **kwargs):
        """Run a service function on the database executor."""
        return self.application.run_db(fn, *args, **kwargs)

    async def prepare(self):
        """Read the session (Tornado has already refused a POST without a valid XSRF token)."""
        self.current_user = await self._session_user()

    async def _session_user(self):
        hours = self.config["admin"]["session_hours"]
        raw = self.get_signed_cookie(COOKIE, max_age_days=hours / 24.0, min_version=2)
        try:
            data = json.loads(raw) if raw else {}
            username, epoch, expires = data and (data["u"], data["e"], float(data["exp"]))
        except (ValueError, TypeError, KeyError):
            return None
        if not username or expires < time.time():
            return None
        # ended server-side (sign-out, new password, account removed) in any process
        return username if await self.run_db(admins.session_valid, username, epoch) else None

    def start_session(self, username, epoch):
        """Set the signed, HttpOnly, SameSite=Strict session cookie (Secure over https)."""
        expires = time.time() + self.config["admin"]["session_hours"] * 3600
        self.set_signed_cookie(COOKIE, json.dumps({"u": username, "e": epoch, "exp": int(expires)}),
                               expires_days=None, httponly=True, samesite="Strict",
                               secure=self.request.protocol == "https", path="/admin")

    def page(self, template, **values):
        """Render a page with the common values (admin, flash message, helpers)."""
        values.setdefault("title", "")
        self.render(template, admin=self.current_user, done=DONE.get(self.get_argument("ok", "")),
                    state_name=state_name, goods_state=goods_state, **values)

    def arg_text(self, name, max_len, required=False):
        """A form field checked like API input (length, no control characters)."""
        return validate.text(self.get_argument(name, ""), name, max_len, required=required)

    def write_error(self, status_code, **kwargs):
        """An HTML error page with a plain message; never a traceback."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ServiceError):
            self.set_status(exc.status)
            status_code, message = exc.status, exc.msg
        elif status_code == 403 and isinstance(exc, tornado.web.HTTPError) and \
                "xsrf" in (exc.log_message or "").lower():
            message = "This form is out of date or came from another site. Reload and try again."
        elif status_code == 404:
            message = "There is no such page."
        elif status_code < 500:
            message = self._reason
        else:
            message = "Something went wrong on the server; it has been logged."
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.render("error.html", admin=getattr(self, "_current_user", None), status=status_code,
                    message=message, title="Error", done=None)

    def log_exception(self, typ, value, tb):
        """Refusals are one line; anything else is logged with its traceback."""
        if isinstance(value, ServiceError):
            log.info("%s %s -> %s %s", self.request.method, self.request.path, value.status,
                     value.msg)
        else:
            super().log_exception(typ, value, tb)


def state_name(state):
    """A user state as the pages name it."""
    return {0: "unverified", 1: "verified", 2: "rejected", 3: "pending", 10: "blocked"}.get(
        state, str(state))


def goods_state(state):
    """A listing state as the pages name it."""
    return {0: "pending", 1: "approved", 2: "rejected"}.get(state, str(state))


class LoginPage(PageHandler):
    """GET/POST /admin/login: username and password; failures slowed down per address and name."""

    def get(self):
        if self.current_user:
            self.redirect(safe_next(self.get_argument("next", None)))
            return
        self.page("login.html", error=None, username="", next=self.get_argument("next", ""),
                  title="Sign in")

    async def post(self):
        username = self.get_argument("username", "").strip()[:64]
        password = self.get_argument("password", "")[:1024]
        nxt = self.get_argument("next", "")
        throttle, address = sign_in_throttle(self.application), self.request.remote_ip
        try:
            throttle.check(address, username)
        except TooMany as e:
            self.set_status(429)
            self.page("login.html", error=e.msg, username=username, next=nxt, title="Sign in")
            return
        found = username and await self.run_db(admins.check_password, username, password)
        if not found:
            throttle.failed(address, username)
            log.info("admin sign-in failed for %r from %s", username, address)
            self.set_status(401)
            self.page("login.html", error="Wrong username or password.", username=username,
                      next=nxt, title="Sign in")
            return
        throttle.succeeded(address, username)
        await self.run_db(admin.record_action, found["username"], "admin.login", "pages")
        self.start_session(found["username"], found["epoch"])
        self.redirect(safe_next(nxt))


class LogoutPage(PageHandler):
    """POST /admin/logout: end this admin's sessions server-side (every copy of the cookie and
    every adminLogin token, on every device and process), then drop the cookie."""

    async def post(self):
        if self.current_user:
            await self.run_db(admins.end_sessions, self.current_user)
            await self.run_db(admin.record_action, self.current_user, "admin.logout", "pages")
        self.clear_cookie(COOKIE, path="/admin")
        self.redirect("/admin/login")


class DashboardPage(PageHandler):
    """GET /admin/: users, listings by state, pending reviews, live chat, offline and messages."""

    @tornado.web.authenticated
    async def get(self):
        figures = await self.run_db(admin.figures)
        trust = await self.run_db(trust_figures)
        live = await self.application.bus.stats()
        counts = self.application.chat.counts
        total = counts["delivered"] + counts["stored"]
        today, since = message_day(self.application).today(total)
        self.page("dashboard.html", f=figures, live=live, today=today,
                  since=display(since)[11:16], midnight=since == admin.china_midnight_utc(),
                  started=display(PROCESS_START), counts=dict(counts), trust=trust,
                  checks=dict(self.application.content.counts),
                  notices=dict(self.application.notifier.counts), title="Dashboard")


def message_day(application):
    """The app's DailyCounter, watched each minute once the dashboard has been opened."""
    counter = getattr(application, "admin_message_day", None)
    if counter is None:
        counter = application.admin_message_day = admin.DailyCounter(PROCESS_START)

        def observe():
            counts = application.chat.counts
            counter.observe(counts["delivered"] + counts["stored"])
        application.admin_message_timer = tornado.ioloop.PeriodicCallback(observe, 60_000)
        application.admin_message_timer.start()
    return counter


class BroadcastPage(PageHandler):
    """GET/POST /admin/broadcast: a notice to every live chat connection."""

    @tornado.web.authenticated
    def get(self):
        self.page("broadcast.html", sent=None, title="Broadcast")

    @tornado.web.authenticated
    async def post(self):
        text = self.arg_text("text", self.config["chat"]["max_content_chars"], required=True)
        sent = await self.application.chat.broadcast(text)
        await self.run_db(admin.record_action, self.current_user, "broadcast", "all", text,
                          "", str(sent))
        self.page("broadcast.html", sent=sent, title="Broadcast")


class NoticesPage(PageHandler):
    """GET/POST /admin/notices: the three announcement slots of the home page."""

    @tornado.web.authenticated
    async def get(self):
        self.page("notices.html", notices=await self.run_db(admin.notices), title="Announcements")

    @tornado.web.authenticated
    async def post(self):
        text = self.get_argument("text", None)
        if text is None:  # a missing text is not an empty one (which clears the slot)
            raise Invalid("text is required")
        await self.application.content.require_announcement(text)
        await self.run_db(admin.update_notice, self.current_user, self.get_argument("mid", ""),
                          text)
        self.redirect("/admin/notices?ok=notice")


class AuditPage(PageHandler):
    """GET /admin/audit?q=&page= : every admin action, newest first."""

    @tornado.web.authenticated
    async def get(self):
        q = self.get_argument("q", "")
        page = validate.integer(self.get_argument("page", "0"), "page", low=0, high=100_000)
        self.page("audit.html", log=await self.run_db(admin.audit, q, page), q=q, page_no=page,
                  title="Audit log")


class OpenidsPage(PageHandler):
    """GET/POST /admin/openids: which mini-program users see the admin entry (isAdmin)."""

    @tornado.web.authenticated
    async def get(self):
        self.page("openids.html", rows=await self.run_db(admin.admin_openids),
                  accounts=await self.run_db(admins.list_admins), title="Admin openids")

    @tornado.web.authenticated
    async def post(self):
        openid = self.get_argument("openid", "").strip()
        if self.get_argument("remove", ""):
            await self.run_db(admin.remove_admin_openid, self.current_user, openid)
        else:
            await self.run_db(admin.add_admin_openid, self.current_user, openid)
        self.redirect("/admin/openids?ok=openid")


class AdminRoot(PageHandler):
    """GET /admin : to /admin/."""

    def get(self):
        self.redirect("/admin/")


default_handlers = [
    (r"/admin", AdminRoot),
    (r"/admin/", DashboardPage),
    (r"/admin/login", LoginPage),
    (r"/admin/logout", LogoutPage),
    (r"/admin/broadcast", BroadcastPage),
    (r"/admin/notices", NoticesPage),
    (r"/admin/audit", AuditPage),
    (r"/admin/openids", OpenidsPage),
]
