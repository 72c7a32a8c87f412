"""Admin pages for what students and WeChat flag: the reports queue (grouped by target) and the
items held by content checks. Every report target (services.reports.TARGETS: listings, users,
comments, chats, ratings, want-to-buy posts) is acted on through one route and one handler,
and every destructive action through AdminPage's confirmation step (a reason, then confirm)."""
import tornado.web

from actions.moderation import do_release_held
from actions.reports import do_act_on_reports
from handlers.admin_forms import AdminPage
from handlers.base import PageHandler
from services import content_checks, reports, validate
from errors import Invalid

REPORT_ASKS = {
    "block": {"title": "Block the author?", "button": "Block author",
              "lead": "The author's chat connections close at once; they can no longer publish, "
                      "comment or chat, and the reports are closed.",
              "reason_label": "Reason the user reads"},
    "take_down": {"title": "Take it down?", "button": "Take down",
                  "lead": "It leaves every public page; the author's inbox gets the reason, and "
                          "the reports are closed.",
                  "reason_label": "Reason the author reads"},
}


class ReportsPage(PageHandler):
    """GET /admin/reports: open reports grouped by target, most reported first."""

    @tornado.web.authenticated
    async def get(self):
        self.render_page("reports.html", title="Reports", groups=await self.run_db(reports.queue),
                         take_down=reports.TAKE_DOWN)


class ReportAction(AdminPage):
    """POST /admin/reports/{target}/{id}/{dismiss|take_down|block} for every target of the
    registry; audited. Dismissing is one tap; taking down and blocking need a reason and a
    confirmation (the confirmation page, whichever page the button was on)."""

    @tornado.web.authenticated
    async def post(self, kind, target, action):
        act = lambda reason: do_act_on_reports(  # noqa: E731
            self.actions, self.current_user, kind, target, action, reason)
        if action == "dismiss":
            await act(self.arg_text("reason", 500))
        else:
            if action == "take_down" and kind not in reports.TAKE_DOWN:
                raise Invalid("users and chats can't be taken down: dismiss or block")
            ask = dict(REPORT_ASKS[action], cancel="/admin/reports",
                       items=[await self.run_db(reports.brief, kind, target)])
            if not await self.run_confirmed(ask, act):
                return
        self.back("/admin/reports", action)


class HeldPage(PageHandler):
    """GET /admin/held: listings and images held by WeChat content checks (or its outage)."""

    @tornado.web.authenticated
    async def get(self):
        self.render_page("held.html", title="Held content",
                         held=await self.run_db(content_checks.held_items))


class HeldRelease(PageHandler):
    """POST /admin/held/release gid=|image=|comment=|reply= : show a held item again (audited)."""

    @tornado.web.authenticated
    async def post(self):
        ids = {name: validate.integer(self.get_argument(name, ""), name, required=False, low=1)
               for name in ("gid", "image", "comment", "reply")}
        if not any(ids.values()):
            raise Invalid("nothing to release")
        await do_release_held(self.actions, self.current_user, **ids)
        self.redirect("/admin/held?ok=released")


default_handlers = [
    (r"/admin/reports", ReportsPage),
    (r"/admin/reports/(%s)/([A-Za-z0-9_-]{1,64})/(%s)" % ("|".join(reports.TARGETS),
                                                           "|".join(reports.ACTIONS)),
     ReportAction),
    (r"/admin/held", HeldPage),
    (r"/admin/held/release", HeldRelease),
]
