"""Hand-overs and ratings for newer mini-program versions: /wx/handover*, /wx/rating*."""
from actions.ratings import do_confirm_handover, do_mark_sold, do_rate
from handlers.base import MarketHandler
from services import goods, ratings, validate


class RatingHandler(MarketHandler):
    """Shared: the per-user budget of hand-over and rating calls."""

    def spend(self, openid):
        self.application.limiter.hit("rating", openid,
                                     self.config["ratings"]["per_minute_user"], "rating calls")


class MarkSoldHandler(RatingHandler):
    """POST /wx/handover {openid, gid, buyer} → extend.handover: the seller names the buyer."""

    async def post(self):
        body = self.json_body()
        seller = self.caller(body.get("openid"))
        self.spend(seller)
        result = await do_mark_sold(self.actions, seller, goods.gid_of(body.get("gid")),
                                    body.get("buyer"))
        self.ok({"handover": result}, msg="waiting for the buyer to confirm")


class ConfirmHandler(RatingHandler):
    """POST /wx/handover/confirm {openid, id} → extend.handover: the buyer confirms."""

    async def post(self):
        body = self.json_body()
        buyer = self.caller(body.get("openid"))
        self.spend(buyer)
        result = await do_confirm_handover(self.actions, buyer,
                                           ratings.handover_id(body.get("id")))
        result.pop("newly", None)
        self.ok({"handover": result}, msg="confirmed")


class MyHandoversHandler(RatingHandler):
    """GET /wx/handover/mine?openid= → extend.handovers (as seller or buyer, with canRate)."""

    async def get(self):
        openid = self.caller(self.arg("openid"))
        self.ok({"handovers": await self.run_db(ratings.mine, openid)})


class RateHandler(RatingHandler):
    """POST /wx/rating {openid, handoverId, score 1-5[, text]} → extend.rating {id, held}."""

    async def post(self):
        body = self.json_body()
        rater = self.caller(body.get("openid"))
        self.spend(rater)
        result = await do_rate(self.actions, rater, ratings.handover_id(body.get("handoverId"),
                                                                        "handoverId"),
                               body.get("score"), body.get("text"))
        self.ok({"rating": {"id": result["id"], "held": result["held"]}}, msg="rated")


class RatingsOfHandler(RatingHandler):
    """GET /wx/rating/list?openid=&pageNum= → extend {summary, ratings, more}: the ratings a
    user received (public; `openid` names the user viewed)."""

    async def get(self):
        openid = validate.openid(self.arg("openid"))
        page = self.page_number("pageNum")
        found = await self.run_db(ratings.public_page, openid, page, self.page_size,
                                  await self.blocker())
        self.ok(found)


default_handlers = [
    (r"/wx/handover", MarkSoldHandler),
    (r"/wx/handover/confirm", ConfirmHandler),
    (r"/wx/handover/mine", MyHandoversHandler),
    (r"/wx/rating", RateHandler),
    (r"/wx/rating/list", RatingsOfHandler),
]
