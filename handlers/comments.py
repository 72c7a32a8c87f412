"""Comments and likes: /wx/pl/* and /wx/liked/*."""
import json

from actions.comments import do_add_main, do_add_reply, do_like, do_unlike
from handlers.base import MarketHandler
from services import comments, goods, validate


class AllCommentsHandler(MarketHandler):
    """GET /wx/pl/getAllComments?gid=&openid= : a bare JSON array of main comments."""

    async def get(self):
        gid = goods.gid_of(self.arg("gid"))
        found = await self.run_db(comments.all_comments, gid, self.viewer(self.arg("openid")),
                                  self.is_admin())  # none by someone the viewer blocks
        self.finish(json.dumps(found, ensure_ascii=False))


class AddMainHandler(MarketHandler):
    """POST /wx/pl/addMainComments {"info": "<JSON of {goodId, fromOpenid, content}>"}."""

    async def post(self):
        info = comments.parse_info(self.json_body().get("info"))
        openid = self.caller(info.get("fromOpenid"))
        self._limit(openid)
        self.ok({"commentsInfo": await do_add_main(self.actions, openid, info)})

    def _limit(self, openid):
        self.application.limiter.hit("comment", openid,
                                     self.config["limits"]["comment_per_minute_user"], "comments")


class AddReplyHandler(AddMainHandler):
    """POST /wx/pl/addSonCommments {fromOpenid, content, toOpenid, commentId}."""

    async def post(self):
        body = self.json_body()
        openid = self.caller(body.get("fromOpenid"))
        self._limit(openid)
        self.ok({"commentsReply": await do_add_reply(self.actions, openid, body)})


class MainWithRepliesHandler(MarketHandler):
    """GET /wx/pl/getMainAllSonCom?inId=&openid= : extend.commentsInfo with all replies."""

    async def get(self):
        in_id = comments.comment_id(self.arg("inId"))
        info = await self.run_db(comments.main_with_replies, in_id,
                                 self.viewer(self.arg("openid")), self.is_admin())
        self.ok({"commentsInfo": info})


class LikeHandler(MarketHandler):
    """GET /wx/liked/like and /wx/liked/unlike ?openid=&objId=&type=1 : extend.count."""

    def initialize(self, undo=False):
        self.undo = undo

    async def get(self):
        openid = self.caller(self.arg("openid"))
        in_id = comments.comment_id(self.arg("objId"), "objId")
        validate.choice(self.arg("type", "1"), "type", (comments.LIKE_COMMENT,))
        action = do_unlike if self.undo else do_like
        self.ok({"count": await action(self.actions, openid, in_id)})


default_handlers = [
    (r"/wx/pl/getAllComments", AllCommentsHandler),
    (r"/wx/pl/addMainComments", AddMainHandler),
    (r"/wx/pl/addSonCommments", AddReplyHandler),
    (r"/wx/pl/getMainAllSonCom", MainWithRepliesHandler),
    (r"/wx/liked/like", LikeHandler),
    (r"/wx/liked/unlike", LikeHandler, {"undo": True}),
]
