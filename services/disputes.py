"""Disputes (申诉) about a confirmed hand-over: within trade.dispute_days of the confirmation the
buyer or the seller opens one (a reason, optional photos of their own chat uploads); both
ratings of the hand-over are held and the sale is not counted while it is open (models.dispute:
the profile queries in services/ratings leave them out), and the other party's inbox says so.
A moderator decides: upheld (the ratings the party at fault gave are removed, the sale stays
uncounted) or dismissed (everything shows again); audited, both inboxes told. One dispute per
hand-over, ever: a decision is final."""
import datetime
import re

from peewee import IntegrityError

from models import utcnow, write_txn
from models.admin import record
from models.chat import ChatMessage
from models.comment import Notice
from models.dispute import (DISPUTE_DISMISSED, DISPUTE_OPEN, DISPUTE_UPHELD, STATE_NAMES,
                            Dispute)
from models.goods import CHAT_IMAGE, Goods, Image
from models.rating import HANDOVER_CONFIRMED, HandOver, Rating
from models.user import User
from services import clock, images, validate
from errors import Conflict, Forbidden, Invalid, NotFound
from services.users import require_active

NOTICE_DISPUTE = 5  # the inbox type of dispute lines (/wx/lt/getNoticeInfo?type=5)
# what the inboxes say (stored data, shown as is; the opener's reason is for moderators only)
OPENED_TEXT = "对方对这笔交易发起了申诉，双方的评价暂不显示，管理员处理后会通知你。"
UPHELD_TEXT = "交易申诉已处理：申诉成立，责任方为%s，%s给出的评价已移除，这笔交易不计入成交。原因：%s"
DISMISSED_TEXT = "交易申诉已处理：申诉不成立，双方的评价恢复显示。原因：%s"
ROLE_NAMES = {"buyer": "买家", "seller": "卖家"}
ROLES = ("buyer", "seller")
DECISIONS = {"uphold": DISPUTE_UPHELD, "dismiss": DISPUTE_DISMISSED}
CHAT_WINDOW = datetime.timedelta(days=3)  # the chat moderators see: 3 days either side
CHAT_LIMIT = 300
PAGE_SIZE = 50
# a photo: a stored name, or a URL of ours that names one (.../wx/images/private/NAME?e=..&s=..)
_PHOTO = re.compile(r"^(?:(?:https?://[^/\s]+)?/wx/images/private/)?([0-9a-f]{32}\."
                    r"(?:jpg|png|webp|gif))(?:\?[^\s]*)?$")
PHOTO_TTL = 3600  # seconds a photo URL in an answer stays valid


def dispute_id(value, name="id"):
    return validate.integer(value, name, low=1, high=2 ** 31 - 1)


def reason_of(value, max_chars):
    """The opener's reason (required), or Invalid; checked before it goes to WeChat."""
    return validate.text(value, "reason", max_chars)


def photos_of(body, most):
    """The photos' stored names from the body's optional `photos` (absent: none), or Invalid.
    Whose they are is checked with the database (open)."""
    if "photos" not in body:
        return []
    photos = body["photos"]
    if isinstance(photos, list) and len(photos) > most:
        raise Invalid("at most %(max)d photos", max=most)
    if not isinstance(photos, list) or not all(isinstance(p, str) for p in photos):
        raise Invalid("photos must be a list of the picture URLs you uploaded")
    names = []
    for p in photos:
        found = _PHOTO.match(p.strip()) if len(p) <= 1000 else None
        if found is None:
            raise Invalid("photos must be a list of the picture URLs you uploaded")
        if found.group(1) not in names:
            names.append(found.group(1))
    return names


def _handover_of_party(openid, hid):
    found = HandOver.get_or_none(HandOver.id == hid)
    if found is None:
        raise NotFound("no such hand-over")
    if openid not in (found.seller, found.buyer):
        raise Forbidden("not your hand-over")
    return found


def _deadline(handover, days):
    return handover.confirmed_at + datetime.timedelta(days=days) if handover.confirmed_at else None


