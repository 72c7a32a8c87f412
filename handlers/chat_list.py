"""The conversation list: /wx/lt/list and /wx/lt/deleteList1."""
from actions.chat import do_delete_conversation
from handlers.base import ApiHandler
from services import chat, validate


class ChatListHandler(ApiHandler):
    """GET /wx/lt/list?openid= : extend.chatLists, the caller's rows, most recent first."""

    async def get(self):
        openid = self.caller(self.arg("openid"))
        await self.application.list_writer.flush()  # include messages of the last instant
        self.ok({"chatLists": await self.run_db(chat.conversation_list, openid)})


class DeleteChatHandler(ApiHandler):
    """GET /wx/lt/deleteList1?myOpenid=&beDeleteOpenid= : remove only the caller's row."""

    async def get(self):
        openid = self.caller(self.arg("myOpenid"))
        peer = validate.openid(self.arg("beDeleteOpenid"), "beDeleteOpenid")
        await do_delete_conversation(self.actions, openid, peer)
        self.ok(msg="deleted")


default_handlers = [
    (r"/wx/lt/list", ChatListHandler),
    (r"/wx/lt/deleteList1", DeleteChatHandler),
]
