"""Admin pages for what moderators tell students: the home page's announcements and a
broadcast to every live chat connection."""
import tornado.web

from actions.announcements import do_update_announcement
from actions.chat import do_broadcast
from handlers.admin_forms import AdminPage
from services import announcements
from errors import Invalid, ServiceError


class AnnouncementsPage(AdminPage):
    """GET/POST /admin/notices: the three announcement slots of the home page. Clearing a slot
    that shows a text (an empty text, or its Clear button) needs a reason and a confirmation; a
    refused text comes back in its slot with the error."""

    @tornado.web.authenticated
    async def get(self):
        self.render_page("notices.html", notices=await self.run_db(announcements.current),
                         error=None, title="Announcements")

    @tornado.web.authenticated
    async def post(self):
        text = self.get_argument("text", None)
        if text is None:  # a missing text is not an empty one (which clears the slot)
            raise Invalid("text is required")
        mid = self.get_argument("mid", "")
        notices = await self.run_db(announcements.current)
        shown = notices.get("Info" + mid, {}).get("noticeInfo", "")
        if self.get_argument("clear", "") or (not text.strip() and shown):
            ask = {"title": "Clear this announcement?", "button": "Clear", "cancel": "/admin/notices",
                   "lead": "The home page stops showing it at once.",
                   "reason_label": "Reason (kept in the audit log)",
                   "items": [{"text": shown, "meta": mid}]}
            if await self.run_confirmed(ask, lambda reason: do_update_announcement(
                    self.actions, self.current_user, mid, "", reason)):
                self.redirect("/admin/notices?ok=notice")
            return
        try:
            await do_update_announcement(self.actions, self.current_user, mid, text)
        except ServiceError as e:  # shown in its slot, the text kept
            self.set_status(e.status)
            notices.get("Info" + mid, {})["noticeInfo"] = text
            self.render_page("notices.html", notices=notices, error=(mid, e.msg),
                             title="Announcements")
            return
        self.redirect("/admin/notices?ok=notice")


class BroadcastPage(AdminPage):
    """GET/POST /admin/broadcast: a notice to every live chat connection. The first POST shows
    how many users and connections it will reach; the second (confirm=yes) sends it."""

    @tornado.web.authenticated
    async def get(self):
        self.render_page("broadcast.html", sent=None, text="", error=None, reach=None,
                         live=await self.application.bus.stats(), title="Broadcast")

    @tornado.web.authenticated
    async def post(self):
        raw = self.get_argument("text", "")
        live = await self.application.bus.stats()
        try:
            text = self.arg_text("text", self.config["chat"]["max_content_chars"], required=True)
        except Invalid as e:
            self.set_status(400)
            self.render_page("broadcast.html", sent=None, text=raw, error=e.msg, reach=None,
                             live=live, title="Broadcast")
            return
        if self.get_argument("confirm", "") != "yes":
            self.render_page("broadcast.html", sent=None, text=text, error=None, reach=live,
                             live=live, title="Broadcast")
            return
        sent = await do_broadcast(self.actions, self.current_user, text)
        self.render_page("broadcast.html", sent=sent, text="", error=None, reach=None,
                         live=await self.application.bus.stats(), title="Broadcast")


default_handlers = [
    (r"/admin/notices", AnnouncementsPage),
    (r"/admin/broadcast", BroadcastPage),
]
