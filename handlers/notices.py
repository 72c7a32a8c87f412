"""The notice inbox: /wx/lt/getNoticeInfo and /wx/lt/haveRead."""
from handlers.base import BaseHandler
from services import notices


class NoticeInfoHandler(BaseHandler):
    """GET /wx/lt/getNoticeInfo?type=&openid= : extend.info, the unread lines of that inbox."""

    async def get(self):
        openid = self.caller(self.arg("openid"))
        kind = notices.kind(self.arg("type"))
        self.ok({"info": await self.run_db(notices.unread, openid, kind)})


class HaveReadHandler(BaseHandler):
    """GET /wx/lt/haveRead?type=&openid= : mark that inbox read (the page's "delete all")."""

    async def get(self):
        openid = self.caller(self.arg("openid"))
        kind = notices.kind(self.arg("type"))
        self.ok({"count": await self.run_db(notices.mark_read, openid, kind)})


default_handlers = [
    (r"/wx/lt/getNoticeInfo", NoticeInfoHandler),
    (r"/wx/lt/haveRead", HaveReadHandler),
]
