"""The inbox: /wx/lt/getNoticeInfo and /wx/lt/haveRead."""
from actions.inbox import do_mark_read
from handlers.base import ApiHandler
from services import inbox


class NoticeInfoHandler(ApiHandler):
    """GET /wx/lt/getNoticeInfo?type=&openid= : extend.info, the unread lines of that inbox."""

    async def get(self):
        openid = self.caller(self.arg("openid"))
        kind = inbox.kind(self.arg("type"))
        self.ok({"info": await self.run_db(inbox.unread, openid, kind)})


class HaveReadHandler(ApiHandler):
    """GET /wx/lt/haveRead?type=&openid= : mark that inbox read (the page's "delete all")."""

    async def get(self):
        openid = self.caller(self.arg("openid"))
        kind = inbox.kind(self.arg("type"))
        self.ok({"count": await do_mark_read(self.actions, openid, kind)})


default_handlers = [
    (r"/wx/lt/getNoticeInfo", NoticeInfoHandler),
    (r"/wx/lt/haveRead", HaveReadHandler),
]
