"""Content checks, the WeChat side (IOLoop): msgSecCheck (v2) for text, mediaCheckAsync for
images, and the signature of the callback that decides an image. Off unless
moderation.enabled; the database side (holds, releases, the held queue) is
services/content_checks.py."""
import collections
import hashlib
import hmac
import logging

from services.content_checks import (AVATAR, HELD_TEXT, PASS, REVIEW, RISKY, RISKY_TEXT,
                                     SCENE_FORUM, first_admin_openid, hold_image,
                                     record_media_check)
from services.errors import Forbidden, Invalid
from wechat.client import WechatError

log = logging.getLogger("market.moderation")


class ContentCheck:
    """Checks text and images when moderation.enabled; counts results for metrics."""

    def __init__(self, config, wechat, run_db):
        self.enabled = config["moderation"]["enabled"]
        self.chat_enabled = self.enabled and config["moderation"]["chat"]
        self.callback_token = config["moderation"]["callback_token"]
        self.wechat = wechat
        self.run_db = run_db
        self.counts = collections.Counter()  # (kind, result)

    async def check_text(self, openid, scene, *texts):
        """(verdict, note): pass / review (held, with the reason) / risky (to refuse)."""
        content = "\n".join(t for t in texts if t)
        if not self.enabled or not content:
            return PASS, ""
        try:
            answer = await self.wechat.call("/wxa/msg_sec_check", {
                "content": content, "version": 2, "scene": scene, "openid": openid})
        except WechatError as e:
            log.warning("msgSecCheck failed (%s): holding for a moderator", e.msg)
            self.counts[("text", "error")] += 1
            return REVIEW, HELD_TEXT
        suggest = (answer.get("result") or {}).get("suggest") if not answer.get("errcode") else None
        if suggest not in (PASS, REVIEW, RISKY):
            log.warning("msgSecCheck answered errcode %s: holding", answer.get("errcode"))
            self.counts[("text", "error")] += 1
            return REVIEW, HELD_TEXT
        self.counts[("text", suggest)] += 1
        label = (answer.get("result") or {}).get("label")
        return suggest, "" if suggest == PASS else "WeChat content check: %s (label %s)" % (suggest, label)

    async def require_text(self, openid, scene, *texts):
        """The note to hold with ('' to publish); raises Invalid for risky text."""
        verdict, note = await self.check_text(openid, scene, *texts)
        if verdict == RISKY:
            raise Invalid(RISKY_TEXT)
        return note

    async def require_announcement(self, text):
        """Announcements (scene 3): WeChat checks text on behalf of a user's openid, so the first
        registered admin openid is used; with none registered they are not checked."""
        if not self.enabled or not text:
            return
        openid = await self.run_db(first_admin_openid)
        if openid:
            verdict, _ = await self.check_text(openid, SCENE_FORUM, text)
            if verdict != PASS:  # nobody reviews the moderators: hold means refuse here
                raise Invalid(RISKY_TEXT if verdict == RISKY else
                              "the content check could not pass this text; try again or rephrase")

    async def submit_image(self, image_id, gid, openid, url, scene=SCENE_FORUM):
        """Send an image to mediaCheckAsync; when WeChat fails the image is hidden (held)."""
        if not self.enabled:
            return None
        try:
            answer = await self.wechat.call("/wxa/media_check_async", {
                "media_url": url, "media_type": 2, "version": 2, "scene": scene, "openid": openid})
            trace_id = answer.get("trace_id") if not answer.get("errcode") else None
        except WechatError as e:
            log.warning("mediaCheckAsync failed (%s)", e.msg)
            trace_id = None
        if not trace_id:
            self.counts[("image", "error")] += 1
            if image_id != AVATAR:  # an unchecked avatar stays (WeChat's own profile picture)
                await self.run_db(hold_image, image_id, gid, HELD_TEXT)
            return None
        self.counts[("image", "submitted")] += 1
        await self.run_db(record_media_check, trace_id, image_id, gid, openid)
        return trace_id

    def verify_signature(self, signature, timestamp, nonce):
        """WeChat's push signature: sha1 of the sorted token, timestamp and nonce."""
        if not self.callback_token or not (signature and timestamp and nonce):
            raise Forbidden("bad signature")
        expected = hashlib.sha1("".join(sorted([self.callback_token, timestamp, nonce]))
                                .encode()).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature.encode()):  # str: ASCII only
            raise Forbidden("bad signature")
