"""Admin page for the hot words under the mini-program's search box: see them, hide one
(audited), show it again."""
import tornado.web

from actions.admins import do_set_hot_word_hidden
from handlers.base import PageHandler
from services import hotwords
from services.clock import display
from errors import Invalid

ACTIONS = ("hide", "show")


class HotWordsPage(PageHandler):
    """GET /admin/hotwords: the most counted words and the hidden ones. POST word=&action=hide|show."""

    @tornado.web.authenticated
    async def get(self):
        self.render_page("hotwords.html", title="Hot words", display=display,
                         data=await self.run_db(hotwords.for_moderators))

    @tornado.web.authenticated
    async def post(self):
        action = self.get_argument("action", "")
        if action not in ACTIONS:
            raise Invalid("action must be hide or show")
        word = self.arg_text("word", hotwords.MAX_KEYWORD_CHARS, required=True)
        await do_set_hot_word_hidden(self.actions, self.current_user, word, action == "hide")
        self.redirect("/admin/hotwords?ok=" + action)


default_handlers = [
    (r"/admin/hotwords", HotWordsPage),
]
