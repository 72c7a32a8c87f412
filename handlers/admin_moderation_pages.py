"""Admin pages for moderation: review queue, listings, users, banners (and the /admin 404 page).
Every change goes through its action (actions/moderation.py, actions/images.py).

Its route list ends with the catch-all /admin/.* (an HTML 404), so a module adding more /admin/
pages must come before this one in application.HANDLER_MODULES.
"""
import functools

import tornado.web

from actions.images import do_add_banner, do_remove_banner
from actions.moderation import (do_check_user, do_check_users_many, do_review_goods,
                                do_review_many, do_set_goods_deleted)
from handlers.admin_forms import AdminPage
from handlers.base import PageHandler
from handlers.images import upload_body_bytes
from imaging import clean
from models.user import PENDING as USER_PENDING
from services import audit, banners, images, listings, moderation, validate
from errors import Invalid, NotFound

# Public uploads at /uploads/NAME on this same host (the pages' CSP allows 'self').
photo_url = functools.partial(images.upload_url, "")


class ModerationPage(AdminPage):
    """A moderation page (lists, forms and the confirmation step: handlers/admin_forms.py)."""

    async def goods_items(self, gids):
        """The listings a confirmation page names: thumbnail, #gid and title."""
        found = await self.run_db(moderation.briefs, gids)
        if not found:
            raise NotFound("no such listing")
        return [{"thumb": photo_url(g["thumb"]) if g["thumb"] else "",
                 "text": "#%d %s" % (g["gid"], g["title"]), "meta": g["name"]} for g in found]


class ReviewPage(ModerationPage):
    """GET /admin/review: pending listings, oldest first, photos shown, with totals and pages."""

    @tornado.web.authenticated
    async def get(self):
        queue = await self.run_db(moderation.pending_goods, self.page_number(empty_refused=True))
        self.render_page("review.html", queue=queue,
                         pager=self.pager(queue["total"], queue["size"]),
                         photo_url=photo_url, title="Review queue")


REJECT_ASK = {"title": "Reject listings?", "button": "Reject", "cancel": "/admin/review",
              "lead": "The seller reads the reason (whyNot) and gets the review notice.",
              "reason_label": "Reason the seller reads"}


class ReviewAction(ModerationPage):
    """POST /admin/goods/GID/review (decision approve|reject, reason): a rejection needs a
    reason and a confirmation."""

    @tornado.web.authenticated
    async def post(self, gid):
        decision = self.get_argument("decision", "")
        if decision not in ("approve", "reject"):
            raise Invalid("choose approve or reject")
        if decision == "approve":
            reason = self.arg_text("reason", moderation.REASON_CHARS)
            await do_review_goods(self.actions, self.current_user, gid, 1, reason)
            self.back("/admin/review", "approved")
            return
        ask = dict(REJECT_ASK, title="Reject this listing?", items=await self.goods_items([gid]))
        if await self.run_confirmed(ask, lambda reason: do_review_goods(
                self.actions, self.current_user, gid, 2, reason)):
            self.back("/admin/review", "rejected")


class ReviewBulk(ModerationPage):
    """POST /admin/review/bulk gid=…&gid=… decision=approve|reject: approve the ticked listings
    at once; rejecting them needs one reason and the confirmation."""

    @tornado.web.authenticated
    async def post(self):
        decision = self.get_argument("decision", "")
        if decision not in ("approve", "reject"):
            raise Invalid("choose approve or reject")
        gids = [validate.integer(g, "gid", low=1) for g in self.get_arguments("gid")]
        if not gids:
            self.redirect("/admin/review?ok=none")
            return
        if len(gids) > moderation.BULK_MAX:
            raise Invalid("at most %(n)d listings at once", n=moderation.BULK_MAX)
        if decision == "approve":
            await do_review_many(self.actions, self.current_user, gids, 1)
            self.redirect("/admin/review?ok=approved_many")
            return
        ask = dict(REJECT_ASK, items=await self.goods_items(gids),
                   title="Reject %(n)d listings?", lead_args={"n": len(gids)},
                   button="Reject %(n)d listings")
        if await self.run_confirmed(ask, lambda reason: do_review_many(
                self.actions, self.current_user, gids, 2, reason)):
            self.redirect("/admin/review?ok=rejected_many")


