"""Admin pages for want-to-buy posts (review, take down with a reason, release a held one) and
ratings (reported first; remove, release), with their figures; and the report actions on
ratings and posts."""
import tornado.web

from actions.ratings import do_release_rating, do_remove_rating
from actions.reports import do_act_on_reports
from actions.wanted import do_release_wanted, do_take_down_wanted
from handlers.base import PageHandler
from services import ratings, validate, wanted

WANTED_STATUSES = ("active", "held", "takenDown", "all")
RATING_STATUSES = ("reported", "held", "removed", "all")


def _page_num(handler):
    return validate.integer(handler.get_argument("page", ""), "page", required=False, default=0,
                            low=0, high=100_000)


def _wanted_page(status, page_num):
    return {"found": wanted.admin_list(status, page_num), "active": wanted.active_count()}


def _ratings_page(status, page_num):
    return {"found": ratings.admin_list(status, page_num), "weeks": ratings.sold_per_week()}


class WantedPage(PageHandler):
    """GET /admin/wanted?status=active|held|takenDown|all&page= : posts, newest first."""

    @tornado.web.authenticated
    async def get(self):
        status = self.get_argument("status", "active")
        if status not in WANTED_STATUSES:
            status = "active"
        data = await self.run_db(_wanted_page, status, _page_num(self))
        self.page("wanted.html", title="Want-to-buy posts", status=status,
                  statuses=WANTED_STATUSES, page_num=_page_num(self), **data)


class WantedAction(PageHandler):
    """POST /admin/wanted/{id}/take_down (reason required) or /release; audited."""

    @tornado.web.authenticated
    async def post(self, post_id, action):
        if action == "take_down":
            await do_take_down_wanted(self.actions, self.current_user, int(post_id),
                                      self.arg_text("reason", 500, required=True))
            self.redirect("/admin/wanted?ok=take_down")
        else:
            await do_release_wanted(self.actions, self.current_user, int(post_id))
            self.redirect("/admin/wanted?ok=released")


class RatingsPage(PageHandler):
    """GET /admin/ratings?status=reported|held|removed|all&page= : ratings and sales a week."""

    @tornado.web.authenticated
    async def get(self):
        status = self.get_argument("status", "reported")
        if status not in RATING_STATUSES:
            status = "reported"
        data = await self.run_db(_ratings_page, status, _page_num(self))
        self.page("ratings.html", title="Ratings", status=status, statuses=RATING_STATUSES,
                  page_num=_page_num(self), **data)


class RatingAction(PageHandler):
    """POST /admin/ratings/{id}/remove (with a reason; closes its reports) or /release."""

    @tornado.web.authenticated
    async def post(self, rating_id, action):
        if action == "remove":
            await do_remove_rating(self.actions, self.current_user, int(rating_id),
                                   self.arg_text("reason", 500))
            self.redirect("/admin/ratings?ok=take_down")
        else:
            await do_release_rating(self.actions, self.current_user, int(rating_id))
            self.redirect("/admin/ratings?ok=released")


class ReportOnRatingOrPost(PageHandler):
    """POST /admin/reports/{rating|wanted}/{id}/{dismiss|take_down|block}: the reports page's
    actions on the two targets this module adds (the shared ReportAction's route lists its
    own)."""

    @tornado.web.authenticated
    async def post(self, kind, target, action):
        reason = self.arg_text("reason", 500)
        await do_act_on_reports(self.actions, self.current_user, kind, target, action, reason)
        self.redirect("/admin/reports?ok=" + action)


default_handlers = [
    (r"/admin/wanted", WantedPage),
    (r"/admin/wanted/([0-9]{1,10})/(take_down|release)", WantedAction),
    (r"/admin/ratings", RatingsPage),
    (r"/admin/ratings/([0-9]{1,10})/(remove|release)", RatingAction),
    (r"/admin/reports/(rating|wanted)/([0-9]{1,10})/(dismiss|take_down|block)",
     ReportOnRatingOrPost),
]
