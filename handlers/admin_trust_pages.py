"""Admin pages for trust: the reports queue (grouped by target) and items held by content checks."""
import tornado.web

from handlers.admin_pages import PageHandler, goods_state, state_name
from services import content_security, reports, validate
from services.errors import Invalid

DONE_TEXT = {"dismiss": "Reports dismissed.", "take_down": "Content taken down.",
             "block": "User blocked; their chat connections were closed.",
             "released": "Released: visible again."}


class ReportsPage(PageHandler):
    """GET /admin/reports: open reports grouped by target, most reported first."""

    @tornado.web.authenticated
    async def get(self):
        self.render("reports.html", admin=self.current_user, title="Reports", state_name=state_name,
                    done=DONE_TEXT.get(self.get_argument("ok", "")),
                    groups=await self.run_db(reports.queue))


class ReportAction(PageHandler):
    """POST /admin/reports/{type}/{id}/{dismiss|take_down|block} with a reason; audited."""

    @tornado.web.authenticated
    async def post(self, kind, target, action):
        reason = self.arg_text("reason", 500)
        blocked = await self.run_db(reports.act, self.current_user, kind, target, action, reason)
        if blocked:
            self.application.chat.close_user(blocked)
        self.redirect("/admin/reports?ok=" + action)


class HeldPage(PageHandler):
    """GET /admin/held: listings and images held by WeChat content checks (or its outage)."""

    @tornado.web.authenticated
    async def get(self):
        self.render("held.html", admin=self.current_user, title="Held content", goods_state=goods_state,
                    done=DONE_TEXT.get(self.get_argument("ok", "")),
                    held=await self.run_db(content_security.held_items))


class HeldRelease(PageHandler):
    """POST /admin/held/release gid=|image=|comment=|reply= : show a held item again (audited)."""

    @tornado.web.authenticated
    async def post(self):
        gid = validate.integer(self.get_argument("gid", ""), "gid", required=False, low=1)
        image = validate.integer(self.get_argument("image", ""), "image", required=False, low=1)
        comment = validate.integer(self.get_argument("comment", ""), "comment", required=False, low=1)
        reply = validate.integer(self.get_argument("reply", ""), "reply", required=False, low=1)
        if not (gid or image or comment or reply):
            raise Invalid("nothing to release")
        await self.run_db(content_security.release, gid, image, self.current_user, comment, reply)
        self.redirect("/admin/held?ok=released")


default_handlers = [
    (r"/admin/reports", ReportsPage),
    (r"/admin/reports/(goods|user|comment|chat)/([A-Za-z0-9_-]{1,64})/(dismiss|take_down|block)",
     ReportAction),
    (r"/admin/held", HeldPage),
    (r"/admin/held/release", HeldRelease),
]