class GoodsPage(ModerationPage):
    """GET /admin/goods?q=&state=&deleted=&page= : search every listing (compact rows)."""

    @tornado.web.authenticated
    async def get(self):
        q, state = self.get_argument("q", ""), self.get_argument("state", "")
        deleted = {"yes": True, "no": False}.get(self.get_argument("deleted", ""))
        page = self.page_number(empty_refused=True)
        found = await self.run_db(moderation.search_goods, q, state, deleted, page)
        listings.annotate(found["items"], self.config["goods"]["expire_days"])  # sale, expires
        self.render_page("goods.html", found=found, q=q, state=state,
                         deleted=self.get_argument("deleted", ""),
                         pager=self.pager(found["total"], found["size"]),
                         photo_url=photo_url, title="Listings")


class GoodsAction(ModerationPage):
    """POST /admin/goods/GID/(delete|restore): a take-down needs a reason (the seller's inbox
    gets it) and a confirmation; a restore is one tap."""

    @tornado.web.authenticated
    async def post(self, gid, action):
        if action == "restore":
            reason = self.arg_text("reason", moderation.REASON_CHARS)
            await do_set_goods_deleted(self.actions, self.current_user, gid, False, reason)
            self.back("/admin/goods", "restored")
            return
        ask = {"title": "Take this listing down?", "button": "Take down", "cancel": "/admin/goods",
               "lead": "It leaves every list and the detail page; the seller's inbox gets the reason.",
               "reason_label": "Reason the seller reads", "items": await self.goods_items([gid])}
        if await self.run_confirmed(ask, lambda reason: do_set_goods_deleted(
                self.actions, self.current_user, gid, True, reason)):
            self.back("/admin/goods", "deleted")


class UsersPage(ModerationPage):
    """GET /admin/users?q=&state=&page= : search users, pending verification first."""

    @tornado.web.authenticated
    async def get(self):
        q, state = self.get_argument("q", ""), self.get_argument("state", "")
        page = self.page_number(empty_refused=True)
        found = await self.run_db(moderation.search_users, q, state, page)
        self.render_page("users.html", found=found, q=q, state=state,
                         pager=self.pager(found["total"], found["size"]), title="Users")


class UserPage(ModerationPage):
    """GET /admin/users/OPENID : profile, student-ID photos, history, and the check forms."""

    @tornado.web.authenticated
    async def get(self, openid):
        user = await self.run_db(moderation.user_detail, openid)
        secret = self.settings["cookie_secret"]
        for image in user["student_ids"]:
            image["src"] = images.photo_url("", secret, image["url"])
        self.render_page("user.html", user=user, phrases=audit.PHRASES,
                         title="User " + user["openid"])


PENDING_USERS = "/admin/users?state=%d" % USER_PENDING  # the students waiting for verification
USER_ASKS = {
    "block": {"title": "Block this user?", "button": "Block",
              "lead": "Their chat connections close at once; they can no longer publish, comment "
                      "or chat, and their listings leave the public lists until unblocked."},
    "reject": {"title": "Reject this student verification?", "button": "Reject verification",
               "lead": "The user reads the reason (userIsOk) and may upload a new photo."},
}


class UserAction(ModerationPage):
    """POST /admin/users/OPENID/(verify|reject|block|unblock) with a reason the user reads;
    reject and block need one and a confirmation."""

    @tornado.web.authenticated
    async def post(self, openid, action):
        if action in USER_ASKS:
            user = await self.run_db(moderation.user_detail, openid)
            ask = dict(USER_ASKS[action], cancel="/admin/users/" + user["openid"],
                       reason_label="Reason the user reads",
                       items=[{"thumb": "", "text": user["wxname"] or user["openid"],
                               "meta": user["openid"]}])
            if await self.run_confirmed(ask, lambda reason: do_check_user(
                    self.actions, self.current_user, openid, action, reason)):
                self.back("/admin/users/" + user["openid"], action)
            return
        reason = self.arg_text("reason", moderation.REASON_CHARS)
        result = await do_check_user(self.actions, self.current_user, openid, action, reason)
        self.back("/admin/users/" + result["openid"], action)


