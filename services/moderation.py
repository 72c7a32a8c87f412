"""Moderation: review and take down listings, verify / reject / block users; every change audited."""
from models import utcnow, write_txn
from models.admin import AdminAction, record
from models.comment import NOTICE_COMMENT, Notice
from models.goods import APPROVED, GOODS_PHOTO, PENDING, REJECTED, STUDENT_ID, Goods, Image
from models.user import BLOCKED, DELETED, UNVERIFIED, VERIFIED, User
from models.user import PENDING as USER_PENDING, REJECTED as USER_REJECTED
from search import index as search_index
from search import suggest
from services import blocks, clock, ip_region, ratings, validate, wanted
from services.clock import display
from errors import Invalid, NotFound

# userCheck / page actions -> the user state they set (unblock is worked out from the audit log)
USER_ACTIONS = {"verify": VERIFIED, "reject": USER_REJECTED, "block": BLOCKED, "unblock": None}
STATE_TO_ACTION = {VERIFIED: "verify", USER_REJECTED: "reject", BLOCKED: "block"}
REASON_CHARS = 500
BULK_MAX = 100  # listings one bulk review may name
# what the seller's inbox (/lt/getNoticeInfo, type 0) says when a moderator takes a listing down
TAKEN_DOWN = "你的商品已被管理员下架，原因：%s"


def _reason(value):
    return validate.text(value, "reason", REASON_CHARS, required=False)


def _goods(gid):
    gid = validate.integer(gid, "gid", low=1)
    goods = Goods.get_or_none(Goods.gid == gid)
    if goods is None:
        raise NotFound("no such listing")
    return goods


def review_goods(actor, gid, state, reason=None):
    """Approve (1) or reject (2) a listing; a rejection's reason is what /user/whyNot shows.

    A rejection needs a reason, from every entry point (the pages and /wx/admin/setState): the
    seller must be able to read why. The published client sends `reason` with a rejection and
    leaves it out only when approving (contract: "reason is optional" when approving), so
    refusing an empty one breaks no client; an approval's reason, if any, is only audited."""
    state = validate.choice(state, "state", (APPROVED, REJECTED))
    reason = _reason(reason)
    if state == REJECTED and not reason:
        raise Invalid("give the reason the seller will read")
    with write_txn():
        goods = _goods(gid)
        if goods.deleted:
            raise Invalid("this listing was deleted")
        kept = reason if state == REJECTED else ""
        fresh = {"touched_at": clock.now(), "reminded_at": None} if state == APPROVED else {}
        Goods.update(state=state, reason=kept, **fresh).where(  # an approval: a new expiry
            Goods.gid == goods.gid).execute()                    # period
        search_index.reindex(goods.gid)
        # want-to-buy posts it matches: inbox notices in this transaction (once a post a day)
        told = wanted.listing_public(goods.gid) if state == APPROVED else []
        record(actor, "goods.approve" if state == APPROVED else "goods.reject",
               "goods:%d" % goods.gid, reason, goods.state, state)
    return {"gid": goods.gid, "state": state, "openid": goods.openid,
            "goodsName": goods.goods_name, "wanted": told}


def set_goods_deleted(actor, gid, deleted, reason=None):
    """Take a listing down (soft delete: the row stays for comments and chats) or restore it.
    A take-down with a reason tells the seller in their inbox (the contract's place for it: a
    taken-down listing leaves getMyCheckSimGoods, so whyNot can't show it)."""
    reason = _reason(reason)
    with write_txn():
        goods = _goods(gid)
        Goods.update(deleted=bool(deleted)).where(Goods.gid == goods.gid).execute()
        search_index.reindex(goods.gid)
        record(actor, "goods.delete" if deleted else "goods.restore", "goods:%d" % goods.gid,
               reason, int(goods.deleted), int(bool(deleted)))
        if deleted and reason and not goods.deleted:
            Notice.create(openid=goods.openid, type=NOTICE_COMMENT, actor_openid="admin",
                          gid=goods.gid, content=TAKEN_DOWN % reason)
    return {"gid": goods.gid, "deleted": bool(deleted)}


def _state_before_block(openid):
    """The state a blocked user had before the latest block (0 if unknown)."""
    last = (AdminAction.select().where(AdminAction.action == "user.block",
                                       AdminAction.target == "user:" + openid)
            .order_by(AdminAction.id.desc()).first())
    try:
        before = int(last.old_value) if last else UNVERIFIED
    except ValueError:
        before = UNVERIFIED
    return UNVERIFIED if before == BLOCKED else before