def open_dispute(opener, hid, reason, photos, days, hold_reason=""):
    """The buyer or the seller of a confirmed hand-over opens its dispute, within `days` of the
    confirmation; the other party's inbox gets a line in the same transaction. Returns
    {"id", "hid", "other", "goodsName"}."""
    require_active(opener)
    with write_txn():
        found = _handover_of_party(opener, hid)
        if found.state != HANDOVER_CONFIRMED:
            raise Forbidden("the buyer has not confirmed this hand-over yet")
        earlier = Dispute.get_or_none(Dispute.handover_id == found.id)
        if earlier is not None:
            raise Conflict("a dispute about this hand-over is already open"
                           if earlier.state == DISPUTE_OPEN else
                           "the dispute about this hand-over was already decided")
        if clock.now() > _deadline(found, days):
            raise Forbidden("disputes can be opened only within %(days)d days of the hand-over",
                            days=days)
        owned = {i.url for i in Image.select(Image.url).where(
            Image.url.in_(photos or [""]), Image.openid == opener, Image.flag == CHAT_IMAGE,
            Image.hidden == False)}  # noqa: E712
        if len(owned) != len(photos):
            raise Invalid("photos must be pictures you uploaded")
        role = "seller" if opener == found.seller else "buyer"
        try:
            with write_txn():  # a savepoint: the unique key decides between concurrent opens
                dispute = Dispute.create(handover_id=found.id, opener=opener, opener_role=role,
                                         reason=reason, photos=" ".join(photos),
                                         hold_reason=hold_reason[:255])
        except IntegrityError:
            raise Conflict("a dispute about this hand-over is already open")
        other = found.buyer if role == "seller" else found.seller
        Notice.create(openid=other, type=NOTICE_DISPUTE, actor_openid=opener, gid=found.gid,
                      obj_id=found.id, content=OPENED_TEXT)
    return {"id": dispute.id, "hid": found.id, "other": other, "goodsName": _goods_name(found.gid)}


def _goods_name(gid):
    goods = Goods.get_or_none(Goods.gid == gid)
    return goods.goods_name if goods else ""


def state_for_party(openid, hid, days, base, secret):
    """GET /wx/handover/dispute: the hand-over's dispute as one of its parties sees it, and
    whether they may open one now: {"hid", "canOpen", "deadline", "dispute": {...} or None}.
    The reason and photos are shown to the opener only."""
    found = _handover_of_party(openid, hid)
    dispute = Dispute.get_or_none(Dispute.handover_id == found.id)
    deadline = _deadline(found, days)
    can_open = (dispute is None and found.state == HANDOVER_CONFIRMED
                and clock.now() <= deadline)
    shown = None
    if dispute is not None:
        mine = dispute.opener == openid
        shown = {"id": dispute.id, "state": STATE_NAMES[dispute.state],
                 "openedBy": dispute.opener_role, "mine": mine,
                 "reason": dispute.reason if mine else "",
                 "photos": [images.private_url(base, secret, n, PHOTO_TTL)
                            for n in dispute.photos.split()] if mine else [],
                 "fault": dispute.fault, "decisionReason": dispute.decision_reason,
                 "createTime": clock.display(dispute.created_at),
                 "decideTime": clock.display(dispute.decided_at)}
    return {"hid": found.id, "canOpen": can_open, "deadline": clock.display(deadline),
            "dispute": shown}


def states_of(hids):
    """{hand-over id: "open" | "upheld" | "dismissed"} of those with a dispute."""
    return {d.handover_id: STATE_NAMES[d.state] for d in Dispute.select(
        Dispute.handover_id, Dispute.state).where(Dispute.handover_id.in_(list(hids) or [0]))}


# -- moderators ------------------------------------------------------------------------------
def decide(actor, did, decision, fault, reason):
    """A moderator upholds (naming the party at fault: "buyer" or "seller"; the ratings that
    party gave on this hand-over are removed) or dismisses an open dispute, with a reason;
    audited; both parties' inboxes told. Returns {"id", "state", "parties", "goodsName"}."""
    if decision not in DECISIONS:
        raise Invalid("choose uphold or dismiss")
    if decision == "uphold" and fault not in ROLES:
        raise Invalid("name the party at fault: the buyer or the seller")
    fault = fault if decision == "uphold" else ""
    reason = validate.text(reason, "reason", 500)
    with write_txn():
        dispute = _dispute(did)
        handover = HandOver.get(HandOver.id == dispute.handover_id)
        changed = Dispute.update(state=DECISIONS[decision], fault=fault, decided_by=actor,
                                 decision_reason=reason, decided_at=utcnow()).where(
            Dispute.id == dispute.id, Dispute.state == DISPUTE_OPEN).execute()
        if changed != 1:
            raise Conflict("this dispute was already decided")
        if decision == "uphold":
            at_fault = handover.seller if fault == "seller" else handover.buyer
            Rating.update(removed=True, removed_reason=("dispute %d: " % dispute.id + reason)[:500]
                          ).where(Rating.handover_id == handover.id,
                                  Rating.rater == at_fault).execute()
            text = UPHELD_TEXT % (ROLE_NAMES[fault], ROLE_NAMES[fault], reason)
        else:
            text = DISMISSED_TEXT % reason
        record(actor, "dispute." + decision, "dispute:%d" % dispute.id, reason, "open",
               STATE_NAMES[DECISIONS[decision]] + (":" + fault if fault else ""))
        parties = [handover.seller, handover.buyer]
        Notice.insert_many([{"openid": o, "type": NOTICE_DISPUTE, "actor_openid": "admin",
                             "gid": handover.gid, "obj_id": handover.id, "content": text}
                            for o in parties]).execute()
    return {"id": dispute.id, "state": STATE_NAMES[DECISIONS[decision]], "parties": parties,
            "goodsName": _goods_name(handover.gid)}


