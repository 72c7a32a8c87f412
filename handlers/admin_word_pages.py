"""Admin page for the local sensitive-word filter's list: see it, add a word, take one off (with
the confirmation step and a reason; audited)."""
import tornado.web

from actions.words import do_add_word, do_remove_word
from handlers.admin_forms import AdminPage
from services import word_filter
from services.clock import display
from errors import Invalid, ServiceError

ACTIONS = ("add", "remove")


class WordsPage(AdminPage):
    """GET /admin/words: the list's size, the added and the removed words. POST word=&action=add
    (at once) or action=remove (asks first, with a reason)."""

    @tornado.web.authenticated
    async def get(self):
        await self.show()

    async def show(self, error=None, word="", status=200):
        self.set_status(status)
        self.render_page("words.html", title="Sensitive words", display=display, error=error,
                         word=word, data=await self.run_db(word_filter.for_moderators))

    @tornado.web.authenticated
    async def post(self):
        action = self.get_argument("action", "")
        if action not in ACTIONS:
            raise Invalid("action must be add or remove")
        word = self.get_argument("word", None)
        if word is None:
            raise Invalid("word is required")
        if action == "add":
            try:
                await do_add_word(self.actions, self.current_user, word)
            except ServiceError as e:  # shown on the page, the word kept in its field
                await self.show(error=e.msg, word=word, status=e.status)
                return
            self.redirect("/admin/words?ok=add")
            return
        ask = {"title": "Take this word off the list?", "button": "Remove",
               "cancel": "/admin/words",
               "lead": "Texts with it are no longer held by the local filter.",
               "reason_label": "Reason (kept in the audit log)", "items": [{"text": word}]}
        if await self.run_confirmed(ask, lambda reason: do_remove_word(
                self.actions, self.current_user, word, reason)):
            self.redirect("/admin/words?ok=remove")


default_handlers = [
    (r"/admin/words", WordsPage),
]
