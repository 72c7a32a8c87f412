"""Content checks, the WeChat side (IOLoop): msgSecCheck (v2) for text, mediaCheckAsync for
images, and the signature of the callback that decides an image. Off unless
moderation.enabled; the database side (holds, releases, the held queue) is
services/content_checks.py."""
import collections
import hashlib
import hmac
import logging
import time

from services.content_checks import (AVATAR, HELD_TEXT, PASS, REVIEW, RISKY, RISKY_TEXT,
                                     SCENE_FORUM, first_admin_openid, hold_image,
                                     record_media_check)
from services import word_filter
from errors import Forbidden, Invalid
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
        self.words_enabled = config["moderation"]["words"]
        self.fail_closed = config["moderation"]["fail_closed"]
        self.words_check_seconds = config["moderation"]["words_check_seconds"]
        self.matcher = word_filter.Matcher(())  # built from the database on first use
        self.matcher_checked = None  # time.monotonic() of the last version comparison

    async def words_matcher(self):
        """This process's automaton, rebuilt (on a database thread) when the list's version in
        the database is not the one it was built from; compared at most every few seconds."""
        now = time.monotonic()
        if self.matcher_checked is None or now - self.matcher_checked >= self.words_check_seconds:
            self.matcher_checked = now
            await self.reload_words()
        return self.matcher

    async def reload_words(self):
        """Rebuild the automaton now if the list changed (after an edit in this process)."""
        fresh = await self.run_db(word_filter.refresh, self.matcher.version)
        if fresh is not None:
            self.matcher = fresh
            log.info("word filter: %d words (list version %s)", fresh.size, fresh.version)

    async def check_words(self, content, failed):
        """The local filter's verdict: a word found holds the text like WeChat's `review`; none
        passes it, unless WeChat `failed` and moderation.fail_closed holds everything."""
        if self.words_enabled:
            found = (await self.words_matcher()).find(content)
            if found:
                self.counts[("text", "words")] += 1
                return REVIEW, word_filter.HELD_NOTE % ", ".join(found)
        if failed and self.fail_closed:
            return REVIEW, HELD_TEXT
        return PASS, ""

    async def check_text(self, openid, scene, *texts):
        """(verdict, note): pass / review (held, with the reason) / risky (to refuse). Without
        WeChat's answer (off, failing, slow, over quota) the local word filter decides."""
        content = "\n".join(t for t in texts if t)
        if not content:
            return PASS, ""
        if not self.enabled:
            return await self.check_words(content, failed=False)
        try:
            answer = await self.wechat.call("/wxa/msg_sec_check", {
                "content": content, "version": 2, "scene": scene, "openid": openid})
        except WechatError as e:
            log.warning("msgSecCheck failed (%s): the local word filter decides", e.msg)
            self.counts[("text", "error")] += 1
            return await self.check_words(content, failed=True)
        suggest = (answer.get("result") or {}).get("suggest") if not answer.get("errcode") else None
        if suggest not in (PASS, REVIEW, RISKY):
            log.warning("msgSecCheck answered errcode %s: the local word filter decides",
                        answer.get("errcode"))
            self.counts[("text", "error")] += 1
            return await self.check_words(content, failed=True)
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
