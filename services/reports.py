"""User reports of a listing, a user, a comment, a chat message, a rating or a want-to-buy post; grouped for moderators, and
acted on (dismiss, take down, block) with every action in the audit log."""
import datetime
import json

from peewee import fn

from models import utcnow, write_txn
from models.admin import record
from models.chat import ChatMessage
from models.comment import NOTICE_COMMENT, Comment, Notice, Reply
from models.goods import Goods
from models.report import ACTIONED, DISMISSED, OPEN, Report
from models.user import User
from services import moderation, ratings, validate, wanted
from services.clock import display
from services.content_checks import held_count
from errors import Invalid, NotFound, Phrase, TooMany
from services.users import require_active

# The one registry of report targets: what can be reported, and which of them a moderator can
# take down (the others are dismissed or their author blocked). The admin pages' one route
# (/admin/reports/{target}/{id}/{action}) and the reports page's buttons are made from it.
TARGETS = ("goods", "user", "comment", "chat", "rating", "wanted")
TAKE_DOWN = ("goods", "comment", "rating", "wanted")
WHAT = {"goods": Phrase("listing"), "comment": Phrase("comment")}  # what "no such ..." names
ACTIONS = ("dismiss", "take_down", "block")
CONTEXT_MESSAGES = 10
# what the author's inbox (/lt/getNoticeInfo, type 0) says when a moderator removes a comment
COMMENT_REMOVED = "你的评论已被管理员删除，原因：%s"


def create(reporter, body, per_hour):
    """File a report; returns its id. The target must exist; a reporter can't flood the queue;
    a blocked user can't file one."""
    kind = body.get("targetType")
    if kind not in TARGETS:
        raise Invalid("%(field)s must be one of %(options)s", field=validate.label("targetType"),
                      options=", ".join(TARGETS))
    target = validate.text(body.get("targetId"), "targetId", 64)
    reason = validate.text(body.get("reason"), "reason", 500)
    since = utcnow() - datetime.timedelta(hours=1)
    if Report.select().where(Report.reporter == reporter, Report.created_at > since).count() >= per_hour:
        raise TooMany("too many reports, try again later")
    require_active(reporter)
    seq = body.get("seq")  # a chat report may name the message (its seq)
    if seq is not None:
        seq = validate.integer(seq, "seq", low=1)
    context = _context(reporter, kind, target, seq)
    return Report.create(reporter=reporter, target_type=kind, target_id=target, reason=reason,
                         context=json.dumps(context, ensure_ascii=False)).id


def _context(reporter, kind, target, seq=None):
    """What the moderator sees beside the report, checked against the database."""
    if kind == "goods":
        goods = Goods.get_or_none(Goods.gid == validate.integer(target, "targetId", low=1))
        if goods is None:
            raise NotFound("no such listing")
        return {"goodsName": goods.goods_name, "goodsTitle": goods.goods_title,
                "goodsDec": goods.goods_dec, "owner": goods.openid}
    if kind == "comment":
        comment = Comment.get_or_none(Comment.in_id == validate.integer(target, "targetId", low=1))
        if comment is None:
            raise NotFound("no such comment")
        return {"content": comment.content, "author": comment.from_openid, "gid": comment.gid}
    if kind == "rating":
        return ratings.report_context(target)
    if kind == "wanted":
        return wanted.report_context(target)
    user = User.by_openid(validate.openid(target, "targetId"))
    if user is None:
        raise NotFound("no such user")
    if kind == "user":
        return {"wxname": user.wxname, "state": user.state}
    return {"peer": user.openid, "messages": _chat_excerpt(reporter, user.openid, seq)}


def _chat_excerpt(reporter, peer, seq=None):
    """The stored messages of the reporter's own conversation with peer (issue 16): the last
    CONTEXT_MESSAGES, or those around `seq` when the report names a message of it. Only this
    pair's messages can be named, so a report shows no one else's conversation."""
    pair = ChatMessage.of_pair(reporter, peer)
    if not pair.exists():
        raise NotFound("no conversation with this user")
    if seq is not None:
        if not pair.where(ChatMessage.seq == seq).exists():
            raise NotFound("no such message in your conversation with this user")
        half = CONTEXT_MESSAGES // 2
        rows = (list(pair.where(ChatMessage.seq <= seq).order_by(ChatMessage.seq.desc())
                     .limit(half + 1))[::-1]
                + list(pair.where(ChatMessage.seq > seq).order_by(ChatMessage.seq).limit(half)))
    else:
        rows = list(pair.order_by(ChatMessage.seq.desc()).limit(CONTEXT_MESSAGES))[::-1]
    return {"stored": [{"seq": m.seq, "fromOpenid": m.from_openid, "type": m.type,
                        "content": m.content, "sendTime": display(m.send_time),
                        "reported": m.seq == seq,
                        "recalled": m.recalled_at is not None} for m in rows]}


