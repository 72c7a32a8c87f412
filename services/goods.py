"""Listings: publish, the lists, detail (view count), search, owner deletion."""

from peewee import Case

from models import utcnow, write_txn
from models import goods as goods_sql
from models.goods import APPROVED, GOODS_PHOTO, PENDING, Goods, Image
from models.user import VERIFIED
from search import index as search_index
from search import query as search_query
from search import suggest
from services import clock, ip_region, validate
from errors import Forbidden, Invalid, NotFound
from services.images import upload_url
from services.users import require_active

MAX_KEYWORDS = 5        # words of one search that are used
MAX_UNPAGED = 500       # cap of the lists the client asks for without a page
SEARCH_SORTS = ("relevance", "newest", "priceAsc", "priceDesc", "views")


def gid_of(value, name="gid"):
    """A goods id from a client value, or Invalid."""
    return validate.integer(value, name, low=1, high=2 ** 31 - 1)


def listing_fields(body, max_price):
    """The columns of a new listing from the client's body, or Invalid (no database: this runs
    before the text is sent to WeChat's check, so a refused shape costs no WeChat call)."""
    return dict(
        goods_name=validate.text(body.get("goodsName"), "goodsName", 100),
        goods_title=validate.text(body.get("goodsTitle"), "goodsTitle", 200),
        goods_dec=validate.text(body.get("goodsDec"), "goodsDec", 2000),
        goods_price_new=validate.price(body.get("goodsPriceNew"), "goodsPriceNew", max_price),
        goods_price_old=validate.price(body.get("goodsPriceOld"), "goodsPriceOld", max_price),
        goods_xueyuan=validate.text(body.get("goodsXueyuan"), "goodsXueyuan", 100, False),
        goods_address=validate.text(body.get("goodsAddress"), "goodsAddress", 200, False),
    )


def listing_texts(fields):
    """The texts of a listing a content check reads."""
    return fields["goods_name"], fields["goods_title"], fields["goods_dec"]


def publish(openid, fields, hold_reason=""):
    """/goods/goodsIssue: a new listing from `listing_fields`, pending review (with a
    content-check hold reason, if any, for the review queue); returns its gid."""
    user = require_active(openid)
    with write_txn():  # the row and its search-index entry commit together
        goods = Goods.create(openid=user.openid, state=PENDING, issue_time=utcnow(),
                             touched_at=clock.now(), hold_reason=hold_reason[:255], **fields)
        search_index.reindex(goods.gid)
    return goods.gid


# -- shapes -------------------------------------------------------------------------------
def _first_images(gids):
    """{gid: first goods-photo Image} for these listings, in one query."""
    first = {}
    if gids:
        query = (Image.select().where(Image.gid.in_(list(gids)), Image.flag == GOODS_PHOTO,
                                      Image.hidden == False)  # noqa: E712 (held by a check)
                 .order_by(Image.id))
        for image in query:
            first.setdefault(image.gid, image)
    return first


def summaries(goods_list, base, with_state=False, with_sale=False):
    """List items {gid, goodsName, goodsTitle, goodsDec, goodsPriceNew, goodsPriceOld, homeImage}
    (+ state; + saleState, additive, in the owner's lists and favourites: 0 on sale,
    1 reserved, 2 sold, 3 expired)."""
    goods_list = list(goods_list)
    first = _first_images([g.gid for g in goods_list])
    items = []
    for g in goods_list:
        image = first.get(g.gid)
        item = {"gid": g.gid, "goodsName": g.goods_name, "goodsTitle": g.goods_title,
                "goodsDec": g.goods_dec, "goodsPriceNew": float(g.goods_price_new),
                "goodsPriceOld": float(g.goods_price_old),
                "homeImage": upload_url(base, (image.thumb or image.url) if image else "")}
        if with_sale:
            item["saleState"] = g.sale_state
        if with_state:
            item["state"] = g.state
        items.append(item)
    return items


def summary_rows(rows, base):
    """List items from plain rows (models.goods.SUMMARY_SQL's columns, in that order)."""
    return [{"gid": gid, "goodsName": name, "goodsTitle": title, "goodsDec": dec,
             "goodsPriceNew": float(new), "goodsPriceOld": float(old),
             "homeImage": upload_url(base, home or "")}
            for gid, name, title, dec, new, old, home, *_ in rows]


def _newest(query, page_num, size):
    return query.order_by(Goods.gid.desc()).paginate(page_num + 1, size)  # gid grows with time