def check_user(actor, openid, action, reason=None):
    """verify / reject / block / unblock a user with a reason the user reads via /admin/userIsOk.

    A blocked user's listings leave the public lists (Goods.public() skips blocked owners) and
    come back when the state changes again. Answers {"openid", "state", "old_state"}
    (actions/moderation.py closes a blocked user's sockets after the commit).
    """
    openid = validate.openid(openid)
    if action not in USER_ACTIONS:
        raise Invalid("action must be one of verify, reject, block, unblock")
    reason = _reason(reason)
    with write_txn():
        user = User.by_openid(openid)
        if user is None:
            raise NotFound("no such user")
        if user.state == DELETED:  # its owner deleted it: nothing left to verify or block
            raise Invalid("this account was deleted by its owner")
        if action == "unblock":
            state = _state_before_block(openid) if user.state == BLOCKED else user.state
        else:
            state = USER_ACTIONS[action]
        User.update(state=state, reason=reason, updated_at=utcnow()).where(
            User.id == user.id).execute()
        record(actor, "user." + action, "user:" + openid, reason, user.state, state)
        if (state == BLOCKED) != (user.state == BLOCKED):  # their titles leave or rejoin
            for goods in Goods.select(Goods.gid).where(Goods.openid == openid,
                                                       Goods.deleted == False):  # noqa: E712
                suggest.update(goods.gid)
    return {"openid": openid, "state": state, "old_state": user.state}


def check_user_by_state(actor, openid, state, reason=None):
    """/admin/userCheck: state 1 verify, 2 reject, 10 block (0 = unblock, for other clients)."""
    state = validate.choice(state, "state", (UNVERIFIED, VERIFIED, USER_REJECTED, BLOCKED))
    return check_user(actor, openid, STATE_TO_ACTION.get(state, "unblock"), reason)


# -- reads for the pages and the mini-program's admin calls -----------------------------------

def images_of(gids=(), openid=None, flag=GOODS_PHOTO):
    """{gid or openid: [Image row as dict]} for listings' photos or a user's student-ID photos."""
    query = Image.select().where(Image.flag == flag)
    if flag == GOODS_PHOTO:
        query = query.where(Image.gid.in_(list(gids) or [0]))
    else:
        query = query.where(Image.openid == openid)
    found = {}
    for image in query.order_by(Image.id):
        key = image.gid if flag == GOODS_PHOTO else image.openid
        found.setdefault(key, []).append({"id": image.id, "url": image.url, "thumb": image.thumb,
                                          "openid": image.openid, "flag": image.flag,
                                          "hidden": image.hidden})
    return found


def _money(value):
    """A price with two decimals (SQLite hands decimals back as floats)."""
    return "%.2f" % float(value or 0)


def goods_dict(goods, owner=None, photos=()):
    """A listing as the pages show it."""
    return {"gid": goods.gid, "openid": goods.openid, "goods_name": goods.goods_name,
            "goods_title": goods.goods_title, "goods_dec": goods.goods_dec,
            "price_new": _money(goods.goods_price_new), "price_old": _money(goods.goods_price_old),
            "xueyuan": goods.goods_xueyuan, "address": goods.goods_address,
            "state": goods.state, "reason": goods.reason, "deleted": goods.deleted,
            "hidden": goods.hidden, "hold_reason": goods.hold_reason,
            "issue_time": display(goods.issue_time),
            "open_sum": goods.open_sum, "owner_name": owner.wxname if owner else "",
            "owner_state": owner.state if owner else None, "photos": list(photos),
            "sale_state": goods.sale_state, "touched_at": goods.touched_at}


def search_goods(q="", state=None, deleted=None, page=0, size=30):
    """Listings for the pages: newest first, filtered by a word (name, title, gid, owner openid)."""
    query = Goods.select()
    q = validate.text(q, "q", 64, required=False)
    if q:
        cond = (Goods.goods_name.contains(q) | Goods.goods_title.contains(q)
                | (Goods.openid == q))
        gid = validate.strict_int(q)  # "²" is isdigit() but no number; past 2**63 no gid
        if gid is not None and 0 < gid <= validate.DB_INT_MAX:
            cond = cond | (Goods.gid == gid)
        query = query.where(cond)
    if state not in (None, ""):
        query = query.where(Goods.state == validate.choice(state, "state",
                                                           (PENDING, APPROVED, REJECTED)))
    if deleted is not None:
        query = query.where(Goods.deleted == bool(deleted))
    total = query.count()
    rows = list(query.order_by(Goods.gid.desc()).offset(page * size).limit(size + 1))
    owners = User.names(g.openid for g in rows)
    photos = images_of([g.gid for g in rows])
    items = [goods_dict(g, owners.get(g.openid), photos.get(g.gid, ())) for g in rows[:size]]
    return {"items": items, "more": len(rows) > size, "total": total, "size": size}


