"""A listing's life for newer clients: POST /wx/goods/edit, /wx/goods/state,
/wx/goods/renew; owner only (another's listing: 403 code 100, nothing changes)."""
from actions.listings import do_edit, do_renew, do_set_sale_state
from handlers.base import ApiHandler
from services import goods, listings


class ListingHandler(ApiHandler):
    """The JSON body, its caller (the token's user) and its gid, read before anything else."""

    def owner_and_gid(self):
        body = self.json_body()
        return body, self.caller(body.get("openid")), goods.gid_of(body.get("gid"))


class EditHandler(ListingHandler):
    """POST /wx/goods/edit {gid, any of goodsName, goodsTitle, goodsDec, goodsPriceNew,
    goodsPriceOld, goodsXueyuan, goodsAddress, photos}: extend.goodInfo {gid, state, saleState,
    touchedAt, expireTime, review}."""

    async def post(self):
        body, openid, gid = self.owner_and_gid()
        self.application.limiter.hit("publish", openid,
                                     self.config["limits"]["publish_per_minute_user"], "edits")
        done = await do_edit(self.actions, openid, gid, body)
        info = dict(done["life"], review=done["review"])
        self.ok({"goodInfo": info}, msg="changed, waiting for review" if done["review"]
                else "changed")


class SaleStateHandler(ListingHandler):
    """POST /wx/goods/state {gid, saleState: 0 on sale (relist) | 1 reserved | 2 sold}."""

    async def post(self):
        body, openid, gid = self.owner_and_gid()
        state = listings.sale_state_of(body.get("saleState"))  # missing: "saleState is required"
        self.ok({"goodInfo": await do_set_sale_state(self.actions, openid, gid, state)})


class RenewHandler(ListingHandler):
    """POST /wx/goods/renew {gid}: a new expiry period ("还在卖吗？" answered yes)."""

    async def post(self):
        _, openid, gid = self.owner_and_gid()
        self.ok({"goodInfo": await do_renew(self.actions, openid, gid)}, msg="renewed")


default_handlers = [
    (r"/wx/goods/edit", EditHandler),
    (r"/wx/goods/state", SaleStateHandler),
    (r"/wx/goods/renew", RenewHandler),
]