class UsersBulk(ModerationPage):
    """POST /admin/verify/bulk openid=…&openid=… action=verify|reject: verify the ticked students
    at once; rejecting them needs one reason and the confirmation."""

    @tornado.web.authenticated
    async def post(self):
        action = self.get_argument("action", "")
        if action not in ("verify", "reject"):
            raise Invalid("choose verify or reject")
        openids = [validate.openid(o) for o in self.get_arguments("openid")]
        if not openids:
            self.back(PENDING_USERS, "none")
            return
        if len(openids) > moderation.BULK_MAX:
            raise Invalid("at most %(n)d users at once", n=moderation.BULK_MAX)
        if action == "verify":
            await do_check_users_many(self.actions, self.current_user, openids, "verify")
            self.back(PENDING_USERS, "verify_many")
            return
        ask = dict(USER_ASKS["reject"], title="Reject %(n)d student verifications?",
                   button="Reject %(n)d verifications", lead_args={"n": len(openids)},
                   cancel=PENDING_USERS, reason_label="Reason the user reads",
                   items=[{"text": o, "meta": ""} for o in openids])
        if await self.run_confirmed(ask, lambda reason: do_check_users_many(
                self.actions, self.current_user, openids, "reject", reason)):
            self.back(PENDING_USERS, "reject_many")


class BannersPage(ModerationPage):
    """GET /admin/banners; POST uploads one image (checked by the image pipeline)."""
    max_body_bytes = staticmethod(upload_body_bytes)  # an image and its form, not the 1 MiB

    @tornado.web.authenticated
    async def get(self):
        self.render_page("banners.html", banners=await self.run_db(banners.current),
                         photo_url=photo_url, title="Banners")

    @tornado.web.authenticated
    async def post(self):
        files = self.request.files.get("file") or []
        if not files:
            raise Invalid("choose an image file")
        uploads = self.config["uploads"]
        processed = await self.application.run_decode(
            clean.process, files[0]["body"], uploads["max_bytes"], uploads["max_pixels"])
        await do_add_banner(self.actions, self.current_user, processed)
        self.redirect("/admin/banners?ok=banner")


class BannerRemove(ModerationPage):
    """POST /admin/banners/ID/delete: with a reason (audited) and a confirmation."""

    @tornado.web.authenticated
    async def post(self, image_id):
        image_id = validate.integer(image_id, "id", low=1)
        shown = [b for b in await self.run_db(banners.current) if b["id"] == image_id]
        if not shown:
            raise NotFound("no such banner")
        ask = {"title": "Remove this banner?", "button": "Remove", "cancel": "/admin/banners",
               "lead": "It leaves the mini-program's home page at once.",
               "reason_label": "Reason (kept in the audit log)",
               "items": [{"thumb": photo_url(shown[0]["thumb"] or shown[0]["url"]),
                          "text": "#%d" % image_id, "meta": shown[0]["created_at"]}]}
        if await self.run_confirmed(ask, lambda reason: do_remove_banner(
                self.actions, self.current_user, image_id, reason)):
            self.redirect("/admin/banners?ok=banner")


class AdminNotFound(PageHandler):
    """Any other /admin/ path: an HTML 404."""

    async def admit(self):
        raise tornado.web.HTTPError(404)


OPENID = r"([A-Za-z0-9_-]{1,64})"
default_handlers = [
    (r"/admin/review", ReviewPage),
    (r"/admin/review/bulk", ReviewBulk),
    (r"/admin/goods", GoodsPage),
    (r"/admin/goods/([0-9]{1,18})/review", ReviewAction),
    (r"/admin/goods/([0-9]{1,18})/(delete|restore)", GoodsAction),
    (r"/admin/users", UsersPage),
    (r"/admin/verify/bulk", UsersBulk),
    (r"/admin/users/" + OPENID, UserPage),
    (r"/admin/users/" + OPENID + r"/(verify|reject|block|unblock)", UserAction),
    (r"/admin/banners", BannersPage),
    (r"/admin/banners/([0-9]{1,18})/delete", BannerRemove),
    (r"/admin/.*", AdminNotFound),
]
