"""Hand-overs and ratings: a seller marks a listing sold to a buyer they chatted with, the buyer
confirms, then each may rate the other once (1-5, an optional content-checked text). Profiles
show the average, the count and the completed sales; moderators remove reported ratings.

The hand-over is kept here (hand_over), apart from the listing's own sale state
(services/listings.py); each change of a hand-over sets the listing's sale state in the same
transaction (proposed: reserved; confirmed: sold), after every check that can refuse either, so
a refusal changes neither."""
import datetime

from peewee import IntegrityError, fn

from models import utcnow, write_txn
from models.account import UserBlock
from models.admin import record
from models.chat import ChatMessage
from models.dispute import DISPUTE_UPHELD, Dispute
from models.goods import Goods
from models.rating import HANDOVER_CONFIRMED, HANDOVER_PROPOSED, HandOver, Rating
from models.report import OPEN, Report
from models.user import User
from models.goods import RESERVED
from services import clock, listings, validate
from services.disputes import states_of
from errors import Conflict, Forbidden, Invalid, NotFound
from services.users import require_active, school_info

SCORES = (1, 2, 3, 4, 5)
MAX_LIST = 100


def handover_id(value, name="id"):
    return validate.integer(value, name, low=1, high=2 ** 31 - 1)


def rating_text(value, max_chars):
    """A rating's optional text, or Invalid (checked before it goes to WeChat's check)."""
    return validate.text(value, "text", max_chars, required=False)


def score_of(value):
    return validate.choice(value, "score", SCORES)


def _chatted(a, b):
    """True when a stored chat message between a and b exists (either direction)."""
    return ChatMessage.of_pair(a, b).exists()


def _handover_shape(h, viewer, goods=None, users=None, rated=(), disputes=None):
    users = users or {}
    other = h.buyer if viewer == h.seller else h.seller
    peer = users.get(other)
    return {"id": h.id, "gid": h.gid, "goodsName": goods.goods_name if goods else "",
            "seller": h.seller, "buyer": h.buyer, "role": "seller" if viewer == h.seller else "buyer",
            "peerName": peer.wxname if peer else "",
            "state": "confirmed" if h.state == HANDOVER_CONFIRMED else "proposed",
            "createTime": clock.display(h.created_at), "confirmTime": clock.display(h.confirmed_at),
            "canRate": h.state == HANDOVER_CONFIRMED and h.id not in rated,
            "dispute": (disputes or {}).get(h.id)}


# -- hand-overs ------------------------------------------------------------------------------
def mark_sold(seller, gid, buyer):
    """The seller marks their listing sold to `buyer`: only someone they exchanged a stored chat
    message with, never themself; while the buyer has not confirmed, marking again names
    another buyer. The listing is reserved (已预订) in the same transaction: it leaves the public
    lists and search at once. Returns {"id", "gid", "seller", "buyer"}."""
    require_active(seller)
    buyer = validate.openid(buyer, "buyer")
    if buyer == seller:
        raise Invalid("you can't sell to yourself")
    with write_txn():
        goods = Goods.get_or_none(Goods.gid == gid)
        if goods is None or goods.deleted:
            raise NotFound("no such listing")
        if goods.openid != seller:
            raise Forbidden("not your listing")
        if User.by_openid(buyer) is None:
            raise NotFound("no such user")
        if not _chatted(seller, buyer):
            raise Invalid("you have not chatted with this user")
        found = HandOver.get_or_none(HandOver.gid == gid)
        if found is not None and found.state == HANDOVER_CONFIRMED:
            raise Conflict("this listing was already handed over")
        listings.set_sale_state(gid, seller, RESERVED)  # refuses (a taken-down listing) first
        if found is None:
            try:
                with write_txn():  # a savepoint
                    found = HandOver.create(gid=gid, seller=seller, buyer=buyer)
            except IntegrityError:  # a concurrent mark of the same listing
                raise Conflict("this listing is being handed over, try again")
        else:
            HandOver.update(buyer=buyer, created_at=utcnow()).where(
                HandOver.id == found.id, HandOver.state == HANDOVER_PROPOSED).execute()
    return {"id": found.id, "gid": gid, "seller": seller, "buyer": buyer}


