"""Want-to-buy posts (求购): post, the owner's list, delete, the public board; and matching a
newly public listing against the posts, with the search's own segmentation and pinyin.

A post's words are cut by `search.tokens.query_groups` exactly as a search for them would be, so a
post matches a listing exactly when searching its words would find the listing (same tokens, same
prefix and pinyin rules), plus the post's price cap and place. Matching must not scan every post
per approval: each post stores keys (`WantedKey`), the first KEY_CHARS characters of one token
from every alternative of one of its groups; any listing the post matches holds a token starting
with one of them, so a listing looks up its own tokens' first characters and checks only the
posts found. Same-database follow-ups (the inbox notice, the once-a-day mark) run inside the
caller's transaction; the subscribe messages are sent by the action after the commit.
"""
import datetime
from decimal import Decimal

from models import is_mysql, utcnow, write_txn
from models.account import UserBlock
from models.comment import Notice
from models.goods import Goods
from models.search import GoodsSearch
from models.user import BLOCKED, User
from models.wanted import WANTED_ACTIVE, WANTED_DELETED, WANTED_TAKEN_DOWN, WantedKey, WantedPost
from models.admin import record
from models.report import Report
from search import tokens as search_tokens
from services import clock, validate
from errors import Forbidden, Invalid, NotFound, TooMany
from services.users import require_active

NOTICE_WANTED = 4     # Notice.type of "a listing matching your post was approved"
KEY_CHARS = 4         # "x" + 3 characters: the shortest prefix term search allows (PREFIX_CHARS)
MAX_WORDS = 5         # words of one post that are used (as a search: services.goods.MAX_KEYWORDS)
LOOKUP_BATCH = 500    # keys per IN (...) lookup
MAX_MINE = 100


# -- shapes and checks (no database) ---------------------------------------------------------
def words_of(text):
    """The distinct words of a post's keywords (split on whitespace), at most MAX_WORDS."""
    words = []
    for word in text.split():
        if word.lower() not in [w.lower() for w in words]:
            words.append(word)
    return words[:MAX_WORDS]


def post_fields(body, config, max_price):
    """The columns of a new post from the client's body, or Invalid (before any WeChat check)."""
    keywords = validate.text(body.get("keywords"), "keywords", config["keywords_chars"])
    if not search_tokens.query_groups(words_of(keywords)):
        raise Invalid("keywords has no word to look for")
    cap = body.get("maxPrice")
    return dict(keywords=keywords,
                max_price=None if cap in (None, "") else validate.price(cap, "maxPrice", max_price),
                place=validate.text(body.get("place"), "place", config["place_chars"],
                                    required=False))


def keys_of(keywords):
    """The match keys of a post: for the most selective group of its search pieces, one key per
    alternative (the first KEY_CHARS characters of its longest term)."""
    best = None
    for group in search_tokens.query_groups(words_of(keywords)):
        keys = {max((t for t, _ in terms), key=len)[:KEY_CHARS] for terms, _ in group}
        score = (min(len(k) for k in keys), -len(keys))
        if best is None or score > best[0]:
            best = (score, keys)
    return sorted(best[1]) if best else []


def _term_found(token, prefix, tokens):
    return token in tokens or (prefix and any(t.startswith(token) for t in tokens))


def matches_tokens(keywords, tokens):
    """True when every search piece of `keywords` matches these stored tokens (a set) the way
    the engines match them (a prefix term: any token starting with it)."""
    groups = search_tokens.query_groups(words_of(keywords))
    return bool(groups) and all(
        any(all(_term_found(t, p, tokens) for t, p in terms) for terms, _ in group)
        for group in groups)


def _place_found(place, goods):
    if not place:
        return True
    where = search_tokens.normalize((goods.goods_address or "") + " " + (goods.goods_xueyuan or ""))
    return search_tokens.normalize(place) in where


def shape(post, now=None, owner=None):
    """A post as the mini-program shows it."""
    now = now or utcnow()
    expired = post.expires_at <= now
    status = ("deleted" if post.state == WANTED_DELETED else
              "takenDown" if post.state == WANTED_TAKEN_DOWN else
              "held" if post.hold_reason else "expired" if expired else "active")
    found = {"id": post.id, "openid": post.openid, "keywords": post.keywords,
             "maxPrice": None if post.max_price is None else "%.2f" % float(post.max_price),
             "place": post.place, "createTime": clock.display(post.created_at),
             "expireTime": clock.display(post.expires_at), "status": status}
    if owner is not None:
        found.update(wxname=owner.wxname if owner else "", headImg=owner.head_img if owner else "")
    return found


