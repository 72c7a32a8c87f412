"""The mini-program's admin calls /wx/admin/*: login, listing review, users, announcements."""
import secrets

from actions.admins import do_admin_log_in
from actions.announcements import do_update_announcement
from actions.moderation import do_check_user_by_state, do_review_goods, do_set_goods_deleted
from handlers.base import ApiHandler
from models.goods import APPROVED
from services import announcements, images, moderation, validate
from errors import Invalid


class AdminApiHandler(ApiHandler):
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
        token = await do_admin_log_in(self.actions, username, password, self.request.remote_ip)
        if not token:
            self.fail("wrong username or password")
            return
        self.ok({"token": token}, msg="login ok", token=token)


class CaptchaHandler(ApiHandler):
    """GET /wx/admin/captcha: the client never uses the answer; a harmless random code."""

    def get(self):
        self.ok({"captcha": secrets.token_hex(2)})


class SetStateHandler(AdminApiHandler):
    """GET|POST /wx/admin/setState?gid=&state=1|2&reason= : approve or reject a listing."""

    async def get(self):
        actor = self.require_admin()
        result = await do_review_goods(self.actions, actor, self.param("gid"),
                                       self.param("state"), self.param("reason"))
        self.ok({"gid": result["gid"], "state": result["state"]},
                msg="approved" if result["state"] == APPROVED else "rejected")


class DeleteHandler(AdminApiHandler):
    """GET|POST /wx/admin/delete?gid= : take a listing down (soft delete)."""

    async def get(self):
        actor = self.require_admin()
        result = await do_set_goods_deleted(self.actions, actor, self.param("gid"), True,
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
        base, secret = self.application.public_url, self.settings["cookie_secret"]  # never the Host
        uimage["image"] = [{"imageUrl": images.photo_url(base, secret, i["url"])}
                           for i in uimage["image"]]
        self.ok({"uimage": uimage})


class UserCheckHandler(AdminApiHandler):
    """GET|POST /wx/admin/userCheck?openid=&state=1|2|10&reason= : verify, reject or block."""

    async def get(self):
        actor = self.require_admin()
        result = await do_check_user_by_state(self.actions, actor, self.param("openid"),
                                              self.param("state"), self.param("reason"))
        self.ok(result, msg="updated")


class NoticeHandler(AdminApiHandler):
    """GET /wx/admin/getNotice: extend.Info1..Info3.noticeInfo; with mid and noticeInfo (admins
    only) it updates that slot first."""

    async def get(self):
        mid, text = self.param("mid"), self.param("noticeInfo")
        if mid in (None, "") or text is None:
            self.ok(await self.run_db(announcements.current))
            return
        actor = self.require_admin()
        self.ok(await do_update_announcement(self.actions, actor, mid, text), msg="updated")


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
