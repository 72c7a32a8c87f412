"""Two-level comments on listings and likes on main comments, feeding the notice inbox."""
import json

from peewee import IntegrityError, fn

from models.account import UserBlock
from models.comment import NOTICE_COMMENT, NOTICE_LIKE, Comment, Liked, Notice, Reply
from models.user import User
from services import clock, ip_region, validate
from errors import Invalid, NotFound
from models import write_txn
from services.goods import gid_of, visible
from services.users import require_active

MAX_CONTENT = 500
REPLY_PREVIEW = 3  # replies shown under each main comment in getAllComments
LIKE_COMMENT = 1   # Liked.type of a main comment
# what the author's inbox (/lt/getNoticeInfo, type 0) says when a moderator removes a comment
REMOVED = "你的评论已被管理员删除，原因：%s"


def comment_id(value, name="inId"):
    """A comment id from a client value, or Invalid."""
    return validate.integer(value, name, low=1, high=2 ** 31 - 1)


def _get_comment(in_id, viewer=None):
    comment = Comment.get_or_none(Comment.in_id == in_id, Comment.hidden == False,  # noqa: E712
                                  UserBlock.not_blocked_by(viewer, Comment.from_openid))
    if comment is None:
        raise NotFound("no such comment")
    return comment


def _notify(openid, kind, actor, gid, obj_id, content):
    """One inbox line for `openid`, never for the actor themself nor from someone `openid`
    blocks."""
    if openid and openid != actor and not UserBlock.select().where(
            UserBlock.blocker == openid, UserBlock.blocked == actor).exists():
        Notice.create(openid=openid, type=kind, actor_openid=actor, gid=gid, obj_id=obj_id,
                      content=content[:200])


def take_down(comment, reason):
    """A moderator hides a comment and its replies (in the caller's transaction); its author's
    inbox reads the reason."""
    Comment.update(hidden=True).where(Comment.in_id == comment.in_id).execute()
    Reply.update(hidden=True).where(Reply.comment_id == comment.in_id).execute()
    Notice.create(openid=comment.from_openid, type=NOTICE_COMMENT, actor_openid="admin",
                  gid=comment.gid, obj_id=comment.in_id, content=REMOVED % reason)


# -- shapes -------------------------------------------------------------------------------
def _reply_shape(r, users):
    author, target = users.get(r.from_openid), users.get(r.to_openid)
    return {"rid": r.rid, "commentId": r.comment_id, "fromOpenid": r.from_openid,
            "fromName": author.wxname if author else "",
            "fromAvatar": author.head_img if author else "",
            "toOpenid": r.to_openid, "toName": target.wxname if target else "",
            "content": r.content, "createTime": clock.display(r.create_time),
            "userState": author.state if author else 0,
            "ipRegion": ip_region.shown_user(author)}


def _shape(comments, viewer, all_replies=False):
    """Main comments with likes, the viewer's like state, reply counts and (some) replies (none
    written by someone the viewer blocks)."""
    ids = [c.in_id for c in comments]
    likes, mine, sums, replies = {}, set(), {}, {}
    if ids:
        for row in (Liked.select(Liked.obj_id, fn.COUNT(Liked.id).alias("n"))
                    .where(Liked.obj_id.in_(ids), Liked.type == LIKE_COMMENT)
                    .group_by(Liked.obj_id)):
            likes[row.obj_id] = row.n
        if viewer:
            mine = {r.obj_id for r in Liked.select(Liked.obj_id).where(
                Liked.obj_id.in_(ids), Liked.type == LIKE_COMMENT, Liked.openid == viewer)}
        for r in (Reply.select().where(Reply.comment_id.in_(ids), Reply.hidden == False,  # noqa
                                       UserBlock.not_blocked_by(viewer, Reply.from_openid))
                  .order_by(Reply.rid.desc())):
            sums[r.comment_id] = sums.get(r.comment_id, 0) + 1
            if all_replies or len(replies.get(r.comment_id, [])) < REPLY_PREVIEW:
                replies.setdefault(r.comment_id, []).append(r)
    openids = {c.from_openid for c in comments}
    for rs in replies.values():
        openids.update(x for r in rs for x in (r.from_openid, r.to_openid))
    users = User.names(openids)
    shaped = []
    for c in comments:
        author = users.get(c.from_openid)
        name = author.wxname if author else ""
        shaped.append({
            "inId": c.in_id, "gid": c.gid, "fromOpenid": c.from_openid, "fromName": name,
            "formName": name, "fromAvatar": author.head_img if author else "",
            "content": c.content, "createTime": clock.display(c.create_time),
            "likeNum": likes.get(c.in_id, 0), "likeState": 1 if c.in_id in mine else 0,
            "sonSums": sums.get(c.in_id, 0), "userState": author.state if author else 0,
            "ipRegion": ip_region.shown_user(author),
            "commentsReplies": [_reply_shape(r, users) for r in replies.get(c.in_id, [])]})
    return shaped