# -- the owner's calls -------------------------------------------------------------------------
def _active(query, now):
    return query.where(WantedPost.state == WANTED_ACTIVE, WantedPost.expires_at > now)


def create(openid, fields, config, hold_reason=""):
    """A new post (held, and without keys, while a content check holds it); its shape. At most
    `max_active_per_user` active posts per user."""
    require_active(openid)
    now = utcnow()
    with write_txn():
        active = _active(WantedPost.select(), now).where(WantedPost.openid == openid).count()
        if active >= config["max_active_per_user"]:
            raise TooMany("you have %(n)d active want-to-buy posts: delete one first", n=active)
        post = WantedPost.create(openid=openid, created_at=now, hold_reason=hold_reason[:255],
                                 expires_at=now + datetime.timedelta(days=config["expire_days"]),
                                 **fields)
        if not hold_reason:
            _add_keys(post)
    return shape(post, now)


def _add_keys(post):
    keys = keys_of(post.keywords)
    if keys:
        WantedKey.insert_many([{"key": k, "wanted_id": post.id} for k in keys]).execute()


def _drop_keys(post_id):
    WantedKey.delete().where(WantedKey.wanted_id == post_id).execute()


def post_id(value, name="id"):
    return validate.integer(value, name, low=1, high=2 ** 31 - 1)


def _post(pid):
    post = WantedPost.get_or_none(WantedPost.id == pid)
    if post is None or post.state == WANTED_DELETED:
        raise NotFound("no such want-to-buy post")
    return post


def mine(openid):
    """The caller's posts (not deleted), newest first, with their status."""
    now = utcnow()
    rows = (WantedPost.select().where(WantedPost.openid == openid,
                                      WantedPost.state != WANTED_DELETED)
            .order_by(WantedPost.id.desc()).limit(MAX_MINE))
    return [shape(p, now) for p in rows]


def delete_own(openid, pid):
    """The owner deletes a post (its keys go with it); another user's post: Forbidden."""
    with write_txn():
        post = _post(pid)
        if post.openid != openid:
            raise Forbidden("not your want-to-buy post")
        WantedPost.update(state=WANTED_DELETED).where(WantedPost.id == post.id).execute()
        _drop_keys(post.id)


def board(page_num, size, viewer=None):
    """The public board: active, unheld, unexpired posts of owners not blocked (nor blocked by
    `viewer`, in the query: full pages), newest first; {"items", "more"}."""
    now = utcnow()
    query = (_active(WantedPost.select(), now).join(User, on=(User.openid == WantedPost.openid))
             .where(WantedPost.hold_reason == "", User.state != BLOCKED,
                    UserBlock.not_blocked_by(viewer, WantedPost.openid)))
    rows = list(query.order_by(WantedPost.id.desc()).offset(page_num * size).limit(size + 1))
    owners = User.names(p.openid for p in rows)
    return {"items": [shape(p, now, owners.get(p.openid)) for p in rows[:size]],
            "more": len(rows) > size}


# -- matching ----------------------------------------------------------------------------------
def _listing_tokens(gid):
    """The listing's stored index tokens: what search matches against (None: not indexed)."""
    row = GoodsSearch.get_or_none(GoodsSearch.gid == gid)
    if row is None:
        return None
    return set((row.words or "").split()) | set((row.pinyin or "").split())


def _candidates(tokens, seller, now):
    keys = sorted({t[:KEY_CHARS] for t in tokens})
    ids = set()
    for i in range(0, len(keys), LOOKUP_BATCH):
        ids.update(k.wanted_id for k in WantedKey.select(WantedKey.wanted_id)
                   .where(WantedKey.key.in_(keys[i:i + LOOKUP_BATCH])))
    if not ids:
        return []
    return list(_active(WantedPost.select(), now).join(User, on=(User.openid == WantedPost.openid))
                .where(WantedPost.id.in_(sorted(ids)), WantedPost.hold_reason == "",
                       WantedPost.openid != seller, User.state != BLOCKED,
                       WantedPost.openid.not_in(UserBlock.blockers_of(seller))))


def china_day(now):
    """The China-time date of a naive-UTC time (the day of "once a day")."""
    return now.replace(tzinfo=datetime.timezone.utc).astimezone(clock.CHINA).date()