# -- lists ---------------------------------------------------------------------------------
# `viewer` below: the reader when they block someone (their owners' listings are left out in the
# query, models.account.UserBlock.not_blocked_by), else None (everyone's page, the fast plan)
def approved(base, page_num, size, filters=None, viewer=None):
    """getSimpleGoods?state=1: every public listing, newest first (or as `filters` say)."""
    if not filters:  # the page every visitor opens: one prepared statement
        if viewer:
            return summary_rows(goods_sql.run(goods_sql.APPROVED_PAGE_FOR_SQL,
                                              (viewer, size, page_num * size)), base)
        return summary_rows(goods_sql.run(goods_sql.APPROVED_PAGE_SQL, (size, page_num * size)),
                            base)
    return summaries(search_query.list_page(Goods.public(viewer), filters, page_num, size), base)


def pending(base, page_num, size):
    """getSimpleGoods?state=0 (admins): listings waiting for review, newest first."""
    query = Goods.live().where(Goods.state == PENDING)
    return summaries(_newest(query, page_num, size), base)


def free(base, page_num, size, filters=None, viewer=None):
    """getSimFrGoods: public listings whose two prices are 0."""
    query = Goods.public(viewer).where(Goods.goods_price_new == 0, Goods.goods_price_old == 0)
    return summaries(search_query.list_page(query, filters, page_num, size), base)


def mine_approved(openid, base, page_num, size):
    """getMyIssGoods: the caller's approved listings."""
    query = Goods.live().where(Goods.openid == openid, Goods.state == APPROVED)
    return summaries(_newest(query, page_num, size), base, with_sale=True)


def of_user(openid, base, page_num, size, filters=None, viewer=None):
    """getAllSimpleGoods: another user's public listings."""
    query = Goods.public(viewer).where(Goods.openid == openid)
    return summaries(search_query.list_page(query, filters, page_num, size), base)


def mine_with_state(openid, base, page_num=None, size=10):
    """getMyCheckSimGoods: all the caller's listings with their review state."""
    query = Goods.live().where(Goods.openid == openid)
    if page_num is None:
        query = _newest(query, 0, MAX_UNPAGED)
    else:
        query = _newest(query, page_num, size)
    return summaries(query, base, with_state=True, with_sale=True)


# -- one listing ---------------------------------------------------------------------------
def _visible(gid, viewer, admin):
    """The listing if this viewer may see it: public to all; otherwise owner and admins only."""
    goods = Goods.live().where(Goods.gid == gid).first()
    if goods is None:
        raise NotFound("no such goods")
    if admin or (viewer and viewer == goods.openid):
        return goods
    if not Goods.shown().where(Goods.gid == gid).exists():  # reserved and sold stay readable
        raise NotFound("no such goods")
    return goods


def visible(gid, viewer, admin=False):
    """The listing (a model) when visible to this viewer, else NotFound."""
    return _visible(gid, viewer, admin)


def _detail_row(gid, viewer, admin):
    """(row of models.goods.DETAIL_SQL, committed open_sum) when this viewer may see the
    listing: public to all; otherwise owner and admins only. Else NotFound."""
    rows = goods_sql.run(goods_sql.DETAIL_SQL, (gid,))
    if not rows:
        raise NotFound("no such goods")
    row = rows[0]
    openid, state, hidden, owner_state = row[1], row[9], row[12], row[13]
    public = Goods.is_shown(state, False, hidden, owner_state)  # DETAIL_SQL: not deleted
    if not (public or admin or (viewer and viewer == openid)):
        raise NotFound("no such goods")
    return row, row[11]


def detail(gid, viewer, admin, base, views=None):
    """getDeGoodfwl: extend.goodInfo, counting this view. Two statements: the listing with its
    seller, and its photos. `views` (process.views.ViewCounter) coalesces the counts in memory;
    without it the view is written at once."""
    if views is not None:
        row, open_sum = views.count(gid, lambda: _detail_row(gid, viewer, admin))
    else:
        row, _ = _detail_row(gid, viewer, admin)
        Goods.update(open_sum=Goods.open_sum + 1).where(Goods.gid == gid).execute()
        open_sum = Goods.select(Goods.open_sum).where(Goods.gid == gid).scalar()
    (gid, openid, name, title, dec, new, old, xueyuan, address, state, issued, _, _,
     seller_state, wxname, sale_state, region) = row
    photos = goods_sql.run(goods_sql.PHOTOS_SQL, (gid,))
    return {
        "gid": gid, "goodsName": name, "goodsTitle": title,
        "goodsDec": dec, "goodsPriceNew": float(new),
        "goodsPriceOld": float(old), "goodsXueyuan": xueyuan,
        "goodsAddress": address, "state": state,
        "imageUrl": [upload_url(base, url) for url, in photos],
        "imageCheckStatus": 1 if seller_state == VERIFIED else 0,
        "issueTime": clock.display(goods_sql.issue_time(issued)), "openSum": open_sum,
        "openid": openid, "wxname": wxname or "", "saleState": sale_state,
        "ipRegion": ip_region.shown(seller_state, region),  # the seller's
    }


