"""Listings and favourites: /wx/goods/*, /wx/user/whyNot, delete*, and the favourite calls."""
from actions.goods import do_delete_own, do_publish, do_replace_favourites
from handlers.base import MarketHandler
from models.goods import PENDING
from services import favourites, goods, hotwords, validate
from errors import Invalid, ServiceError

HOT_WORDS_MAX = 50


class IssueHandler(MarketHandler):
    """POST /wx/goods/goodsIssue: publish a listing (pending review); extend.gid."""

    async def post(self):
        body = self.json_body()
        openid = self.caller(body.get("openid"))
        self.application.limiter.hit("publish", openid,
                                     self.config["limits"]["publish_per_minute_user"], "new listings")
        gid = await do_publish(self.actions, openid, body)
        self.ok({"gid": gid}, msg="published, waiting for review")

    def write_error(self, status_code, **kwargs):
        """Refusals (4xx) also carry extend.error: the publish page shows it on code 100 (the
        one refusal path of this call: shape, content check and rule alike)."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ServiceError) and exc.status < 500:
            text = self.tr(exc)
            return self.fail(text, exc.status, {"error": text})
        super().write_error(status_code, **kwargs)


class SimpleGoodsHandler(MarketHandler):
    """GET /wx/goods/getSimpleGoods?state=1|0&pageNum= : approved (all) or pending (admins)."""

    async def get(self):
        state, page = goods.require_state(self.arg("state")), self.page_number("pageNum")
        if state == PENDING:
            self.require_admin()
            items = await self.run_db(goods.pending, self.base, page, self.page_size)
        else:
            items = await self.run_db(goods.approved, self.base, page, self.page_size,
                                      self.filters(), await self.blocker())
        self.answer_list(items)


class FreeGoodsHandler(MarketHandler):
    """GET /wx/goods/getSimFrGoods?pageNum= : free listings."""

    async def get(self):
        page = self.page_number("pageNum")
        self.answer_list(await self.run_db(goods.free, self.base, page, self.page_size,
                                           self.filters(), await self.blocker()))


class MyIssuedHandler(MarketHandler):
    """GET /wx/goods/getMyIssGoods?openid=&pageNum= : the caller's approved listings."""

    async def get(self):
        openid = self.caller(self.arg("openid"))
        page = self.page_number("pageNum")
        self.answer_list(await self.run_db(goods.mine_approved, openid, self.base, page,
                                           self.page_size))


class UserGoodsHandler(MarketHandler):
    """GET /wx/goods/getAllSimpleGoods?openid=&pageNum= : another user's public listings."""

    async def get(self):
        openid = validate.openid(self.arg("openid"))
        page = self.page_number("pageNum")
        self.answer_list(await self.run_db(goods.of_user, openid, self.base, page,
                                           self.page_size, self.filters(), await self.blocker()))


class MyCheckHandler(MarketHandler):
    """GET /wx/goods/getMyCheckSimGoods?openid= : all the caller's listings with their state."""

    async def get(self):
        openid = self.caller(self.arg("openid"))
        page = self.page_number("pageNum") if self.arg("pageNum") not in (None, "") else None
        self.answer_list(await self.run_db(goods.mine_with_state, openid, self.base, page,
                                           self.page_size))


class DetailHandler(MarketHandler):
    """GET /wx/goods/getDeGoodfwl?gid= : extend.goodInfo; counts the view."""

    async def get(self):
        gid = goods.gid_of(self.arg("gid"))
        info = await self.run_db(goods.detail, gid, self.viewer(self.arg("openid")),
                                 self.is_admin(), self.base, self.application.views)
        self.ok({"goodInfo": info})


class QueryHandler(MarketHandler):
    """GET /wx/goods/query?flag=&pageNum= : search public listings (every word must match).
    A first page that found something counts its words once per searcher a day (hot words)."""

    async def get(self):
        flag, page = self.arg("flag"), self.page_number("pageNum")
        filters, viewer = self.filters(), await self.blocker()
        key = (flag, page, self.base, tuple(sorted((filters or {}).items())), viewer)
        items = await self.application.searches_running.run(key, lambda: self.run_db(
            goods.search, flag, self.base, page, self.page_size, filters=filters,
            cache_seconds=self.config["goods"]["search_cache_seconds"], viewer=viewer))
        if items and page == 0:
            words = goods.keywords(flag)
            # counted once per searcher and day: a repeat of this process's needs no database
            key = (self._searcher(), hotwords.today(), tuple(sorted(w.lower() for w in words)))
            counted = self.application.searches_counted
            if not counted.seen(key):  # claimed before the call: the same search at the same
                counted.add(key)       # moment does not count (and contend) again
                try:
                    await self.run_db(hotwords.count, words, key[0], key[1])
                except BaseException:
                    counted.discard(key)
                    raise
        self.answer_list(items, "nothing found")

    def _searcher(self):
        """The token's user, else the address (an openid parameter is never trusted here: it
        would let one client count as many)."""
        try:
            claims = self.claims
        except ServiceError:  # a bad token does not make a public search fail
            claims = None
        user = claims["sub"] if claims and claims["role"] == "user" else None
        return hotwords.searcher(user, self.request.remote_ip)


