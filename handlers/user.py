"""Login and profile: /wx/user/* and the user-facing /wx/admin/userIsOk, /wx/admin/isAdmin."""
from actions.users import (do_dev_log_in, do_log_in, do_log_in_account, do_register,
                           do_update_school_info)
from handlers.base import ApiHandler
from services import ratings, users, validate
from errors import NotFound


class GetOpenidHandler(ApiHandler):
    """GET /wx/user/getOpenid?code= : exchange a wx.login code for the openid and a token."""

    async def get(self):
        self.application.limiter.hit("login-address", self.request.remote_ip,
                                     self.config["limits"]["login_per_minute_address"], "logins")
        code = validate.text(self.arg("code"), "code", 128)  # client's appid/secret ignored
        self._answer_login(await do_log_in(self.actions, code, admit=self._limit_user))

    def _limit_user(self, openid):
        """The per-openid login budget, spent once WeChat has named the openid."""
        self.application.limiter.hit("login-user", openid,
                                     self.config["limits"]["login_per_minute_user"], "logins")

    def _answer_login(self, login):
        """{"openid", "token"}, top level and in extend; the address is noted at once."""
        openid, token = login["openid"], login["token"]
        self.application.ip_recorder.note(openid, self.request.remote_ip, force=True)
        self.ok({"openid": openid, "token": token}, openid=openid, token=token)


class DevLoginHandler(GetOpenidHandler):
    """GET /wx/user/devLogin?openid= : a login without WeChat, only with auth.dev_login on."""

    async def get(self):
        if not self.config["auth"]["dev_login"]:
            raise NotFound("no such endpoint")
        openid = validate.openid(self.arg("openid"))
        self._answer_login(await do_dev_log_in(self.actions, openid))


class IsRegisterHandler(ApiHandler):
    """GET /wx/user/isRegister?openid= : code 100 means already registered."""

    async def get(self):
        openid = self.caller(self.arg("openid"))
        if await self.run_db(users.is_registered, openid):
            self.fail("already registered")
        else:
            self.ok(msg="not registered")


class RegisterHandler(ApiHandler):
    """POST /wx/user/register {openid, wxname, headImg, sex, uname, qq, wx}."""

    async def post(self):
        body = self.json_body()
        openid = self.caller(body.get("openid"))
        if self.claims is None:  # tokens off (the original's trust): registering is the login
            await do_log_in_account(self.actions, openid)
        await do_register(self.actions, openid, body)
        self.ok(msg="registered")


class UserInfoHandler(ApiHandler):
    """GET /wx/user/getUserInfo?openid= : extend.userinfo {uname, qq, wx}, and (added for newer
    clients) extend.privacy {policyVersion, consentedVersion, consentedAt, current, withdrawn}."""

    async def get(self):
        openid = self.caller(self.arg("openid"))
        self.ok(await self.run_db(users.contact_info_with_privacy, openid,
                                  self.config["privacy"]["policy_version"]))


class UserDeInfoHandler(ApiHandler):
    """GET /wx/user/getUserDeInfo?openid= : extend.userDe {school, xuehao, uclass}, and (for
    newer clients) extend.rating {average, count, sales}."""

    async def get(self):
        openid = self.caller(self.arg("openid"))
        self.ok(await self.run_db(ratings.school_info_with_rating, openid))


class UpdateUserInfoHandler(ApiHandler):
    """POST /wx/user/updateUserInfo {openid, school, xuehao, uclass}."""

    async def post(self):
        body = self.json_body()
        openid = self.caller(body.get("openid"))
        await do_update_school_info(self.actions, openid, body)
        self.ok(msg="updated")


class UserIsOkHandler(ApiHandler):
    """GET /wx/admin/userIsOk?openid= : the caller's verification state and the reason."""

    async def get(self):
        openid = self.caller(self.arg("openid"))
        self.ok(await self.run_db(users.verification, openid))


class IsAdminHandler(ApiHandler):
    """GET /wx/admin/isAdmin?openid= : code 200 shows the admin entry in the mini-program."""

    async def get(self):
        openid = self.caller(self.arg("openid"))
        if await self.run_db(users.is_admin_openid, openid):
            self.ok(msg="admin")
        else:
            self.fail("not an admin")


default_handlers = [
    (r"/wx/user/getOpenid", GetOpenidHandler),
    (r"/wx/user/devLogin", DevLoginHandler),
    (r"/wx/user/isRegister", IsRegisterHandler),
    (r"/wx/user/register", RegisterHandler),
    (r"/wx/user/getUserInfo", UserInfoHandler),
    (r"/wx/user/getUserDeInfo", UserDeInfoHandler),
    (r"/wx/user/updateUserInfo", UpdateUserInfoHandler),
    (r"/wx/admin/userIsOk", UserIsOkHandler),
    (r"/wx/admin/isAdmin", IsAdminHandler),
]