def add_views(counts, chunk=500):
    """Write coalesced view counts {gid: n} in one transaction (process.views.ViewCounter): one
    UPDATE … CASE per `chunk` listings, in gid order (two processes' flushes never deadlock)."""
    items = sorted(counts.items())
    with write_txn():
        for i in range(0, len(items), chunk):
            part = items[i:i + chunk]
            (Goods.update(open_sum=Goods.open_sum + Case(Goods.gid, part))
             .where(Goods.gid.in_([gid for gid, _ in part])).execute())


def _owned(gid, openid, admin=False):
    goods = Goods.live().where(Goods.gid == gid).first()
    if goods is None:
        raise NotFound("no such goods")
    if not admin and goods.openid != openid:
        raise Forbidden("not your goods")
    return goods


def why_not(gid, openid, admin):
    """/user/whyNot: extend.notice.noticeInfo, the rejection reason (owner and admins)."""
    goods = _owned(gid, openid, admin)
    return {"notice": {"noticeInfo": goods.reason}}


def delete_own(gid, openid):
    """deleteMyIssue / deleteCheckFail: the owner's soft delete (the row stays for citations).
    `openid` None (tokens off, none named) trusts the caller, as the original did."""
    with write_txn():  # the check in the transaction: a take-down meanwhile refuses it
        goods = _owned(gid, openid, admin=openid is None)
        Goods.update(deleted=True).where(Goods.gid == gid, Goods.openid == goods.openid).execute()
        search_index.remove(gid)


# -- search --------------------------------------------------------------------------------
def keywords(flag):
    """The distinct search words of `flag` (split on whitespace), at most MAX_KEYWORDS."""
    text = validate.text(flag, "keyword", 100)
    words = []
    for word in text.split():
        if word.lower() not in [w.lower() for w in words]:
            words.append(word)
    return words[:MAX_KEYWORDS]


def search(flag, base, page_num, size, filters=None, cache_seconds=0, viewer=None):
    """/goods/query: public listings matching every word, by relevance then recency (or as
    `filters` say); search/query.py finds them (and caches the candidates of a query for
    `cache_seconds`). The hot words are counted apart (services/hotwords.py, called by the
    handler)."""
    found = search_query.find(keywords(flag), page_num, size, filters, cache_seconds, viewer)
    if isinstance(found, list):
        return summary_rows(found, base)
    return summaries(found, base)


def search_filters(arg, max_price):
    """The optional filters and sort of newer clients (of the lists and of search) from request
    arguments (`arg(name)` is the value or None); None when none is given. Bad values: Invalid."""
    found = {}
    for name in ("priceMin", "priceMax"):
        if arg(name) not in (None, ""):
            found[name] = validate.price(arg(name), name, max_price)
    if found.get("priceMin") is not None and found.get("priceMax") is not None \
            and found["priceMin"] > found["priceMax"]:
        raise Invalid("the lowest price is above the highest price")
    if arg("free") not in (None, ""):
        found["free"] = bool(validate.choice(arg("free"), "free", (0, 1)))
    for name, limit in (("goodsXueyuan", 100), ("goodsAddress", 200)):
        value = validate.text(arg(name), name, limit, required=False)
        if value:
            found[name] = value
    sort = arg("sort")
    if sort not in (None, ""):
        if sort not in SEARCH_SORTS:
            raise Invalid("%(field)s must be one of %(options)s", field=validate.label("sort"),
                          options=", ".join(SEARCH_SORTS))
        found["sort"] = sort
    return found or None


def suggestions(q):
    """/goods/suggest: up to search.suggest.LIMIT completions of what is typed (search/suggest.py);
    an over-long `q`: Invalid."""
    return suggest.suggest(validate.text(q, "q", suggest.MAX_QUERY_CHARS, required=False))


def require_state(value):
    """The `state` of getSimpleGoods: 0 or 1."""
    if value is None or value == "":
        return APPROVED
    number = validate.integer(value, "state")
    if number not in (PENDING, APPROVED):
        raise Invalid("state must be 0 or 1")
    return number