class SuggestHandler(MarketHandler):
    """GET /wx/goods/suggest?q= : extend.suggestions, up to 10 completions of what is typed
    (characters, pinyin or initials) from public listings' words and hot words, most found
    first."""

    async def get(self):
        q = self.arg("q")
        if q is None:  # a missing prefix is not an empty one
            raise Invalid("%(field)s is required", field=validate.label("q"))
        self.ok({"suggestions": await self.run_db(goods.suggestions, q)})


class HotWordsHandler(MarketHandler):
    """GET /wx/goods/hotWords?limit= : extend.hotWords, the most searched words."""

    async def get(self):
        limit = validate.integer(self.arg("limit"), "limit", required=False, default=10, low=1,
                                 high=HOT_WORDS_MAX)
        self.ok({"hotWords": await self.run_db(hotwords.hot_words, limit)})


class WhyNotHandler(MarketHandler):
    """GET /wx/user/whyNot?gid= : extend.notice.noticeInfo (owner and admins)."""

    async def get(self):
        gid = goods.gid_of(self.arg("gid"))
        admin = self.is_admin()
        openid = None if admin else self.caller(self.arg("openid"))
        self.ok(await self.run_db(goods.why_not, gid, openid, admin))


class DeleteOwnHandler(MarketHandler):
    """GET /wx/user/deleteMyIssue?gid= and /wx/user/deleteCheckFail?gid=&state= : owner only
    (with tokens off and no openid, any caller: the published client sends only gid)."""

    async def get(self):
        gid = goods.gid_of(self.arg("gid"))
        validate.integer(self.arg("state"), "state", required=False, low=0, high=2)
        openid = self.owner(self.arg("openid"))
        await do_delete_own(self.actions, gid, openid)
        self.ok(msg="deleted")


class FavouritesHandler(MarketHandler):
    """GET /wx/user/getFavorites?openid= : extend.favorites (gids)."""

    async def get(self):
        openid = self.caller(self.arg("openid"))
        self.ok({"favorites": await self.run_db(favourites.gids, openid)})


class ReplaceFavouritesHandler(MarketHandler):
    """POST /wx/user/addGoodsToCar {openid, gid: [..]} : replace the favourites."""

    async def post(self):
        body = self.json_body()
        openid = self.caller(body.get("openid"))
        gids = favourites.parse_gids(body.get("gid"))
        self.ok({"favorites": await do_replace_favourites(self.actions, openid, gids)})


class FavouriteGoodsHandler(MarketHandler):
    """GET /wx/user/getMyCarSimpleInfo?openid= : extend map of the favourite listings."""

    async def get(self):
        openid = self.caller(self.arg("openid"))
        items = await self.run_db(favourites.goods, openid, self.base)  # blocked owners' out
        self.ok({str(i): item for i, item in enumerate(items)})


default_handlers = [
    (r"/wx/goods/goodsIssue", IssueHandler),
    (r"/wx/goods/getSimpleGoods", SimpleGoodsHandler),
    (r"/wx/goods/getSimFrGoods", FreeGoodsHandler),
    (r"/wx/goods/getMyIssGoods", MyIssuedHandler),
    (r"/wx/goods/getAllSimpleGoods", UserGoodsHandler),
    (r"/wx/goods/getMyCheckSimGoods", MyCheckHandler),
    (r"/wx/goods/getDeGoodfwl", DetailHandler),
    (r"/wx/goods/query", QueryHandler),
    (r"/wx/goods/hotWords", HotWordsHandler),
    (r"/wx/goods/suggest", SuggestHandler),
    (r"/wx/user/whyNot", WhyNotHandler),
    (r"/wx/user/deleteMyIssue", DeleteOwnHandler),
    (r"/wx/user/deleteCheckFail", DeleteOwnHandler),
    (r"/wx/user/getFavorites", FavouritesHandler),
    (r"/wx/user/addGoodsToCar", ReplaceFavouritesHandler),
    (r"/wx/user/getMyCarSimpleInfo", FavouriteGoodsHandler),
]