# -- reads -----------------------------------------------------------------------------------
def all_comments(gid, viewer, admin=False):
    """/pl/getAllComments: the listing's main comments, newest first, with a few replies each;
    nothing written by someone the viewer blocks."""
    visible(gid, viewer, admin)
    comments = list(Comment.select().where(Comment.gid == gid, Comment.hidden == False,  # noqa
                                           UserBlock.not_blocked_by(viewer, Comment.from_openid))
                    .order_by(Comment.in_id.desc()))
    return _shape(comments, viewer)


def main_with_replies(in_id, viewer, admin=False):
    """/pl/getMainAllSonCom: one main comment with all its replies, newest first (only while its
    listing is visible to this viewer, as getAllComments; NotFound when the viewer blocks its
    author)."""
    comment = _get_comment(in_id, viewer)
    visible(comment.gid, viewer, admin)
    return _shape([comment], viewer, all_replies=True)[0]


# -- writes ----------------------------------------------------------------------------------
def parse_info(info):
    """The `info` of addMainComments: a JSON string (or an object) of {goodId, fromOpenid, content}."""
    if isinstance(info, str):
        try:
            info = json.loads(info)
        except (ValueError, RecursionError):  # deep nesting raises RecursionError
            raise Invalid("info is not valid JSON")
    if not isinstance(info, dict):
        raise Invalid("info must be a JSON object")
    return validate.no_lone_surrogate(info, "info")  # the outer body was checked, not this


def comment_text(value):
    """A comment's or reply's text, or Invalid (checked before it goes to WeChat's check)."""
    return validate.text(value, "content", MAX_CONTENT)


def add_main(openid, info, hold_reason=""):
    """/pl/addMainComments: a comment on a listing the caller can see; notifies the seller.
    A `hold_reason` (from a content check) keeps it hidden until a moderator decides."""
    hidden = bool(hold_reason)
    require_active(openid)
    gid = gid_of(info.get("goodId"), "goodId")
    content = validate.text(info.get("content"), "content", MAX_CONTENT)
    goods = visible(gid, openid)
    with write_txn():
        comment = Comment.create(gid=gid, from_openid=openid, content=content, hidden=hidden,
                                 hold_reason=hold_reason[:255])
        if not hidden:
            _notify(goods.openid, NOTICE_COMMENT, openid, gid, comment.in_id, content)
    return _shape([comment], openid)[0]


def add_reply(openid, body, hold_reason=""):
    """/pl/addSonCommments: a reply to someone in a comment's thread; notifies them
    (a `hold_reason` from a content check keeps it hidden)."""
    hidden = bool(hold_reason)
    require_active(openid)
    in_id = comment_id(body.get("commentId"), "commentId")
    content = validate.text(body.get("content"), "content", MAX_CONTENT)
    comment = _get_comment(in_id)
    visible(comment.gid, openid)
    to_openid = validate.openid(body.get("toOpenid"), "toOpenid", required=False)
    to_openid = to_openid or comment.from_openid
    in_thread = to_openid == comment.from_openid or Reply.select().where(
        Reply.comment_id == in_id, Reply.from_openid == to_openid).exists()
    if not in_thread:
        raise Invalid("toOpenid is not part of this conversation")
    with write_txn():
        reply = Reply.create(comment_id=in_id, from_openid=openid, to_openid=to_openid,
                             content=content, hidden=hidden, hold_reason=hold_reason[:255])
        if not hidden:
            _notify(to_openid, NOTICE_COMMENT, openid, comment.gid, in_id, content)
    return _reply_shape(reply, User.names([openid, to_openid]))


def like_count(in_id):
    """How many users like this comment."""
    return Liked.select().where(Liked.obj_id == in_id, Liked.type == LIKE_COMMENT).count()


def like(openid, in_id):
    """/liked/like: idempotent (the unique key decides); notifies the author once; the count."""
    require_active(openid)
    comment = _get_comment(in_id)
    visible(comment.gid, openid)  # no likes (and notices) through a hidden listing
    try:
        with write_txn():
            Liked.create(openid=openid, obj_id=in_id, type=LIKE_COMMENT)
            _notify(comment.from_openid, NOTICE_LIKE, openid, comment.gid, in_id,
                    comment.content)
    except IntegrityError:  # already liked: nothing changes
        pass
    return like_count(in_id)


def unlike(openid, in_id):
    """/liked/unlike: idempotent; removes the like's notice while unread; the count."""
    _get_comment(in_id)
    with write_txn():
        removed = Liked.delete().where(Liked.openid == openid, Liked.obj_id == in_id,
                                       Liked.type == LIKE_COMMENT).execute()
        if removed:
            Notice.delete().where(Notice.type == NOTICE_LIKE, Notice.actor_openid == openid,
                                  Notice.obj_id == in_id, Notice.read == False).execute()  # noqa
    return like_count(in_id)
