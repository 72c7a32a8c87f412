"""Admin pages for what moderators tell students: the home page's announcements and a
broadcast to every live chat connection."""
import tornado.web

from actions.announcements import do_update_announcement
from actions.chat import do_broadcast
from handlers.base import PageHandler
from services import announcements
from services.errors import Invalid


class AnnouncementsPage(PageHandler):
    """GET/POST /admin/notices: the three announcement slots of the home page."""

    @tornado.web.authenticated
    async def get(self):
        self.page("notices.html", notices=await self.run_db(announcements.current),
                  title="Announcements")

    @tornado.web.authenticated
    async def post(self):
        text = self.get_argument("text", None)
        if text is None:  # a missing text is not an empty one (which clears the slot)
            raise Invalid("text is required")
        await do_update_announcement(self.actions, self.current_user,
                                     self.get_argument("mid", ""), text)
        self.redirect("/admin/notices?ok=notice")


class BroadcastPage(PageHandler):
    """GET/POST /admin/broadcast: a notice to every live chat connection."""

    @tornado.web.authenticated
    def get(self):
        self.page("broadcast.html", sent=None, title="Broadcast")

    @tornado.web.authenticated
    async def post(self):
        text = self.arg_text("text", self.config["chat"]["max_content_chars"], required=True)
        sent = await do_broadcast(self.actions, self.current_user, text)
        self.page("broadcast.html", sent=sent, title="Broadcast")


default_handlers = [
    (r"/admin/notices", AnnouncementsPage),
    (r"/admin/broadcast", BroadcastPage),
]
