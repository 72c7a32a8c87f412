"""Subscriptions, the database side: the one-time grants per template a user accepted, spent one
per subscribe message, and the once-per-conversation rule for chat notices (until the recipient
opens the chat). wechat/subscribe_messages.py sends the messages."""
import collections

from peewee import Case, IntegrityError

from models import utcnow, write_txn
from models.subscription import NotifyGrant, NotifySent
from models.user import User
from services.users import require_user
from services import privacy, validate
from errors import Forbidden, Invalid

NO_GRANT, BAD_DATA = 43101, 47003  # WeChat errcodes: no grant left, bad template data


MAX_GRANTS = 20  # pending one-time grants kept per user and template (each allows one send)


def templates(notify_config):
    """The template ids this server sends (the only grants worth keeping)."""
    return {notify_config[k] for k in ("chat_template", "review_template", "verify_template",
                                          "listing_template", "price_template",
                                          "wanted_template", "dispute_template")
            if notify_config.get(k)}


def add_grants(openid, template_ids, known, cap=MAX_GRANTS):
    """Record the templates a user accepted in wx.requestSubscribeMessage (one send each, as
    WeChat counts them). Only templates in `known` are kept (others could never be used), at
    most `cap` pending per template; the answer lists only `known` templates, so it is bounded."""
    if not isinstance(template_ids, list) or not template_ids or len(template_ids) > 10:
        raise Invalid("templateIds must be a list of 1-10 template ids")
    accepted = collections.Counter(validate.text(t, "templateId", 64) for t in template_ids)
    require_user(openid)  # never grants for an account deleted meanwhile
    if privacy.withdrawn(openid):  # no consent, no subscribe messages
        raise Forbidden("you withdrew your consent to the privacy policy: agree to it again "
                        "to receive notices")
    for tid, n in accepted.items():
        if tid not in known:
            continue
        if not NotifyGrant.select().where(NotifyGrant.openid == openid,
                                          NotifyGrant.template_id == tid).exists():
            try:
                with write_txn():
                    NotifyGrant.create(openid=openid, template_id=tid, remaining=min(n, cap))
                continue
            except IntegrityError:  # a concurrent first grant: add to it below
                pass
        NotifyGrant.update(remaining=_capped(NotifyGrant.remaining + n, cap),
                           updated_at=utcnow()).where(
            NotifyGrant.openid == openid, NotifyGrant.template_id == tid).execute()
    return grants(openid, known)


def _capped(expression, cap):
    """min(expression, cap) in SQL on both databases."""
    return Case(None, [(expression > cap, cap)], expression)


def grants(openid, known=None):
    """{template: pending grants} of a user (only `known` templates, when given)."""
    query = NotifyGrant.select().where(NotifyGrant.openid == openid)
    if known is not None:
        query = query.where(NotifyGrant.template_id.in_(sorted(known) or [""]))
    return {g.template_id: g.remaining for g in query}


def use_grant(openid, template_id):
    """Spend one grant; False when none is left."""
    return NotifyGrant.update(remaining=NotifyGrant.remaining - 1).where(
        NotifyGrant.openid == openid, NotifyGrant.template_id == template_id,
        NotifyGrant.remaining > 0).execute() == 1


def claim_chat_notice(to, sender, template_id):
    """Decide (atomically) to notify `to` about `sender`: not yet notified, and a grant spent."""
    with write_txn():
        try:
            with write_txn():
                NotifySent.create(to_openid=to, from_openid=sender)
        except IntegrityError:
            return None  # already notified for this conversation
        if not use_grant(to, template_id):
            NotifySent.delete().where(NotifySent.to_openid == to,
                                      NotifySent.from_openid == sender).execute()
            return None
    user = User.by_openid(sender)
    return user.wxname if user else sender


def conversation_opened(to, sender):
    """The recipient opened the chat: the next stored message may notify again."""
    NotifySent.delete().where(NotifySent.to_openid == to, NotifySent.from_openid == sender).execute()


def drop_grant(openid, template_id):
    """WeChat says the user has no grant left for this template: forget ours."""
    NotifyGrant.update(remaining=0).where(NotifyGrant.openid == openid,
                                          NotifyGrant.template_id == template_id).execute()