def listing_public(gid):
    """A listing just became public (approved, or released while approved): notify each
    matching post's owner in their inbox, at most once per post per China day. Call inside the
    transaction that made it public, after `search.index.reindex`. Returns what the action sends as
    subscribe messages: [{"openid", "keywords", "goodsName", "gid", "wantedId"}]."""
    tokens = _listing_tokens(gid)
    if not tokens:
        return []  # not public (not in the index)
    goods = Goods.get(Goods.gid == gid)
    now = utcnow()
    today = china_day(now)
    price = Decimal(str(goods.goods_price_new))
    matched = {post.id: post for post in _candidates(tokens, goods.openid, now)
               if (post.max_price is None or price <= Decimal(str(post.max_price)))
               and _place_found(post.place, goods) and matches_tokens(post.keywords, tokens)}
    told = []
    ids = sorted(matched)
    for i in range(0, len(ids), LOOKUP_BATCH):
        told += _claim_and_tell([matched[k] for k in ids[i:i + LOOKUP_BATCH]], goods, today)
    return told


def _claim_and_tell(posts, goods, today):
    """Claim the posts not yet told today (rows locked on MySQL; SQLite's write transaction
    already holds the one write lock, so no other claim can interleave) and tell their owners:
    one UPDATE and one INSERT for all of them."""
    query = WantedPost.select(WantedPost.id).where(
        WantedPost.id.in_([p.id for p in posts]),
        WantedPost.notified_on.is_null() | (WantedPost.notified_on < today))
    claimed = {row.id for row in (query.for_update() if is_mysql() else query)}
    if not claimed:
        return []
    WantedPost.update(notified_on=today, matches=WantedPost.matches + 1).where(
        WantedPost.id.in_(sorted(claimed))).execute()
    told = [p for p in posts if p.id in claimed]
    Notice.insert_many([{"openid": p.openid, "type": NOTICE_WANTED, "actor_openid": goods.openid,
                         "gid": goods.gid, "obj_id": p.id, "content": p.keywords[:200],
                         "send_time": utcnow(), "read": False} for p in told]).execute()
    return [{"openid": p.openid, "keywords": p.keywords, "goodsName": goods.goods_name,
             "gid": goods.gid, "wantedId": p.id} for p in told]


# -- moderators ------------------------------------------------------------------------------
def admin_list(status="active", page_num=0, size=50):
    """Posts for the admin page: active / held / takenDown / all, newest first."""
    now = utcnow()
    query = WantedPost.select().where(WantedPost.state != WANTED_DELETED)
    if status == "active":
        query = _active(query, now).where(WantedPost.hold_reason == "")
    elif status == "held":
        query = query.where(WantedPost.state == WANTED_ACTIVE, WantedPost.hold_reason != "")
    elif status == "takenDown":
        query = query.where(WantedPost.state == WANTED_TAKEN_DOWN)
    elif status != "all":
        raise Invalid("status must be one of active, held, takenDown, all")
    rows = list(query.order_by(WantedPost.id.desc()).offset(page_num * size).limit(size + 1))
    owners = User.names(p.openid for p in rows)
    items = []
    for p in rows[:size]:
        item = shape(p, now, owners.get(p.openid))
        item.update(holdReason=p.hold_reason, reason=p.reason, matches=p.matches)
        items.append(item)
    return {"items": items, "more": len(rows) > size}


def take_down(actor, pid, reason):
    """A moderator takes a post down with the reason its owner reads (audited)."""
    reason = validate.text(reason, "reason", 500)
    with write_txn():
        post = _post(pid)
        WantedPost.update(state=WANTED_TAKEN_DOWN, reason=reason).where(
            WantedPost.id == post.id).execute()
        _drop_keys(post.id)
        record(actor, "wanted.take_down", "wanted:%d" % post.id, reason, post.state,
               WANTED_TAKEN_DOWN)
        Report.close_open("wanted", post.id, actor)
    return {"id": post.id, "openid": post.openid}


def release(actor, pid):
    """A moderator shows a held post (or restores a taken-down one): it matches again."""
    with write_txn():
        post = _post(pid)
        WantedPost.update(state=WANTED_ACTIVE, hold_reason="", reason="").where(
            WantedPost.id == post.id).execute()
        _drop_keys(post.id)
        _add_keys(post)
        record(actor, "wanted.release", "wanted:%d" % post.id, "", post.state, WANTED_ACTIVE)
    return {"id": post.id}


def active_count():
    """Active want-to-buy posts on the board (dashboard)."""
    return _active(WantedPost.select(), utcnow()).where(WantedPost.hold_reason == "").count()


def report_context(target):
    """What a moderator sees beside a report of a post."""
    post = _post(post_id(target, "targetId"))
    return {"keywords": post.keywords, "place": post.place, "owner": post.openid}


def author(target):
    return _post(post_id(target, "targetId")).openid

