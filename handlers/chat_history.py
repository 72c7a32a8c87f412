"""Older chat messages over REST: GET /wx/chat/history (the caller's own conversations only)."""
from handlers.base import ApiHandler
from services import chat, chat_frames, validate


class ChatHistoryHandler(ApiHandler):
    """GET /wx/chat/history?peer=&before=&limit= : extend.messages newest first, extend.more."""

    async def get(self):
        me = self.caller(self.arg("openid"))
        peer = validate.openid(self.arg("peer"), "peer")
        before = validate.integer(self.arg("before"), "before", required=False, low=1)
        limit = validate.integer(self.arg("limit"), "limit", required=False, default=20,
                                 low=1, high=100)
        found = await self.run_db(chat.history, me, peer, before, limit)
        await self.application.chat.present(found["messages"])  # signed image URLs, listing cards
        found["messages"] = [chat_frames.recalled_for(m, me, self.tr) if m["type"] == "recalled" else m
                             for m in found["messages"]]  # the placeholder, worded
        self.ok(found)


default_handlers = [
    (r"/wx/chat/history", ChatHistoryHandler),
]
