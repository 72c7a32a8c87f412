"""Subscribe messages, the WeChat side (IOLoop): a notice for chat kept offline, review /
verification results and listings matching a want-to-buy post, each spending one grant
(services/subscriptions.py). Off unless notify.enabled."""
import collections
import logging

import tornado.locale

from models import utcnow
from services.clock import display
from errors import Phrase
from services.subscriptions import NO_GRANT, claim_chat_notice, drop_grant, use_grant
from wechat.client import WechatError

log = logging.getLogger("market.notify")
NO_NAME = Phrase("classmate")  # the sender's name when they have none


class Notifier:
    """Sends subscribe messages through WechatApi; counts sent / refused for metrics."""

    def __init__(self, config, wechat, run_db):
        self.config = config["notify"]
        self.locale = config["locale"]["default"]  # no request here: the configured language
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
        data = {"thing1": {"value": name[:20] or self.tr(NO_NAME)},
                "thing2": {"value": content[:20]},
                "time3": {"value": display(utcnow())[:16]}}
        return await self._send(to, template, self.config["chat_page"], data)

    async def result(self, openid, kind, title, outcome):
        """A listing reviewed (kind 'review') or a student ID checked ('verify')."""
        template = self.config["%s_template" % kind]
        if not self.enabled or not template or not await self.run_db(use_grant, openid, template):
            return False
        data = {"thing1": {"value": self.tr(title)[:20]},
                "phrase2": {"value": self.tr(outcome)[:5]},
                "time3": {"value": display(utcnow())[:16]}}
        return await self._send(openid, template, "pages/index/index", data)

    async def listing_reminder(self, openid, gid, title, expires):
        """"还在卖吗？": the owner's listing expires at `expires` unless renewed."""
        data = {"thing1": {"value": title[:20] or "商品"}, "thing2": {"value": "还在卖吗？点此续期"},
                "time3": {"value": expires[:16]}}
        return await self._granted(openid, "listing_template", gid, data)

    async def price_drop(self, openid, gid, title, old, new):
        """A listing in `openid`'s favourites got cheaper."""
        data = {"thing1": {"value": title[:20] or "商品"},
                "amount2": {"value": "¥%s" % new}, "amount3": {"value": "¥%s" % old}}
        return await self._granted(openid, "price_template", gid, data)

    async def _granted(self, openid, key, gid, data):
        """Send template `key` to `openid` if enabled, set and granted (one grant spent)."""
        template = self.config[key]
        if not self.enabled or not template or not await self.run_db(use_grant, openid, template):
            return False
        return await self._send(openid, template, "pages/index/index", data)

    def tr(self, text):
        """A Phrase (English source) in the configured language; other text (a listing's
        name) as it is."""
        if isinstance(text, Phrase):
            return tornado.locale.get(self.locale).translate(text)
        return text

    async def wanted_match(self, openid, keywords, goods_name):
        """A listing matching `openid`'s want-to-buy post was approved (services.wanted already
        keeps it to one a post a day); spends a grant of notify.wanted_template, if any."""
        template = self.config["wanted_template"]
        if not self.enabled or not template or not await self.run_db(use_grant, openid, template):
            return False
        data = {"thing1": {"value": keywords[:20]}, "thing2": {"value": goods_name[:20]},
                "time3": {"value": display(utcnow())[:16]}}
        return await self._send(openid, template, self.config["wanted_page"], data)

    async def dispute(self, openid, goods_name, outcome):
        """A dispute about `openid`'s hand-over was opened by the other party or decided
        (`outcome`: a Phrase of at most 5 Chinese characters); spends a grant of
        notify.dispute_template, if any."""
        template = self.config["dispute_template"]
        if not self.enabled or not template or not await self.run_db(use_grant, openid, template):
            return False
        data = {"thing1": {"value": goods_name[:20] or "商品"},
                "phrase2": {"value": self.tr(outcome)[:5]},
                "time3": {"value": display(utcnow())[:16]}}
        return await self._send(openid, template, self.config["dispute_page"], data)

    async def _send(self, openid, template, page, data):
        body = {"touser": openid, "template_id": template, "page": page, "data": data,
                "miniprogram_state": self.config["state"], "lang": self.locale}
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
