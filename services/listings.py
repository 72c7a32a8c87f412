"""A listing's life after publishing: the owner edits it (a text or photo change goes
back to review, a price-only change does not), marks it reserved or sold and back, renews it;
listings untouched for `goods.expire_days` expire out of the lists, their owners reminded
`goods.remind_days` before; a lower price notifies whoever keeps the listing in favourites (once
a day per listing). Plain functions on the database executor; the actions (actions/listings.py)
send the subscribe messages after the commit."""
import datetime

from peewee import Case

from models import is_mysql, write_txn
from models.account import UserBlock
from models.comment import NOTICE_EXPIRY, NOTICE_PRICE_DROP, Notice
from models.search import GoodsSearch
from models.goods import (APPROVED, EXPIRED, GOODS_PHOTO, ON_SALE, PENDING, RESERVED, SOLD,
                          Favourite, Goods, Image)
from search import index as search_index
from search import query as search_query
from services import clock, validate
from errors import Forbidden, Invalid, NotFound
from services.users import require_active

SALE_STATES = {ON_SALE: "on sale", RESERVED: "reserved", SOLD: "sold", EXPIRED: "expired"}
SETTABLE = (ON_SALE, RESERVED, SOLD)  # what an owner may choose; EXPIRED is the sweep's
# client field -> (column, max length, required) of the texts an edit may change
TEXTS = {"goodsName": ("goods_name", 100, True), "goodsTitle": ("goods_title", 200, True),
         "goodsDec": ("goods_dec", 2000, True), "goodsXueyuan": ("goods_xueyuan", 100, False),
         "goodsAddress": ("goods_address", 200, False)}
PRICES = {"goodsPriceNew": "goods_price_new", "goodsPriceOld": "goods_price_old"}
TEXTS_COLUMNS = {column for column, _, _ in TEXTS.values()}
CHECKED = ("goods_name", "goods_title", "goods_dec")  # what WeChat's content check reads
REMINDER_TEXT = "还在卖吗？"  # the inbox line of the expiry reminder (stored data, shown as is)


# -- what an edit asks for (no database: runs before any content check) ------------------------
def edit_fields(body, max_price):
    """{column: value} of the fields the body sends, plus "photos" (the photo URLs to keep, in
    order) when sent. A field left out is kept as it is; one sent as null is refused (never
    read as empty); at least one field is needed."""
    fields = {}
    for key, (column, max_len, required) in TEXTS.items():
        if key in body:
            _not_null(body, key)
            fields[column] = validate.text(body[key], key, max_len, required)
    for key, column in PRICES.items():
        if key in body:
            _not_null(body, key)
            fields[column] = validate.price(body[key], key, max_price)
    if "photos" in body:
        _not_null(body, "photos")
        photos = body["photos"]
        if isinstance(photos, list) and len(photos) > 50:
            raise Invalid("photos: at most 50")
        if not isinstance(photos, list) or not all(isinstance(p, str) and p for p in photos):
            raise Invalid("photos must be a list of the photo URLs to keep")
        if any(len(p) > 300 for p in photos):
            raise Invalid("a photo URL is too long (at most 300 characters)")
        fields["photos"] = photos
    if not fields:
        raise Invalid("nothing to change: send at least one field")
    return fields


def _not_null(body, key):
    if body[key] is None:
        raise Invalid("%(field)s must not be null (leave it out to keep it)",
                      field=validate.label(key))


def sale_state_of(value):
    """The `saleState` an owner sets: 0 on sale (relist), 1 reserved, 2 sold."""
    return validate.choice(value, "saleState", SETTABLE)


# -- the owner's changes ------------------------------------------------------------------------
def _owned(gid, openid, lock=True):
    """The live listing, locked for the change on MySQL; NotFound, or Forbidden for another's."""
    query = Goods.live().where(Goods.gid == gid)
    goods = (query.for_update() if lock and is_mysql() else query).first()
    if goods is None:
        raise NotFound("no such goods")
    if openid is not None and goods.openid != openid:
        raise Forbidden("not your goods")
    return goods


def texts_to_check(gid, openid, fields):
    """The listing's checked texts after the edit when the edit changes one of them, else None
    (no content check needed). Refuses a blocked caller and another's listing before anything
    is sent to WeChat."""
    require_active(openid)
    goods = _owned(gid, openid, lock=False)
    if not any(c in fields and fields[c] != getattr(goods, c) for c in CHECKED):
        return None
    return tuple(fields.get(c, getattr(goods, c)) for c in CHECKED)