def confirm(buyer, hid):
    """The buyer confirms a hand-over proposed to them, and the listing is sold (已售出), in one
    transaction: a listing taken down meanwhile refuses the confirmation (NotFound) and
    nothing changes. {"id", "gid", "seller", "buyer", "newly"}. Confirming twice changes
    nothing (the answer is the same)."""
    require_active(buyer)
    with write_txn():
        found = HandOver.get_or_none(HandOver.id == hid)
        if found is None:
            raise NotFound("no such hand-over")
        if found.buyer != buyer:
            raise Forbidden("only the buyer confirms a hand-over")
        if found.state == HANDOVER_PROPOSED:
            listings.mark_sold(found.gid)  # refuses before the hand-over changes
        HandOver.update(state=HANDOVER_CONFIRMED, confirmed_at=utcnow()).where(
            HandOver.id == found.id, HandOver.state == HANDOVER_PROPOSED).execute()
    return {"id": found.id, "gid": found.gid, "seller": found.seller, "buyer": found.buyer,
            "newly": found.state == HANDOVER_PROPOSED}


def mine(openid):
    """The caller's hand-overs (as seller or buyer), newest first, with whether they may rate."""
    rows = list(HandOver.select().where((HandOver.seller == openid) | (HandOver.buyer == openid))
                .order_by(HandOver.id.desc()).limit(MAX_LIST))
    goods = {g.gid: g for g in Goods.select().where(Goods.gid.in_([h.gid for h in rows] or [0]))}
    users = User.names({h.seller for h in rows} | {h.buyer for h in rows})
    rated = {r.handover_id for r in Rating.select(Rating.handover_id).where(
        Rating.rater == openid, Rating.handover_id.in_([h.id for h in rows] or [0]))}
    disputes = states_of(h.id for h in rows)
    return [_handover_shape(h, openid, goods.get(h.gid), users, rated, disputes) for h in rows]


# -- ratings ---------------------------------------------------------------------------------
def rate(rater, hid, score, text, hold_reason=""):
    """Rate the other party of a confirmed hand-over, once; its id. A text held by a content
    check keeps the whole rating out of profiles until a moderator releases it."""
    require_active(rater)
    with write_txn():
        found = HandOver.get_or_none(HandOver.id == hid)
        if found is None:
            raise NotFound("no such hand-over")
        if rater not in (found.seller, found.buyer):
            raise Forbidden("not your hand-over")
        if found.state != HANDOVER_CONFIRMED:
            raise Forbidden("the buyer has not confirmed this hand-over yet")
        ratee = found.buyer if rater == found.seller else found.seller
        if Dispute.select().where(Dispute.handover_id == found.id, Dispute.state == DISPUTE_UPHELD,
                                  Dispute.fault == ("seller" if rater == found.seller
                                                    else "buyer")).exists():
            raise Forbidden("a dispute about this hand-over was decided against you")
        try:
            with write_txn():  # a savepoint
                rating = Rating.create(handover_id=found.id, rater=rater, ratee=ratee,
                                       score=score, text=text, hold_reason=hold_reason[:255])
        except IntegrityError:
            raise Conflict("you already rated this hand-over")
    return {"id": rating.id, "ratee": ratee, "held": bool(hold_reason)}


def _shown():
    """Ratings a profile shows: not removed, not held by a content check, not held by an open
    dispute about their hand-over (services/disputes.py)."""
    return ((Rating.removed == False) & (Rating.hold_reason == "")  # noqa: E712
            & Rating.handover_id.not_in(Dispute.held()))


def summary(openid):
    """{"average", "count", "sales"} of a user: ratings received (shown ones), completed sales."""
    row = (Rating.select(fn.AVG(Rating.score), fn.COUNT(Rating.id))
           .where(Rating.ratee == openid, _shown()).tuples().first())
    average, count = row if row else (None, 0)
    sales = HandOver.select().where(HandOver.seller == openid,
                                    HandOver.state == HANDOVER_CONFIRMED,
                                    HandOver.id.not_in(Dispute.uncounted())).count()
    return {"average": round(float(average), 2) if count else None, "count": count or 0,
            "sales": sales}


def received(openid, page_num, size, viewer=None):
    """The ratings a user received (shown ones; none written by someone `viewer` blocks, in the
    query), newest first; {"items", "more"}."""
    rows = list(Rating.select().where(Rating.ratee == openid, _shown(),
                                      UserBlock.not_blocked_by(viewer, Rating.rater))
                .order_by(Rating.id.desc()).offset(page_num * size).limit(size + 1))
    raters = User.names(r.rater for r in rows)
    items = [{"id": r.id, "score": r.score, "text": r.text, "rater": r.rater,
              "raterName": raters[r.rater].wxname if r.rater in raters else "",
              "createTime": clock.display(r.created_at)} for r in rows[:size]]
    return {"items": items, "more": len(rows) > size}


