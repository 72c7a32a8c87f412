"""Admin page for the hot words under the mini-program's search box: see them, hide one
(audited), show it again."""
import tornado.web

from handlers.admin_pages import PageHandler
from services import hotwords
from services.clock import display
from services.errors import Invalid

DONE_TEXT = {"hide": "Word hidden from the hot words.", "show": "Word shown again."}


class HotWordsPage(PageHandler):
    """GET /admin/hotwords: the most counted words and the hidden ones. POST word=&action=hide|show."""

    @tornado.web.authenticated
    async def get(self):
        self.render("hotwords.html", admin=self.current_user, title="Hot words", display=display,
                    done=DONE_TEXT.get(self.get_argument("ok", "")),
                    data=await self.run_db(hotwords.for_moderators))

    @tornado.web.authenticated
    async def post(self):
        action = self.get_argument("action", "")
        if action not in DONE_TEXT:
            raise Invalid("action must be hide or show")
        word = self.arg_text("word", hotwords.MAX_KEYWORD_CHARS, required=True)
        await self.run_db(hotwords.set_hidden, self.current_user, word, action == "hide")
        self.redirect("/admin/hotwords?ok=" + action)


default_handlers = [
    (r"/admin/hotwords", HotWordsPage),
]
