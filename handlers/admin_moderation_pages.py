"""Admin pages for moderation: review queue, listings, users, banners (and the /admin 404 page).
Every change goes through its action (actions/moderation.py, actions/images.py).

Its route list ends with the catch-all /admin/.* (an HTML 404), so a module adding more /admin/
pages must come before this one in application.HANDLER_MODULES.
"""
import functools

import tornado.web

from actions.images import do_add_banner, do_remove_banner
from actions.moderation import do_check_user, do_review_goods, do_set_goods_deleted
from handlers.base import PageHandler, safe_next
from handlers.images import upload_body_bytes
from services import banners, images, listings, moderation, validate
from services.errors import Invalid

# Public uploads at /uploads/NAME on this same host (the pages' CSP allows 'self').
photo_url = functools.partial(images.upload_url, "")


class ModerationPage(PageHandler):
    def page_number(self):
        return validate.integer(self.get_argument("page", "0"), "page", low=0, high=100_000)

    def back(self, default, ok):
        """Redirect to the page the form came from (inside /admin/ only), with a done message."""
        target = safe_next(self.get_argument("back", ""), default)
        self.redirect(target + ("&" if "?" in target else "?") + "ok=" + ok)


class ReviewPage(ModerationPage):
    """GET /admin/review: pending listings, oldest first, photos shown."""

    @tornado.web.authenticated
    async def get(self):
        queue = await self.run_db(moderation.pending_goods, self.page_number())
        self.page("review.html", queue=queue, page_no=self.page_number(), photo_url=photo_url,
                  title="Review queue")


class ReviewAction(ModerationPage):
    """POST /admin/goods/GID/review (decision approve|reject, reason)."""

    @tornado.web.authenticated
    async def post(self, gid):
        decision = self.get_argument("decision", "")
        if decision not in ("approve", "reject"):
            raise Invalid("choose approve or reject")
        reason = self.arg_text("reason", moderation.REASON_CHARS)  # a rejection needs one
        await do_review_goods(self.actions, self.current_user, gid,
                              1 if decision == "approve" else 2, reason)
        self.back("/admin/review", "approved" if decision == "approve" else "rejected")


class GoodsPage(ModerationPage):
    """GET /admin/goods?q=&state=&deleted= : search every listing."""

    @tornado.web.authenticated
    async def get(self):
        q, state = self.get_argument("q", ""), self.get_argument("state", "")
        deleted = {"yes": True, "no": False}.get(self.get_argument("deleted", ""))
        found = await self.run_db(moderation.search_goods, q, state, deleted, self.page_number())
        listings.annotate(found["items"], self.config["goods"]["expire_days"])  # sale, expires
        self.page("goods.html", found=found, q=q, state=state,
                  deleted=self.get_argument("deleted", ""), page_no=self.page_number(),
                  photo_url=photo_url, title="Listings")


class GoodsAction(ModerationPage):
    """POST /admin/goods/GID/(delete|restore) with an optional reason."""

    @tornado.web.authenticated
    async def post(self, gid, action):
        reason = self.arg_text("reason", moderation.REASON_CHARS)
        await do_set_goods_deleted(self.actions, self.current_user, gid, action == "delete",
                                   reason)
        self.back("/admin/goods", "deleted" if action == "delete" else "restored")


class UsersPage(ModerationPage):
    """GET /admin/users?q=&state= : search users, pending verification first."""

    @tornado.web.authenticated
    async def get(self):
        q, state = self.get_argument("q", ""), self.get_argument("state", "")
        found = await self.run_db(moderation.search_users, q, state, self.page_number())
        self.page("users.html", found=found, q=q, state=state, page_no=self.page_number(),
                  title="Users")


class UserPage(ModerationPage):
    """GET /admin/users/OPENID : profile, student-ID photos, history, and the check forms."""

    @tornado.web.authenticated
    async def get(self, openid):
        user = await self.run_db(moderation.user_detail, openid)
        secret = self.settings["cookie_secret"]
        for image in user["student_ids"]:
            image["src"] = images.photo_url("", secret, image["url"])
        self.page("user.html", user=user, title="User " + user["openid"])


class UserAction(ModerationPage):
    """POST /admin/users/OPENID/(verify|reject|block|unblock) with a reason the user reads."""

    @tornado.web.authenticated
    async def post(self, openid, action):
        reason = self.arg_text("reason", moderation.REASON_CHARS)
        result = await do_check_user(self.actions, self.current_user, openid, action, reason)
        self.back("/admin/users/" + result["openid"], action)


class BannersPage(ModerationPage):
    """GET /admin/banners; POST uploads one image (checked by the image pipeline)."""
    max_body_bytes = staticmethod(upload_body_bytes)  # an image and its form, not the 1 MiB

    @tornado.web.authenticated
    async def get(self):
        self.page("banners.html", banners=await self.run_db(banners.current), photo_url=photo_url,
                  title="Banners")

    @tornado.web.authenticated
    async def post(self):
        files = self.request.files.get("file") or []
        if not files:
            raise Invalid("choose an image file")
        uploads = self.config["uploads"]
        processed = await self.application.run_decode(
            images.process, files[0]["body"], uploads["max_bytes"], uploads["max_pixels"])
        await do_add_banner(self.actions, self.current_user, processed)
        self.redirect("/admin/banners?ok=banner")


class BannerRemove(ModerationPage):
    """POST /admin/banners/ID/delete."""

    @tornado.web.authenticated
    async def post(self, image_id):
        await do_remove_banner(self.actions, self.current_user, image_id)
        self.redirect("/admin/banners?ok=banner")


class AdminNotFound(PageHandler):
    """Any other /admin/ path: an HTML 404."""

    def prepare(self):
        raise tornado.web.HTTPError(404)


OPENID = r"([A-Za-z0-9_-]{1,64})"
default_handlers = [
    (r"/admin/review", ReviewPage),
    (r"/admin/goods", GoodsPage),
    (r"/admin/goods/(\d+)/review", ReviewAction),
    (r"/admin/goods/(\d+)/(delete|restore)", GoodsAction),
    (r"/admin/users", UsersPage),
    (r"/admin/users/" + OPENID, UserPage),
    (r"/admin/users/" + OPENID + r"/(verify|reject|block|unblock)", UserAction),
    (r"/admin/banners", BannersPage),
    (r"/admin/banners/(\d+)/delete", BannerRemove),
    (r"/admin/.*", AdminNotFound),
]
