"""WeChat content security: msgSecCheck (v2) for text, mediaCheckAsync for images, and the signed
callback that decides an image. Off unless moderation.enabled; fail-closed when WeChat fails:
the item is held for a moderator, never published unchecked, never lost."""
import collections
import hashlib
import hmac
import logging

from models import db, utcnow
from models.comment import Comment, Reply
from models.goods import Goods, Image
from models.trust import MediaCheck
from models.user import User
from services import search
from services.errors import Forbidden, Invalid
from services.wechat_api import WechatError

log = logging.getLogger("market.moderation")
PASS, REVIEW, RISKY = "pass", "review", "risky"
AVATAR = 0  # MediaCheck.image_id of a profile picture (a URL, not an uploaded image)
SCENE_PROFILE, SCENE_COMMENT, SCENE_FORUM, SCENE_SOCIAL = 1, 2, 3, 4
RISKY_TEXT = "内容含有违规信息，请修改后再发布"
HELD_TEXT = "WeChat content check unavailable: held for a moderator"


class ContentSecurity:
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
        openid = await self.run_db(_first_admin_openid)
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


def _first_admin_openid():
    from models.admin import AdminOpenid
    row = AdminOpenid.select().order_by(AdminOpenid.id).first()
    return row.openid if row else None


def record_media_check(trace_id, image_id, gid, openid):
    MediaCheck.create(trace_id=trace_id, image_id=image_id, gid=gid, openid=openid)


def hold_image(image_id, gid, reason):
    """Hide an image and the listing it belongs to until a moderator decides."""
    with db.atomic():
        Image.update(hidden=True).where(Image.id == image_id).execute()
        if gid:
            Goods.update(hidden=True, hold_reason=reason[:255]).where(Goods.gid == gid).execute()
            search.remove(gid)


def apply_media_result(trace_id, suggest, label):
    """The callback's verdict; returns the check's new status (unknown trace ids: None)."""
    check = MediaCheck.get_or_none(MediaCheck.trace_id == trace_id)
    if check is None:
        return None
    status = suggest if suggest in (PASS, REVIEW, RISKY) else REVIEW
    with db.atomic():
        MediaCheck.update(status=status, label=label, decided_at=utcnow()).where(
            MediaCheck.id == check.id).execute()
        if status != PASS and check.image_id == AVATAR:
            User.update(head_img="").where(User.openid == check.openid).execute()
        elif status != PASS:
            hold_image(check.image_id, check.gid, "WeChat image check: %s (label %s)" % (status, label))
    return status


def release(gid=None, image_id=None, actor="admin", comment_id=None, reply_id=None):
    """A moderator's decision to show a held listing, image, comment or reply again (audited)."""
    from services.moderation import record
    target = ("goods:%s" % gid if gid else "image:%s" % image_id if image_id else
              "comment:%s" % comment_id if comment_id else "reply:%s" % reply_id)
    with db.atomic():
        record(actor, "held.release", target)
        if comment_id:
            Comment.update(hidden=False, hold_reason="").where(Comment.in_id == comment_id).execute()
        if reply_id:
            Reply.update(hidden=False, hold_reason="").where(Reply.rid == reply_id).execute()
        if image_id:
            Image.update(hidden=False).where(Image.id == image_id).execute()
        if gid:
            Goods.update(hidden=False, hold_reason="").where(Goods.gid == gid).execute()
            search.reindex(gid)


def held_count():
    """How many listings a content check holds (metrics, dashboard)."""
    return Goods.select().where((Goods.hold_reason != "") | (Goods.hidden == True),  # noqa: E712
                                Goods.deleted == False).count()  # noqa: E712


def held_items():
    """Held listings and hidden images for the moderators' queue."""
    goods = [{"gid": g.gid, "goodsName": g.goods_name, "openid": g.openid, "reason": g.hold_reason,
              "state": g.state, "hidden": g.hidden}
             for g in Goods.select().where((Goods.hold_reason != "") | (Goods.hidden == True))  # noqa: E712
             .where(Goods.deleted == False).order_by(Goods.gid.desc()).limit(200)]  # noqa: E712
    images = [{"id": i.id, "gid": i.gid, "url": i.url, "openid": i.openid}
              for i in Image.select().where(Image.hidden == True).order_by(Image.id.desc()).limit(200)]  # noqa: E712
    texts = [{"kind": "comment", "id": c.in_id, "gid": c.gid, "openid": c.from_openid,
              "content": c.content, "reason": c.hold_reason}
             for c in Comment.select().where(Comment.hold_reason != "", Comment.hidden == True)  # noqa: E712
             .order_by(Comment.in_id.desc()).limit(200)]
    texts += [{"kind": "reply", "id": r.rid, "gid": None, "openid": r.from_openid,
               "content": r.content, "reason": r.hold_reason}
              for r in Reply.select().where(Reply.hold_reason != "", Reply.hidden == True)  # noqa: E712
              .order_by(Reply.rid.desc()).limit(200)]
    return {"goods": goods, "images": images, "texts": texts}