def pending_goods(page=0, size=20):
    """The review queue: pending listings, oldest first, with their photos."""
    query = Goods.live().where(Goods.state == PENDING)
    total = query.count()
    rows = list(query.order_by(Goods.gid).offset(page * size).limit(size + 1))
    owners = User.names(g.openid for g in rows)
    photos = images_of([g.gid for g in rows])
    items = [goods_dict(g, owners.get(g.openid), photos.get(g.gid, ())) for g in rows[:size]]
    return {"items": items, "more": len(rows) > size, "total": total, "size": size}


def briefs(gids):
    """[{gid, title, thumb, openid}] of listings named by a confirmation page, in gid order."""
    gids = sorted({validate.integer(g, "gid", low=1) for g in gids})[:BULK_MAX]
    photos = images_of(gids)
    return [{"gid": g.gid, "title": g.goods_title or g.goods_name, "name": g.goods_name,
             "openid": g.openid, "deleted": g.deleted,
             "thumb": (photos.get(g.gid) or [{}])[0].get("thumb") or
             (photos.get(g.gid) or [{}])[0].get("url")}
            for g in Goods.select().where(Goods.gid.in_(gids or [0])).order_by(Goods.gid)]


def user_dict(user):
    """A user as the pages show it (every field)."""
    return {"openid": user.openid, "wxname": user.wxname, "head_img": user.head_img,
            "sex": user.sex, "uname": user.uname, "qq": user.qq, "wx": user.wx,
            "school": user.school, "xuehao": user.xuehao, "uclass": user.uclass,
            "state": user.state, "reason": user.reason, "registered": user.registered,
            "created_at": display(user.created_at)}


def search_users(q="", state=None, page=0, size=50):
    """Users for the pages: pending verification first, then newest; filtered by a word."""
    query = User.select()
    q = validate.text(q, "q", 64, required=False)
    if q:
        query = query.where(User.openid.contains(q) | User.wxname.contains(q)
                            | User.uname.contains(q) | User.xuehao.contains(q))
    if state not in (None, ""):
        query = query.where(User.state == validate.integer(state, "state", low=0, high=99))
    order = (User.state != USER_PENDING, User.id.desc())
    total = query.count()
    rows = list(query.order_by(*order).offset(page * size).limit(size + 1))
    return {"items": [user_dict(u) for u in rows[:size]], "more": len(rows) > size,
            "total": total, "size": size}


def user_detail(openid):
    """One user with student-ID photos, listing counts and the audit lines about them."""
    user = User.by_openid(validate.openid(openid))
    if user is None:
        raise NotFound("no such user")
    info = user_dict(user)
    info["student_ids"] = images_of(openid=user.openid, flag=STUDENT_ID).get(user.openid, [])
    info["goods_count"] = Goods.select().where(Goods.openid == user.openid).count()
    # the raw address of the latest recorded request: admins only
    info.update(last_ip=user.last_ip, ip_region=user.ip_region,
                ip_seen_at=display(user.ip_seen_at))
    info["blocks"] = blocks.counts(user.openid)  # figures only, never who blocked whom
    info["history"] = [{"actor": a.actor, "action": a.action, "reason": a.reason,
                        "at": display(a.created_at)}
                       for a in AdminAction.select().where(AdminAction.target == "user:" + openid)
                       .order_by(AdminAction.id.desc()).limit(20)]
    return info


def all_users_simple(limit=2000):
    """/admin/getAllUserSimInfo rows: pending verification first, then newest (at most `limit`)."""
    rows = (User.select().where(User.state != DELETED)  # the published client knows no 20
            .order_by(User.state != USER_PENDING, User.id.desc()).limit(limit))
    return [{"openid": u.openid, "wxname": u.wxname, "headImg": u.head_img, "qq": u.qq,
             "wx": u.wx, "state": u.state} for u in rows]


def profile(openid, with_private):
    """/admin/getDeUserAndImage's uimage: public fields for anyone; contacts and student-ID
    photos (rows; the handler turns them into URLs) only when `with_private` (an admin)."""
    user = User.by_openid(validate.openid(openid))
    if user is None:
        raise NotFound("no such user")
    uimage = {"openid": user.openid, "headImg": user.head_img, "wxname": user.wxname,
              "uname": user.uname, "qq": "", "wx": "", "state": user.state, "image": [],
              "rating": ratings.summary(user.openid),  # additive: newer clients show it
              "ipRegion": ip_region.shown_user(user)}  # the latest request's region
    if with_private:
        uimage.update(qq=user.qq, wx=user.wx, lastIp=user.last_ip)  # the raw address: admins
        uimage["image"] = images_of(openid=user.openid, flag=STUDENT_ID).get(user.openid, [])
    return uimage

