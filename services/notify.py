"""WeChat subscribe messages: one-time grants per template, a notice for chat kept offline (at
most one per conversation until the recipient opens it), and review / verification results.
Off unless notify.enabled."""
import collections
import logging

from peewee import Case, IntegrityError

from models import db, utcnow
from models.trust import NotifyGrant, NotifySent
from models.user import User
from services import validate
from services.clock import display
from services.errors import Invalid
from services.wechat_api import WechatError

log = logging.getLogger("market.notify")
NO_GRANT, BAD_DATA = 43101, 47003


MAX_GRANTS = 20  # pending one-time grants kept per user and template (each allows one send)


def templates(notify_config):
    """The template ids this server sends (the only grants worth keeping)."""
    return {notify_config[k] for k in ("chat_template", "review_template", "verify_template")
            if notify_config.get(k)}


def add_grants(openid, template_ids, known, cap=MAX_GRANTS):
    """Record the templates a user accepted in wx.requestSubscribeMessage (one send each, as
    WeChat counts them). Only templates in `known` are kept (others could never be used), at
    most `cap` pending per template; the answer lists only `known` templates, so it is bounded."""
    if not isinstance(template_ids, list) or not template_ids or len(template_ids) > 10:
        raise Invalid("templateIds must be a list of 1-10 template ids")
    accepted = collections.Counter(validate.text(t, "templateId", 64) for t in template_ids)
    for tid, n in accepted.items():
        if tid not in known:
            continue
        if not NotifyGrant.select().where(NotifyGrant.openid == openid,
                                          NotifyGrant.template_id == tid).exists():
            try:
                with db.atomic():
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


def _use_grant(openid, template_id):
    """Spend one grant; False when none is left."""
    return NotifyGrant.update(remaining=NotifyGrant.remaining - 1).where(
        NotifyGrant.openid == openid, NotifyGrant.template_id == template_id,
        NotifyGrant.remaining > 0).execute() == 1


def claim_chat_notice(to, sender, template_id):
    """Decide (atomically) to notify `to` about `sender`: not yet notified, and a grant spent."""
    with db.atomic():
        try:
            with db.atomic():
                NotifySent.create(to_openid=to, from_openid=sender)
        except IntegrityError:
            return None  # already notified for this conversation
        if not _use_grant(to, template_id):
            NotifySent.delete().where(NotifySent.to_openid == to,
                                      NotifySent.from_openid == sender).execute()
            return None
    user = User.by_openid(sender)
    return user.wxname if user else sender


def conversation_opened(to, sender):
    """The recipient opened the chat: the next stored message may notify again."""
    NotifySent.delete().where(NotifySent.to_openid == to, NotifySent.from_openid == sender).execute()


def drop_grant(openid, template_id):
    NotifyGrant.update(remaining=0).where(NotifyGrant.openid == openid,
                                          NotifyGrant.template_id == template_id).execute()


class Notifier:
    """Sends subscribe messages through WechatApi; counts sent / refused for metrics."""

    def __init__(self, config, wechat, run_db):
        self.config = config["notify"]
        self.enabled = self.config["enabled"]
        self.wechat = wechat
        self.run_db = run_db
        self.counts = collections.Counter()

    async def chat_stored(self, to, sender, content):
        """A message was kept for offline `to`: notify once per conversation, if granted."""
        template = self.config["chat_template"]
        if not self.enabled or not template:
            return False
        name = await self.run_db(claim_chat_notice, to, sender, template)
        if name is None:
            return False
        data = {"thing1": {"value": name[:20] or "同学"}, "thing2": {"value": content[:20]},
                "time3": {"value": display(utcnow())[:16]}}
        return await self._send(to, template, self.config["chat_page"], data)

    async def result(self, openid, kind, title, outcome):
        """A listing reviewed (kind 'review') or a student ID checked ('verify')."""
        template = self.config["%s_template" % kind]
        if not self.enabled or not template or not await self.run_db(_use_grant, openid, template):
            return False
        data = {"thing1": {"value": title[:20]}, "phrase2": {"value": outcome[:5]},
                "time3": {"value": display(utcnow())[:16]}}
        return await self._send(openid, template, "pages/index/index", data)

    async def _send(self, openid, template, page, data):
        body = {"touser": openid, "template_id": template, "page": page, "data": data,
                "miniprogram_state": self.config["state"], "lang": "zh_CN"}
        try:
            answer = await self.wechat.call("/cgi-bin/message/subscribe/send", body)
        except WechatError as e:
            log.warning("subscribe message failed: %s", e.msg)
            self.counts["failed"] += 1
            return False
        code = answer.get("errcode") or 0
        if code == 0:
            self.counts["sent"] += 1
            return True
        self.counts["refused"] += 1
        log.info("subscribe message refused: errcode %s", code)
        if code == NO_GRANT:
            await self.run_db(drop_grant, openid, template)
        return False
