"""Disputes (申诉) about a confirmed hand-over, for newer mini-program versions:
/wx/handover/dispute (GET the state, POST open one)."""
from actions.disputes import do_open_dispute
from handlers.ratings import RatingHandler
from services import disputes, ratings


class DisputeHandler(RatingHandler):
    """GET /wx/handover/dispute?openid=&hid= → extend {hid, canOpen, deadline, dispute}: the
    hand-over's dispute as one of its parties sees it. POST {openid, hid, reason, photos?}
    opens it (within trade.dispute_days of the confirmation) and answers the same."""

    async def get(self):
        openid = self.caller(self.arg("openid"))
        self.ok(await self.state(openid, ratings.handover_id(self.arg("hid"), "hid")))

    async def post(self):
        body = self.json_body()
        opener = self.caller(body.get("openid"))
        self.spend(opener)
        hid = ratings.handover_id(body.get("hid"), "hid")
        await do_open_dispute(self.actions, opener, hid, body)
        self.ok(await self.state(opener, hid), msg="dispute opened")

    async def state(self, openid, hid):
        return await self.run_db(disputes.state_for_party, openid, hid,
                                 self.config["trade"]["dispute_days"], self.base,
                                 self.settings["cookie_secret"])


default_handlers = [
    (r"/wx/handover/dispute", DisputeHandler),
]
