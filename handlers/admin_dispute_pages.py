"""Admin pages for disputes about a hand-over: the queue (open first), one dispute with the
pair's stored chat around the hand-over, its photos and ratings, and the decision (uphold,
naming the party at fault, or dismiss) through the confirmation step; audited."""
import tornado.web

from actions.disputes import do_decide_dispute
from handlers.admin_forms import AdminPage
from services import disputes
from errors import Invalid

STATUSES = ("open", "upheld", "dismissed", "all")
ASKS = {
    "uphold": {"title": "Uphold this dispute?", "button": "Uphold",
               "lead": "The %(party)s is at fault: the ratings they gave on this hand-over are "
                       "removed and the sale is not counted. Both parties read the outcome and "
                       "the reason.",
               "reason_label": "Reason both parties read"},
    "dismiss": {"title": "Dismiss this dispute?", "button": "Dismiss", "danger": False,
                "lead": "Both ratings of the hand-over show again and the sale counts. Both "
                        "parties read the outcome and the reason.",
                "reason_label": "Reason both parties read"},
}


class DisputesPage(AdminPage):
    """GET /admin/disputes?status=open|upheld|dismissed|all&page= : the queue."""

    @tornado.web.authenticated
    async def get(self):
        status = self.get_argument("status", "open")
        if status not in STATUSES:
            status = "open"
        page = self.page_number(empty_refused=True)
        found = await self.run_db(disputes.admin_list, status, page)
        self.render_page("disputes.html", title="Disputes", status=status, statuses=STATUSES,
                         page_num=page, found=found)


class DisputePage(AdminPage):
    """GET /admin/disputes/{id}: one dispute, the chat around its hand-over, and the decision."""

    @tornado.web.authenticated
    async def get(self, dispute_id):
        d = await self.run_db(disputes.admin_detail, dispute_id, self.settings["cookie_secret"])
        self.render_page("dispute.html", title="Dispute", d=d)


class DisputeDecide(AdminPage):
    """POST /admin/disputes/{id}/uphold (fault=buyer|seller) or /dismiss: a reason and the
    confirmation step, then the decision (audited; both parties told)."""

    @tornado.web.authenticated
    async def post(self, dispute_id, decision):
        fault = self.get_argument("fault", "")
        if decision == "uphold" and fault not in disputes.ROLES:
            raise Invalid("name the party at fault: the buyer or the seller")
        d = await self.run_db(disputes.brief_for_confirm, dispute_id)
        party = self.locale.translate(fault) if fault else ""
        ask = dict(ASKS[decision], cancel="/admin/disputes/%d" % d["id"],
                   lead_args={"party": party},
                   items=[{"text": "#%d %s" % (d["id"], d["goodsName"]),
                           "meta": "%s %s · %s %s" % (self.locale.translate("seller"),
                                                      d["sellerName"] or d["seller"],
                                                      self.locale.translate("buyer"),
                                                      d["buyerName"] or d["buyer"])}])
        if await self.run_confirmed(ask, lambda reason: do_decide_dispute(
                self.actions, self.current_user, d["id"], decision, fault, reason)):
            self.redirect("/admin/disputes?ok=" + ("upheld" if decision == "uphold"
                                                   else "dismissed"))


default_handlers = [
    (r"/admin/disputes", DisputesPage),
    (r"/admin/disputes/([0-9]{1,10})", DisputePage),
    (r"/admin/disputes/([0-9]{1,10})/(uphold|dismiss)", DisputeDecide),
]
