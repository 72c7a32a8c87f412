"""The mini-program's admin calls /wx/admin/*: login, listing review, users, announcements."""
import secrets

from handlers.base import BaseHandler
from services import admin, admins, moderation, tokens, validate
from services.errors import Invalid

try:  # the marketplace's image module signs private photo URLs
    from services import images
except ImportError:  # pragma: no cover - only while that module is missing
    images = None


def sign_in_throttle(application):
    """The one failed-sign-in throttle of this process, shared by adminLogin and the pages."""
    if getattr(application, "admin_throttle", None) is None:
        application.admin_throttle = admins.SignInThrottle()
    return application.admin_throttle


def absolute_url(base, url):
    """An image URL as the client needs it: absolute, on server.public_url (never the Host)."""
    if not url or url.startswith(("http://", "https://")):
        return url
    path = url if url.startswith("/") else "/uploads/" + url
    return base + path


def student_id_url(handler, name):
    """A signed, expiring absolute URL of a private student-ID photo (services.images)."""
    base = handler.application.public_url
    if images is None or name.startswith(("http://", "https://", "/")):
        return absolute_url(base, name)
    return images.private_url(base, handler.settings["cookie_secret"], name)


class AdminApiHandler(BaseHandler):
    """Parameters from the query, a form body or a JSON body; GET and POST do the same."""

    def param(self, name):
        """A parameter from the query string, the form, or a JSON object body."""
        value = self.arg(name)
        ctype = self.request.headers.get("Content-Type", "")
        if value is None and self.request.body and ctype.startswith("application/json"):
            value = self.json_body().get(name)
        return value

    async def post(self):
        """POST behaves as GET (the client calls these by GET; other clients may POST)."""
        await self.get()


class AdminLoginHandler(AdminApiHandler):
    """POST /wx/admin/adminLogin (form or JSON username, passwd): an admin token, or code 100."""

    async def post(self):
        username = validate.text(self.param("username"), "username", 64)
        password = self.param("passwd")
        if password is None:
            raise Invalid("passwd is required")
        if not isinstance(password, str) or len(password) > 1024:
            raise Invalid("passwd must be text of at most 1024 characters")
        throttle = sign_in_throttle(self.application)
        address = self.request.remote_ip
        throttle.check(address, username)
        found = await self.run_db(admins.check_password, username, password)
        if not found:
            throttle.failed(address, username)
            self.fail("wrong username or password")
            return
        throttle.succeeded(address, username)
        await self.run_db(admin.record_action, found["username"], "admin.login", "mini-program")
        token = tokens.issue(self.config["auth"]["token_secret"], found["username"],
                             int(self.config["admin"]["session_hours"] * 3600), role="admin",
                             epoch=found["epoch"])
        self.ok({"token": token}, msg="login ok", token=token)


class CaptchaHandler(BaseHandler):
    """GET /wx/admin/captcha: the client never uses the answer; a harmless random code."""

    def get(self):
        self.ok({"captcha": secrets.token_hex(2)})


class SetStateHandler(AdminApiHandler):
    """GET|POST /wx/admin/setState?gid=&state=1|2&reason= : approve or reject a listing."""

    async def get(self):
        actor = self.require_admin()
        result = await self.run_db(moderation.review_goods, actor, self.param("gid"),
                                   self.param("state"), self.param("reason"))
        self.application.goods_reviewed(result)
        self.ok({"gid": result["gid"], "state": result["state"]}, msg="approved" if result["state"] == 1 else "rejected")


class DeleteHandler(AdminApiHandler):
    """GET|POST /wx/admin/delete?gid= : take a listing down (soft delete)."""

    async def get(self):
        actor = self.require_admin()
        result = await self.run_db(moderation.set_goods_deleted, actor, self.param("gid"), True,
                                   self.param("reason"))
        self.ok(result, msg="deleted")


class AllUsersHandler(AdminApiHandler):
    """GET /wx/admin/getAllUserSimInfo: extend map "0", "1", … of {openid, wxname, headImg, qq,
    wx, state}, users waiting for verification first."""

    async def get(self):
        self.require_admin()
        rows = await self.run_db(moderation.all_users_simple)
        self.ok({str(i): row for i, row in enumerate(rows)})


class UserAndImageHandler(AdminApiHandler):
    """GET /wx/admin/getDeUserAndImage?openid= : extend.uimage; anyone gets the public fields
    (the personal home page), admins also contacts and the student-ID photos."""

    async def get(self):
        private = self.is_admin()
        uimage = await self.run_db(moderation.profile, self.param("openid"), private)
        uimage["image"] = [{"imageUrl": student_id_url(self, i["url"])} for i in uimage["image"]]
        self.ok({"uimage": uimage})


class UserCheckHandler(AdminApiHandler):
    """GET|POST /wx/admin/userCheck?openid=&state=1|2|10&reason= : verify, reject or block."""

    async def get(self):
        actor = self.require_admin()
        result = await self.run_db(moderation.check_user_by_state, actor, self.param("openid"),
                                   self.param("state"), self.param("reason"))
        self.application.user_checked(result)
        self.ok(result, msg="updated")


class NoticeHandler(AdminApiHandler):
    """GET /wx/admin/getNotice: extend.Info1..Info3.noticeInfo; with mid and noticeInfo (admins
    only) it updates that slot first."""

    async def get(self):
        mid, text = self.param("mid"), self.param("noticeInfo")
        if mid in (None, "") or text is None:
            self.ok(await self.run_db(admin.notices))
            return
        actor = self.require_admin()
        await self.application.content.require_announcement(text)
        self.ok(await self.run_db(admin.update_notice, actor, mid, text), msg="updated")


default_handlers = [
    (r"/wx/admin/adminLogin", AdminLoginHandler),
    (r"/wx/admin/captcha", CaptchaHandler),
    (r"/wx/admin/setState", SetStateHandler),
    (r"/wx/admin/delete", DeleteHandler),
    (r"/wx/admin/getAllUserSimInfo", AllUsersHandler),
    (r"/wx/admin/getDeUserAndImage", UserAndImageHandler),
    (r"/wx/admin/userCheck", UserCheckHandler),
    (r"/wx/admin/getNotice", NoticeHandler),
]
