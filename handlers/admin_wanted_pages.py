"""Admin pages for want-to-buy posts (review, take down, release a held one) and ratings
(reported first; remove, release), with their figures. Taking down and removing go through
AdminPage's confirmation step (a reason, then confirm), as on the moderation pages; releasing
is one tap. Reports on ratings and posts are acted on by the reports page's one route
(handlers/admin_report_pages.py)."""
import tornado.web

from actions.ratings import do_release_rating, do_remove_rating
from actions.wanted import do_release_wanted, do_take_down_wanted
from handlers.admin_forms import AdminPage
from handlers.base import PageHandler
from services import ratings, reports, validate, wanted

WANTED_STATUSES = ("active", "held", "takenDown", "all")
RATING_STATUSES = ("reported", "held", "removed", "all")


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
        page = self.page_number()
        data = await self.run_db(_wanted_page, status, page)
        self.render_page("wanted.html", title="Want-to-buy posts", status=status,
                         statuses=WANTED_STATUSES, page_num=page, **data)


class WantedAction(AdminPage):
    """POST /admin/wanted/{id}/take_down (a reason and a confirmation) or /release; audited."""

    @tornado.web.authenticated
    async def post(self, post_id, action):
        post_id = validate.integer(post_id, "id", low=1)
        if action == "release":
            await do_release_wanted(self.actions, self.current_user, post_id)
            self.back("/admin/wanted", "released")
            return
        ask = {"title": "Take this post down?", "button": "Take down", "cancel": "/admin/wanted",
               "lead": "It leaves the want-to-buy board and stops matching; the owner reads "
                       "the reason.",
               "reason_label": "Reason the owner reads",
               "items": [await self.run_db(reports.brief, "wanted", post_id)]}
        if await self.run_confirmed(ask, lambda reason: do_take_down_wanted(
                self.actions, self.current_user, post_id, reason)):
            self.back("/admin/wanted", "take_down")


class RatingsPage(PageHandler):
    """GET /admin/ratings?status=reported|held|removed|all&page= : ratings and sales a week."""

    @tornado.web.authenticated
    async def get(self):
        status = self.get_argument("status", "reported")
        if status not in RATING_STATUSES:
            status = "reported"
        page = self.page_number()
        data = await self.run_db(_ratings_page, status, page)
        self.render_page("ratings.html", title="Ratings", status=status, statuses=RATING_STATUSES,
                         page_num=page, **data)


class RatingAction(AdminPage):
    """POST /admin/ratings/{id}/remove (a reason and a confirmation; closes its reports) or
    /release; audited."""

    @tornado.web.authenticated
    async def post(self, rating_id, action):
        rating_id = validate.integer(rating_id, "id", low=1)
        if action == "release":
            await do_release_rating(self.actions, self.current_user, rating_id)
            self.back("/admin/ratings", "released")
            return
        ask = {"title": "Remove this rating?", "button": "Remove", "cancel": "/admin/ratings",
               "lead": "It leaves the profiles and their averages; its reports are closed.",
               "reason_label": "Reason",
               "items": [await self.run_db(reports.brief, "rating", rating_id)]}
        if await self.run_confirmed(ask, lambda reason: do_remove_rating(
                self.actions, self.current_user, rating_id, reason)):
            self.back("/admin/ratings", "take_down")


default_handlers = [
    (r"/admin/wanted", WantedPage),
    (r"/admin/wanted/([0-9]{1,10})/(take_down|release)", WantedAction),
    (r"/admin/ratings", RatingsPage),
    (r"/admin/ratings/([0-9]{1,10})/(remove|release)", RatingAction),
]