def queue(status=OPEN, limit=100):
    """Reports grouped by target: count, reasons, context, first and last time."""
    groups = (Report.select(Report.target_type, Report.target_id, fn.COUNT(Report.id).alias("n"),
                            fn.MIN(Report.created_at).alias("first"),
                            fn.MAX(Report.id).alias("last_id"))
              .where(Report.status == status)
              .group_by(Report.target_type, Report.target_id)
              .order_by(fn.COUNT(Report.id).desc(), fn.MAX(Report.id).desc()).limit(limit))
    out = []
    for g in groups:
        rows = list(Report.select().where(Report.target_type == g.target_type,
                                          Report.target_id == g.target_id,
                                          Report.status == status).order_by(Report.id.desc()).limit(20))
        out.append({"targetType": g.target_type, "targetId": g.target_id, "count": g.n,
                    "first": display(g.first), "reasons": [r.reason for r in rows],
                    "reporters": sorted({r.reporter for r in rows}),
                    "context": json.loads(rows[0].context or "{}")})
    return out


def open_count():
    """Open reports (metrics)."""
    return Report.select().where(Report.status == OPEN).count()


def dashboard_figures():
    """The dashboard's trust line: open reports (targets and total) and held items."""
    targets = (Report.select(Report.target_type, Report.target_id).where(Report.status == OPEN)
               .group_by(Report.target_type, Report.target_id).count())
    return {"reports_open": open_count(), "report_targets": targets, "held": held_count()}


def act(actor, kind, target, action, reason=""):
    """Close every open report of a target: dismiss, take the content down, or block its author.
    Returns the openid to disconnect when a user was blocked (else None)."""
    if action not in ACTIONS or kind not in TARGETS:
        raise Invalid("unknown action or target")
    reason = validate.text(reason, "reason", 500, required=False)
    if action != "dismiss" and not reason:  # the author reads it (userIsOk, the inbox)
        raise Invalid("give the reason")
    blocked = None
    with write_txn():
        if action == "take_down":
            _take_down(actor, kind, target, reason)
        elif action == "block":
            blocked = _author(kind, target)
            moderation.check_user(actor, blocked, "block", reason)
        record(actor, "report." + action, "%s:%s" % (kind, target), reason)
        Report.update(status=DISMISSED if action == "dismiss" else ACTIONED, action=action,
                      handled_by=actor, handled_at=utcnow()).where(
            Report.target_type == kind, Report.target_id == target, Report.status == OPEN).execute()
    return blocked


def brief(kind, target):
    """{text, meta} naming a reported target on a confirmation page (whose author, what)."""
    if kind not in TARGETS:
        raise Invalid("unknown target")
    author = _author(kind, target)
    user = User.by_openid(author)
    who = (user.wxname if user else "") or author
    if kind == "goods":
        goods = Goods.get(Goods.gid == int(target))
        return {"text": "#%d %s" % (goods.gid, goods.goods_title or goods.goods_name), "meta": who}
    if kind == "comment":
        return {"text": Comment.get(Comment.in_id == int(target)).content[:80], "meta": who}
    return {"text": who, "meta": author}


def _take_down(actor, kind, target, reason):
    if kind == "goods":
        moderation.set_goods_deleted(actor, target, True, reason)
    elif kind == "comment":
        in_id = validate.integer(target, "targetId", low=1)  # the path allows any word
        comment = Comment.get_or_none(Comment.in_id == in_id)
        if comment is None:
            raise NotFound("no such comment")
        Comment.update(hidden=True).where(Comment.in_id == in_id).execute()
        Reply.update(hidden=True).where(Reply.comment_id == in_id).execute()
        Notice.create(openid=comment.from_openid, type=NOTICE_COMMENT, actor_openid="admin",
                      gid=comment.gid, obj_id=in_id, content=COMMENT_REMOVED % reason)
    elif kind == "rating":
        ratings.remove(actor, target, reason)
    elif kind == "wanted":
        wanted.take_down(actor, target, reason or "reported")
    else:  # not in TAKE_DOWN
        raise Invalid("users and chats can't be taken down: dismiss or block")


def _author(kind, target):
    """The openid behind a reported target; Invalid / NotFound (never a 500) for a bad one."""
    if kind == "goods":
        found = Goods.get_or_none(Goods.gid == validate.integer(target, "targetId", low=1))
    elif kind == "comment":
        found = Comment.get_or_none(Comment.in_id == validate.integer(target, "targetId", low=1))
    elif kind == "rating":
        return ratings.author(target)
    elif kind == "wanted":
        return wanted.author(target)
    else:
        return target
    if found is None:
        raise NotFound("no such %(what)s", what=WHAT[kind])
    return found.openid if kind == "goods" else found.from_openid
