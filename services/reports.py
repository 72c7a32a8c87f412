"""User reports of a listing, a user, a comment, a chat message, a rating or a want-to-buy post; grouped for moderators, and
acted on (dismiss, take down, block) with every action in the audit log. What differs between
the kinds of target lives in one registry, services/report_targets.py."""
import datetime
import json

from peewee import fn

from models import utcnow, write_txn
from models.admin import record
from models.report import ACTIONED, DISMISSED, OPEN, Report
from models.user import User
from services import moderation, validate
from services.clock import display
from services.content_checks import held_count
from services.report_targets import TAKE_DOWN, TARGETS
from errors import Invalid, TooMany
from services.users import require_active

# TARGETS and TAKE_DOWN (the registry's) are what the admin pages' route and buttons are made of
ACTIONS = ("dismiss", "take_down", "block")


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
    context = TARGETS[kind].context(reporter, target, seq)
    return Report.create(reporter=reporter, target_type=kind, target_id=target, reason=reason,
                         context=json.dumps(context, ensure_ascii=False)).id


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
            if not TARGETS[kind].take_down:
                raise Invalid("users and chats can't be taken down: dismiss or block")
            TARGETS[kind].take_down(actor, target, reason)
        elif action == "block":
            blocked = TARGETS[kind].author(target)
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
    author = TARGETS[kind].author(target)
    user = User.by_openid(author)
    who = (user.wxname if user else "") or author
    name = TARGETS[kind].name
    return {"text": name(target), "meta": who} if name else {"text": who, "meta": author}
