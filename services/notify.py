"""WeChat subscribe messages: one-time grants per template, a notice for chat kept offline (at
most one per conversation until the recipient opens it), and review / verification results.
Off unless notify.enabled."""
import collections
import logging

from peewee import IntegrityError

from models import db, utcnow
from models.trust import NotifyGrant, NotifySent
from models.user import User
from services import validate
from services.clock import display
from services.errors import Invalid
from services.wechat_api import WechatError

log = logging.getLogger("market.notify")
NO_GRANT, BAD_DATA = 43101, 47003


def add_grants(openid, template_ids):
    """Record the templates a user accepted in wx.requestSubscribeMessage (one use each)."""
    if not isinstance(template_ids, list) or not template_ids or len(template_ids) > 10:
        raise Invalid("templateIds must be a list of 1-10 template ids")
    for tid in template_ids:
        tid = validate.text(tid, "templateId", 64)
        with db.atomic():
            updated = NotifyGrant.update(remaining=NotifyGrant.remaining + 1, updated_at=utcnow()).where(
                NotifyGrant.openid == openid, NotifyGrant.template_id == tid).execute()
            if not updated:
                NotifyGrant.create(openid=openid, template_id=tid, remaining=1)
    return grants(openid)


def grants(openid):
    return {g.template_id: g.remaining for g in NotifyGrant.select().where(NotifyGrant.openid == openid)}


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
