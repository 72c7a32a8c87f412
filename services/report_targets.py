"""The one registry of what students can report: a listing, a user, a comment, a chat, a rating
or a want-to-buy post. Each kind says, in one place, how a report's context is read (checked
against the database), whose the target is, how a confirmation page names it, and how a
moderator takes it down (users and chats can't be: a moderator dismisses or blocks the author).
services/reports.py files, lists and acts on reports through this table only; the admin pages'
one route (/admin/reports/{target}/{id}/{action}) is made from its keys, and each kind's
context is drawn by templates/report_{kind}.html."""
from typing import Callable, NamedTuple, Optional

from models.chat import ChatMessage
from models.comment import Comment
from models.goods import Goods
from models.user import User
from services import comments, moderation, ratings, validate, wanted
from services.clock import display
from errors import NotFound

CONTEXT_MESSAGES = 10  # stored messages a chat report shows


class Target(NamedTuple):
    """context(reporter, target, seq) -> dict; author(target) -> openid; name(target) -> text
    naming it on a confirmation page (None: named by its author); take_down(actor, target,
    reason) in the caller's transaction (None: it can't be taken down)."""
    context: Callable
    author: Callable
    name: Optional[Callable] = None
    take_down: Optional[Callable] = None


def _goods(target):
    goods = Goods.get_or_none(Goods.gid == validate.integer(target, "targetId", low=1))
    if goods is None:
        raise NotFound("no such listing")
    return goods


def _comment(target):
    comment = Comment.get_or_none(Comment.in_id == validate.integer(target, "targetId", low=1))
    if comment is None:
        raise NotFound("no such comment")
    return comment


def _user(target):
    user = User.by_openid(validate.openid(target, "targetId"))
    if user is None:
        raise NotFound("no such user")
    return user


def _goods_context(reporter, target, seq=None):
    goods = _goods(target)
    return {"goodsName": goods.goods_name, "goodsTitle": goods.goods_title,
            "goodsDec": goods.goods_dec, "owner": goods.openid}


def _goods_name(target):
    goods = _goods(target)
    return "#%d %s" % (goods.gid, goods.goods_title or goods.goods_name)


def _comment_context(reporter, target, seq=None):
    comment = _comment(target)
    return {"content": comment.content, "author": comment.from_openid, "gid": comment.gid}


def _user_context(reporter, target, seq=None):
    user = _user(target)
    return {"wxname": user.wxname, "state": user.state}


def _chat_context(reporter, target, seq=None):
    """The stored messages of the reporter's own conversation with the reported user: the last
    CONTEXT_MESSAGES, or those around `seq` when the report names a message of it. Only this
    pair's messages can be named, so a report shows no one else's conversation."""
    peer = _user(target).openid
    pair = ChatMessage.of_pair(reporter, peer)
    if not pair.exists():
        raise NotFound("no conversation with this user")
    if seq is not None:
        if not pair.where(ChatMessage.seq == seq).exists():
            raise NotFound("no such message in your conversation with this user")
        half = CONTEXT_MESSAGES // 2
        rows = (list(pair.where(ChatMessage.seq <= seq).order_by(ChatMessage.seq.desc())
                     .limit(half + 1))[::-1]
                + list(pair.where(ChatMessage.seq > seq).order_by(ChatMessage.seq).limit(half)))
    else:
        rows = list(pair.order_by(ChatMessage.seq.desc()).limit(CONTEXT_MESSAGES))[::-1]
    return {"peer": peer, "messages": {"stored": [
        {"seq": m.seq, "fromOpenid": m.from_openid, "type": m.type, "content": m.content,
         "sendTime": display(m.send_time), "reported": m.seq == seq,
         "recalled": m.recalled_at is not None} for m in rows]}}


def _the_user(target):
    return target  # a reported user (or chat partner) is their own author


TARGETS = {
    "goods": Target(_goods_context, lambda target: _goods(target).openid, _goods_name,
                    lambda actor, target, reason: moderation.set_goods_deleted(
                        actor, target, True, reason)),
    "user": Target(_user_context, _the_user),
    "comment": Target(_comment_context, lambda target: _comment(target).from_openid,
                      lambda target: _comment(target).content[:80],
                      lambda actor, target, reason: comments.take_down(
                          _comment(target), reason)),
    "chat": Target(_chat_context, _the_user),
    "rating": Target(lambda reporter, target, seq=None: ratings.report_context(target),
                     ratings.author, take_down=ratings.remove),
    "wanted": Target(lambda reporter, target, seq=None: wanted.report_context(target),
                     wanted.author,
                     take_down=lambda actor, target, reason: wanted.take_down(
                         actor, target, reason or "reported")),
}
TAKE_DOWN = tuple(kind for kind, target in TARGETS.items() if target.take_down)
