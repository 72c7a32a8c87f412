"""Content checks, the database side: what a WeChat verdict holds or releases, the held queue.

wechat/content_check.py asks WeChat (msgSecCheck for text, mediaCheckAsync for images) and
calls these on the database executor; fail-closed: when WeChat fails the item is held for a
moderator, never published unchecked, never lost."""

from models import utcnow, write_txn
from models.admin import AdminOpenid, record
from models.comment import Comment, Reply
from models.goods import Goods, Image
from models.wechat import MediaCheck
from models.user import User
from search import index as search_index
from services import wanted
PASS, REVIEW, RISKY = "pass", "review", "risky"
AVATAR = 0  # MediaCheck.image_id of a profile picture (a URL, not an uploaded image)
SCENE_PROFILE, SCENE_COMMENT, SCENE_FORUM, SCENE_SOCIAL = 1, 2, 3, 4
# the Chinese (内容含有违规信息，请修改后再发布) is fixed (docs/trust.md): locale/zh_CN.csv holds it
RISKY_TEXT = "the content breaks the rules: change it and publish again"
HELD_TEXT = "WeChat content check unavailable: held for a moderator"


def first_admin_openid():
    """The openid WeChat checks announcements on behalf of (the first registered admin openid)."""
    row = AdminOpenid.select().order_by(AdminOpenid.id).first()
    return row.openid if row else None


def record_media_check(trace_id, image_id, gid, openid):
    """An image sent to mediaCheckAsync, waiting for its callback."""
    MediaCheck.create(trace_id=trace_id, image_id=image_id, gid=gid, openid=openid)


def hold_image(image_id, gid, reason):
    """Hide an image and the listing it belongs to until a moderator decides."""
    with write_txn():
        Image.update(hidden=True).where(Image.id == image_id).execute()
        if gid:
            Goods.update(hidden=True, hold_reason=reason[:255]).where(Goods.gid == gid).execute()
            search_index.remove(gid)


def apply_media_result(trace_id, suggest, label):
    """The callback's verdict; returns the check's new status (unknown trace ids: None)."""
    check = MediaCheck.get_or_none(MediaCheck.trace_id == trace_id)
    if check is None:
        return None
    status = suggest if suggest in (PASS, REVIEW, RISKY) else REVIEW
    with write_txn():
        MediaCheck.update(status=status, label=label, decided_at=utcnow()).where(
            MediaCheck.id == check.id).execute()
        if status != PASS and check.image_id == AVATAR:
            User.update(head_img="").where(User.openid == check.openid).execute()
        elif status != PASS:
            hold_image(check.image_id, check.gid, "WeChat image check: %s (label %s)" % (status, label))
    return status


def release(gid=None, image_id=None, actor="admin", comment_id=None, reply_id=None):
    """A moderator's decision to show a held listing, image, comment or reply again (audited).
    Returns the want-to-buy matches of a listing this made public (services.wanted)."""
    target = ("goods:%s" % gid if gid else "image:%s" % image_id if image_id else
              "comment:%s" % comment_id if comment_id else "reply:%s" % reply_id)
    with write_txn():
        record(actor, "held.release", target)
        if comment_id:
            Comment.update(hidden=False, hold_reason="").where(Comment.in_id == comment_id).execute()
        if reply_id:
            Reply.update(hidden=False, hold_reason="").where(Reply.rid == reply_id).execute()
        if image_id:
            Image.update(hidden=False).where(Image.id == image_id).execute()
        if gid:
            Goods.update(hidden=False, hold_reason="").where(Goods.gid == gid).execute()
            search_index.reindex(gid)
            return wanted.listing_public(gid)
    return []


def held_count():
    """How many listings a content check holds (metrics, dashboard)."""
    return Goods.live().where((Goods.hold_reason != "") | (Goods.hidden == True)).count()  # noqa: E712


def held_items():
    """Held listings and hidden images for the moderators' queue."""
    goods = [{"gid": g.gid, "goodsName": g.goods_name, "openid": g.openid, "reason": g.hold_reason,
              "state": g.state, "hidden": g.hidden}
             for g in Goods.live().where((Goods.hold_reason != "") | (Goods.hidden == True))  # noqa: E712
             .order_by(Goods.gid.desc()).limit(200)]
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