def _dispute(did):
    dispute = Dispute.get_or_none(Dispute.id == dispute_id(did))
    if dispute is None:
        raise NotFound("no such dispute")
    return dispute


def admin_list(status="open", page_num=0, size=PAGE_SIZE):
    """The queue: open disputes oldest first (the others newest first); {"items", "more",
    "open"}."""
    query = Dispute.select()
    if status == "open":
        query = query.where(Dispute.state == DISPUTE_OPEN).order_by(Dispute.id)
    elif status in ("upheld", "dismissed"):
        query = query.where(Dispute.state == {"upheld": DISPUTE_UPHELD,
                                              "dismissed": DISPUTE_DISMISSED}[status])
        query = query.order_by(Dispute.id.desc())
    elif status == "all":
        query = query.order_by(Dispute.id.desc())
    else:
        raise Invalid("status must be one of open, upheld, dismissed, all")
    rows = list(query.offset(page_num * size).limit(size + 1))
    handovers = {h.id: h for h in HandOver.select().where(
        HandOver.id.in_([d.handover_id for d in rows] or [0]))}
    names = User.names({o for h in handovers.values() for o in (h.seller, h.buyer)})
    goods = {g.gid: g.goods_name for g in Goods.select(Goods.gid, Goods.goods_name).where(
        Goods.gid.in_([h.gid for h in handovers.values()] or [0]))}
    items = [_brief(d, handovers[d.handover_id], names, goods) for d in rows[:size]]
    return {"items": items, "more": len(rows) > size,
            "open": Dispute.select().where(Dispute.state == DISPUTE_OPEN).count()}


def _brief(d, h, names, goods):
    def name(o):
        return names[o].wxname if o in names else ""
    return {"id": d.id, "hid": h.id, "gid": h.gid, "goodsName": goods.get(h.gid, ""),
            "seller": h.seller, "sellerName": name(h.seller), "buyer": h.buyer,
            "buyerName": name(h.buyer), "openedBy": d.opener_role, "reason": d.reason,
            "holdReason": d.hold_reason, "state": STATE_NAMES[d.state], "fault": d.fault,
            "decidedBy": d.decided_by, "decisionReason": d.decision_reason,
            "createTime": clock.display(d.created_at), "decideTime": clock.display(d.decided_at),
            "confirmTime": clock.display(h.confirmed_at),
            "handoverTime": clock.display(h.created_at)}


def admin_detail(did, secret):
    """One dispute for its page: the brief, the photos (signed same-host URLs), both ratings,
    and the pair's stored chat from 3 days before the hand-over was proposed to 3 days after
    it was confirmed (at most CHAT_LIMIT messages, oldest first)."""
    d = _dispute(did)
    h = HandOver.get(HandOver.id == d.handover_id)
    names = User.names([h.seller, h.buyer])
    brief = _brief(d, h, names, {h.gid: _goods_name(h.gid)})
    brief["photos"] = [images.private_url("", secret, n, PHOTO_TTL) for n in d.photos.split()]
    brief["ratings"] = [{"id": r.id, "rater": r.rater, "role": "seller" if r.rater == h.seller
                         else "buyer", "score": r.score, "text": r.text, "removed": r.removed,
                         "holdReason": r.hold_reason}
                        for r in Rating.select().where(Rating.handover_id == h.id)
                        .order_by(Rating.id)]
    start = h.created_at - CHAT_WINDOW
    end = (h.confirmed_at or h.created_at) + CHAT_WINDOW
    rows = list(ChatMessage.of_pair(h.seller, h.buyer).where(
        ChatMessage.send_time >= start, ChatMessage.send_time <= end)
        .order_by(ChatMessage.seq).limit(CHAT_LIMIT + 1))
    brief["chat"] = [{"seq": m.seq, "from": "seller" if m.from_openid == h.seller else "buyer",
                      "type": m.type, "content": m.content,
                      "image": images.private_url("", secret, m.content, PHOTO_TTL)
                      if m.type == "image" and images.NAME.match(m.content) else "",
                      "sendTime": clock.display(m.send_time)} for m in rows[:CHAT_LIMIT]]
    brief["chatMore"] = len(rows) > CHAT_LIMIT
    brief["chatFrom"], brief["chatTo"] = clock.display(start), clock.display(end)
    return brief


def brief_for_confirm(did):
    """What the confirmation page names: the dispute, the listing and the two parties."""
    d = _dispute(did)
    h = HandOver.get(HandOver.id == d.handover_id)
    names = User.names([h.seller, h.buyer])
    return _brief(d, h, names, {h.gid: _goods_name(h.gid)})
