"""Browser admin pages under /admin/ for the site itself: sign-in and out, dashboard, audit log,
admin openids. Every page derives from handlers.base.PageHandler; the other areas of the menu
have their own modules (admin_moderation_pages, admin_announcement_pages, admin_report_pages,
admin_hotword_pages)."""
import tornado.web

from actions.admins import (do_add_admin_openid, do_remove_admin_openid, do_sign_in,
                            do_sign_out)
from handlers.admin_forms import AdminPage
from handlers.base import COOKIE, PageHandler, safe_next
from handlers.charts import bar_chart
from services import admin_accounts, audit, dashboard
from services.clock import display
from errors import TooMany
from services import reports

AUDIT_PAGE = 50


class LoginPage(PageHandler):
    """GET/POST /admin/login: username and password; failures slowed down per address and name."""

    def get(self):
        if self.current_user:
            self.redirect(safe_next(self.get_argument("next", None)))
            return
        self.render_page("login.html", error=None, username="", next=self.get_argument("next", ""),
                         title=self.tr("Sign in"))

    async def post(self):
        username = self.get_argument("username", "").strip()[:64]
        password = self.get_argument("password", "")[:1024]
        nxt = self.get_argument("next", "")
        try:
            found = await do_sign_in(self.actions, username, password, self.request.remote_ip,
                                     "pages")
        except TooMany as e:
            self.set_status(429)
            self.render_page("login.html", error=self.tr(e), username=username, next=nxt,
                             title=self.tr("Sign in"))
            return
        if not found:
            self.set_status(401)
            self.render_page("login.html", error=self.tr("Wrong username or password."),
                             username=username, next=nxt, title=self.tr("Sign in"))
            return
        self.start_session(found["username"], found["epoch"])
        self.redirect(safe_next(nxt))


class LogoutPage(PageHandler):
    """POST /admin/logout: end this admin's sessions server-side (every copy of the cookie and
    every adminLogin token, on every device and process), then drop the cookie."""

    async def post(self):
        if self.current_user:
            await do_sign_out(self.actions, self.current_user, "pages")
        self.clear_cookie(COOKIE, path="/admin")
        self.redirect("/admin/login")


class DashboardPage(PageHandler):
    """GET /admin/: users, listings by state, pending reviews, live chat, offline messages, and
    the last 30 days drawn as inline SVG (listings, reports, chat messages, the review queue)."""

    @tornado.web.authenticated
    async def get(self):
        app = self.application
        figures = await self.run_db(dashboard.figures)
        trust = await self.run_db(reports.dashboard_figures)
        trends = await self.run_db(dashboard.trends)
        live = await app.bus.stats()
        charts = {name: bar_chart(trends["days"], trends[name])
                  for name in ("listings", "reports", "messages", "safety", "waiting_by_day")}
        self.render_page("dashboard.html", f=figures, live=live, trends=trends, charts=charts,
                         started=display(app.started), counts=dict(app.chat.counts), trust=trust,
                         checks=dict(self.application.content.counts),
                         notices=dict(self.application.notifier.counts), title="Dashboard")


class AuditPage(AdminPage):
    """GET /admin/audit?q=&page= : every admin action in words, newest first, with pages."""

    @tornado.web.authenticated
    async def get(self):
        q = self.get_argument("q", "")
        log = await self.run_db(audit.lines, q, self.page_number(empty_refused=True), AUDIT_PAGE)
        self.render_page("audit.html", log=log, q=q, pager=self.pager(log["total"], AUDIT_PAGE),
                         title="Audit log")


class OpenidsPage(PageHandler):
    """GET/POST /admin/openids: which mini-program users see the admin entry (isAdmin)."""

    @tornado.web.authenticated
    async def get(self):
        self.render_page("openids.html", rows=await self.run_db(admin_accounts.admin_openids),
                         accounts=await self.run_db(admin_accounts.list_admins),
                         title="Admin openids")

    @tornado.web.authenticated
    async def post(self):
        openid = self.get_argument("openid", "").strip()
        if self.get_argument("remove", ""):
            await do_remove_admin_openid(self.actions, self.current_user, openid)
        else:
            await do_add_admin_openid(self.actions, self.current_user, openid)
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
    (r"/admin/audit", AuditPage),
    (r"/admin/openids", OpenidsPage),
]
