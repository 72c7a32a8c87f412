"""Want-to-buy posts (求购) for newer mini-program versions: /wx/wanted*."""
from actions.wanted import do_delete_wanted, do_post_wanted
from handlers.base import MarketHandler
from services import wanted


class PostWantedHandler(MarketHandler):
    """POST /wx/wanted {openid, keywords[, maxPrice, place]} → extend.wanted (its status is
    "held" while a content check holds it)."""

    async def post(self):
        body = self.json_body()
        openid = self.caller(body.get("openid"))
        self.application.limiter.hit("wanted", openid,
                                     self.config["wanted"]["per_minute_user"], "want-to-buy posts")
        self.ok({"wanted": await do_post_wanted(self.actions, openid, body)}, msg="posted")


class MyWantedHandler(MarketHandler):
    """GET /wx/wanted/mine?openid= → extend.wanted: the caller's posts with their status."""

    async def get(self):
        openid = self.caller(self.arg("openid"))
        self.ok({"wanted": await self.run_db(wanted.mine, openid)})


class DeleteWantedHandler(MarketHandler):
    """POST /wx/wanted/delete {openid, id}: the owner deletes a post."""

    async def post(self):
        body = self.json_body()
        openid = self.caller(body.get("openid"))
        await do_delete_wanted(self.actions, openid, wanted.post_id(body.get("id")))
        self.ok(msg="deleted")


class BoardHandler(MarketHandler):
    """GET /wx/wanted/list?pageNum= → extend {wanted, more}: the public board, newest first."""

    async def get(self):
        page = self.page_number("pageNum")
        found = await self.run_db(wanted.board, page, self.config["wanted"]["page_size"],
                                  await self.blocker())
        self.ok({"wanted": found["items"], "more": found["more"]})


default_handlers = [
    (r"/wx/wanted", PostWantedHandler),
    (r"/wx/wanted/mine", MyWantedHandler),
    (r"/wx/wanted/delete", DeleteWantedHandler),
    (r"/wx/wanted/list", BoardHandler),
]