def _photos_kept(goods, wanted):
    """(ids of photos to remove) for `wanted` (URLs or file names of current photos)."""
    current = list(Image.select(Image.id, Image.url).where(
        Image.gid == goods.gid, Image.flag == GOODS_PHOTO).order_by(Image.id))
    by_name = {i.url: i.id for i in current}
    keep = set()
    for ref in wanted:
        name = ref.rsplit("/", 1)[-1].split("?", 1)[0]
        if name not in by_name:
            raise Invalid("photos: %(name)s is not a photo of this listing", name=name[:80])
        keep.add(by_name[name])
    return [i.id for i in current if i.id not in keep]


def _touch(now):
    """The columns every owner's change sets: a new expiry period, an expired listing back on
    sale (reserved and sold stay)."""
    return {Goods.touched_at: now, Goods.reminded_at: None,
            Goods.sale_state: Case(None, [(Goods.sale_state == EXPIRED, ON_SALE)],
                                   Goods.sale_state)}


def edit(gid, openid, fields, hold_reason="", expire_days=None):
    """/goods/edit: change the fields sent. A changed text or photo sends the listing back to
    review (with the content check's hold reason, if any); a price-only change keeps its state.
    A lower selling price on a public listing notices its favouriters (not the seller), once a
    China day per listing. Returns {"goods": after, "review": bool, "alerted": [openid],
    "old_price", "new_price", "life": life(gid, expire_days)}, all read in the transaction."""
    require_active(openid)
    with write_txn():
        goods = _owned(gid, openid)
        changes = {c: v for c, v in fields.items() if c != "photos" and v != getattr(goods, c)}
        removed = _photos_kept(goods, fields["photos"]) if "photos" in fields else []
        review = bool(removed) or any(c in TEXTS_COLUMNS for c in changes)
        now = clock.now()
        update = dict(_touch(now))
        update.update({getattr(Goods, c): v for c, v in changes.items()})
        if review:
            update.update({Goods.state: PENDING, Goods.reason: "",
                           Goods.hold_reason: hold_reason[:255]})
        Goods.update(update).where(Goods.gid == gid).execute()
        if removed:
            Image.delete().where(Image.id.in_(removed)).execute()
        search_index.reindex(gid)
        old_price, new_price = goods.goods_price_new, changes.get("goods_price_new")
        alerted = []
        if new_price is not None and new_price < old_price and not review:
            alerted = _price_drop(goods, old_price, new_price, now)
        return {"gid": gid, "review": review, "alerted": alerted, "title": goods.goods_title,
                "old_price": old_price, "new_price": new_price, "life": life(gid, expire_days)}


def _price_drop(goods, old, new, now):
    """Inbox notices (type 3) to the listing's favouriters, the seller excepted, when this
    listing is public and had no alert yet this China day; their openids."""
    if not Goods.public().where(Goods.gid == goods.gid).exists():
        return []
    day = clock.china_day(now)
    claimed = Goods.update(price_alert_day=day).where(
        Goods.gid == goods.gid,
        Goods.price_alert_day.is_null() | (Goods.price_alert_day != day)).execute()
    if claimed != 1:
        return []
    fans = [f.openid for f in Favourite.select(Favourite.openid).where(
        Favourite.gid == goods.gid, Favourite.openid != goods.openid,
        Favourite.openid.not_in(UserBlock.blockers_of(goods.openid))).limit(5000)]
    content = "降价 ¥%s → ¥%s" % (old, new)
    for i in range(0, len(fans), 100):  # SQLite's bound-variable limit
        Notice.insert_many([{"openid": o, "type": NOTICE_PRICE_DROP, "actor_openid": goods.openid,
                             "gid": goods.gid, "content": content, "send_time": now}
                            for o in fans[i:i + 100]]).execute()
    return fans


def set_sale_state(gid, openid, state, expire_days=None):
    """/goods/state: the owner marks a listing reserved (1) or sold (2), or puts it back on sale
    (0: relist, also from expired). Reserved and sold listings leave the public lists and search
    and stay readable elsewhere. `openid` None: a trusted caller (mark_sold). Returns life(),
    read in the transaction (nothing that can fail runs after the commit)."""
    if state not in SETTABLE:
        raise Invalid("saleState must be one of 0, 1, 2")
    with write_txn():
        goods = _owned(gid, openid)
        Goods.update({Goods.sale_state: state, Goods.touched_at: clock.now(),
                      Goods.reminded_at: None}).where(Goods.gid == goods.gid).execute()
        search_index.reindex(gid)
        return life(gid, expire_days)