# -- moderators ------------------------------------------------------------------------------
def _rating(rid):
    rating = Rating.get_or_none(Rating.id == validate.integer(rid, "id", low=1, high=2 ** 31 - 1))
    if rating is None:
        raise NotFound("no such rating")
    return rating


def remove(actor, rid, reason=""):
    """A moderator removes a rating (out of every profile; audited)."""
    reason = validate.text(reason, "reason", 500, required=False)
    with write_txn():
        rating = _rating(rid)
        Rating.update(removed=True, removed_reason=reason).where(Rating.id == rating.id).execute()
        record(actor, "rating.remove", "rating:%d" % rating.id, reason, int(rating.removed), 1)
        Report.close_open("rating", rating.id, actor)
    return {"id": rating.id}


def release(actor, rid):
    """A moderator shows a rating held by a content check (or a removed one) again."""
    with write_txn():
        rating = _rating(rid)
        Rating.update(removed=False, removed_reason="", hold_reason="").where(
            Rating.id == rating.id).execute()
        record(actor, "rating.release", "rating:%d" % rating.id)
    return {"id": rating.id}


def admin_list(status="reported", page_num=0, size=50):
    """Ratings for the admin page: reported (open reports first), held, removed, or all."""
    open_reports = dict(Report.select(Report.target_id, fn.COUNT(Report.id))
                        .where(Report.target_type == "rating", Report.status == OPEN)
                        .group_by(Report.target_id).tuples())
    query = Rating.select()
    if status == "reported":
        ids = [n for n in map(validate.strict_int, open_reports) if n is not None]
        query = query.where(Rating.id.in_(ids or [0]))
    elif status == "held":
        query = query.where(Rating.hold_reason != "")
    elif status == "removed":
        query = query.where(Rating.removed == True)  # noqa: E712
    elif status != "all":
        raise Invalid("status must be one of reported, held, removed, all")
    rows = list(query.order_by(Rating.id.desc()).offset(page_num * size).limit(size + 1))
    names = User.names({r.rater for r in rows} | {r.ratee for r in rows})
    items = [{"id": r.id, "handoverId": r.handover_id, "rater": r.rater, "ratee": r.ratee,
              "raterName": names[r.rater].wxname if r.rater in names else "",
              "rateeName": names[r.ratee].wxname if r.ratee in names else "",
              "score": r.score, "text": r.text, "holdReason": r.hold_reason,
              "removed": r.removed, "removedReason": r.removed_reason,
              "reports": open_reports.get(str(r.id), 0),
              "createTime": clock.display(r.created_at)} for r in rows[:size]]
    return {"items": items, "more": len(rows) > size}


def sold_per_week(weeks=8, now=None):
    """Confirmed hand-overs per week (weeks ending now), oldest first: [{"from", "count"}]."""
    now = now or utcnow()
    start = now - datetime.timedelta(weeks=weeks)
    times = [h.confirmed_at for h in HandOver.select(HandOver.confirmed_at).where(
        HandOver.state == HANDOVER_CONFIRMED, HandOver.confirmed_at > start)]
    counts = [0] * weeks
    for t in times:
        counts[min(weeks - 1, int((t - start).total_seconds() // (7 * 86400)))] += 1
    return [{"from": clock.display(start + datetime.timedelta(weeks=i))[:10], "count": c}
            for i, c in enumerate(counts)]


def report_context(target):
    """What a moderator sees beside a report of a rating."""
    rating = _rating(target)
    return {"score": rating.score, "text": rating.text, "rater": rating.rater,
            "ratee": rating.ratee}


def author(target):
    return _rating(target).rater


def public_page(openid, page_num, size, viewer=None):
    """/wx/rating/list: a user's summary and a page of the ratings they received (the figures
    count every shown rating; the page leaves out raters `viewer` blocks)."""
    found = received(openid, page_num, size, viewer)
    return {"summary": summary(openid), "ratings": found["items"], "more": found["more"]}


def school_info_with_rating(openid):
    """/user/getUserDeInfo: the school details and (additive) the caller's rating summary."""
    return {"userDe": school_info(openid), "rating": summary(openid)}
