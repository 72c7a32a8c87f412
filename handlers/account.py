"""The caller's account as a whole (for newer mini-program versions): deleting it,
and blocking other users. The published client calls none of these."""
from actions.users import do_block, do_delete_account
from handlers.base import ApiHandler
from services import blocks
from errors import Invalid


class DeleteAccountHandler(ApiHandler):
    """POST /wx/user/deleteAccount {"confirm": "注销"} : delete the caller's account."""

    async def post(self):
        body = self.json_body()
        openid = self.caller(body.get("openid"))
        await do_delete_account(self.actions, openid, body)
        self.ok(msg="account deleted")


class BlockHandler(ApiHandler):
    """POST /wx/user/block and /wx/user/unblock {"openid": other, "myOpenid"?} : extend.changed
    (the caller is the token's user; `myOpenid`, if sent, must agree with it)."""

    def initialize(self, undo=False):
        self.undo = undo

    async def post(self):
        body = self.json_body()
        me = self.caller(body.get("myOpenid"))
        if "openid" not in body:
            raise Invalid("openid (the user to unblock) is required" if self.undo
                          else "openid (the user to block) is required")
        changed = await do_block(self.actions, me, body["openid"], not self.undo)
        self.ok({"changed": changed}, msg="unblocked" if self.undo else "user blocked")


class BlockedHandler(ApiHandler):
    """GET /wx/user/blocked?openid= : extend.blocked, the users the caller blocks, newest first."""

    async def get(self):
        me = self.caller(self.arg("openid"))
        self.ok({"blocked": await self.run_db(blocks.blocked_list, me)})


default_handlers = [
    (r"/wx/user/deleteAccount", DeleteAccountHandler),
    (r"/wx/user/block", BlockHandler),
    (r"/wx/user/unblock", BlockHandler, {"undo": True}),
    (r"/wx/user/blocked", BlockedHandler),
]