def mark_sold(gid, openid=None):
    """The listing is sold (a hand-over was confirmed): for other rules, e.g. ratings. With
    `openid`, only its owner may; without, the caller is trusted. Returns life()."""
    return set_sale_state(gid, openid, SOLD)


def renew(gid, openid, expire_days=None):
    """/goods/renew: one tap keeps the listing: a new expiry period; an expired one is back on
    sale (reserved and sold stay as they are). Returns life(), read in the transaction."""
    with write_txn():
        goods = _owned(gid, openid)
        Goods.update(_touch(clock.now())).where(Goods.gid == goods.gid).execute()
        search_index.reindex(gid)
        return life(gid, expire_days)


def life(gid, expire_days=None):
    """{gid, state, saleState, touchedAt} of a listing (and expireTime with `expire_days`)."""
    g = Goods.get_by_id(gid)
    info = {"gid": g.gid, "state": g.state, "saleState": g.sale_state,
            "touchedAt": clock.display(g.touched_at)}
    if expire_days:
        info["expireTime"] = clock.display(g.touched_at + datetime.timedelta(days=expire_days))
    return info


# -- the sweep: expiry and reminders ------------------------------------------------------------
def _due(older_than, batch, reminded=None):
    query = (Goods.live(Goods.gid, Goods.openid, Goods.goods_title, Goods.touched_at)
             .where(Goods.state == APPROVED, Goods.sale_state == ON_SALE,
                    Goods.touched_at < older_than))
    if reminded is False:
        query = query.where(Goods.reminded_at.is_null())
    return list(query.order_by(Goods.touched_at).limit(batch))


def expire_batch(expire_days, batch=100):
    """Listings on sale untouched for `expire_days` become expired (out of the lists and
    search); at most `batch` in one transaction. Returns how many."""
    cutoff = clock.now() - datetime.timedelta(days=expire_days)
    with write_txn():  # three statements a batch (one UPDATE a listing: ~1.2 ms each on MariaDB)
        gids = [g.gid for g in _due(cutoff, batch)]
        if not gids:
            return 0
        count = Goods.update(sale_state=EXPIRED).where(  # one touched meanwhile stays on sale
            Goods.gid.in_(gids), Goods.sale_state == ON_SALE, Goods.touched_at < cutoff).execute()
        expired = [g.gid for g in Goods.select(Goods.gid).where(
            Goods.gid.in_(gids), Goods.sale_state == EXPIRED)]
        if expired:
            GoodsSearch.delete().where(GoodsSearch.gid.in_(expired)).execute()
            search_query.candidate_cache.clear()
    return count


def remind_batch(expire_days, remind_days, batch=100):
    """Owners of listings expiring within `remind_days` get one inbox notice (type 2, "还在卖吗？")
    per period (claimed by a conditional UPDATE, so two processes never both send); at most
    `batch` in one transaction. Returns [(openid, gid, title, expires)] for subscribe messages."""
    now = clock.now()
    period = datetime.timedelta(days=expire_days)
    cutoff = now - (period - datetime.timedelta(days=remind_days))
    sent = []
    with write_txn():
        for g in _due(cutoff, batch, reminded=False):
            claimed = Goods.update(reminded_at=now).where(
                Goods.gid == g.gid, Goods.reminded_at.is_null(),
                Goods.touched_at == g.touched_at).execute()
            if claimed == 1:
                expires = g.touched_at + period
                Notice.create(openid=g.openid, type=NOTICE_EXPIRY, actor_openid=g.openid,
                              gid=g.gid, content=REMINDER_TEXT, send_time=now)
                sent.append((g.openid, g.gid, g.goods_title, clock.display(expires)))
    return sent


# -- the admin pages ----------------------------------------------------------------------------
def annotate(items, expire_days):
    """Add "sale" (the sale state's name) and "expires" to the admin pages' listing dicts
    (services.moderation.goods_dict: sale_state, touched_at)."""
    for item in items:
        item["sale"] = SALE_STATES.get(item.get("sale_state"), "on sale")
        touched = item.get("touched_at")
        item["expires"] = clock.display(touched + datetime.timedelta(days=expire_days)) \
            if isinstance(touched, datetime.datetime) and item.get("sale_state") == ON_SALE else ""
    return items
