"""Chat rules and storage: frames from clients, the offline store with its cap, the conversation list.

Plain functions. The parse step runs on the IOLoop (no I/O); the rest run on the database executor.
"""
import json

from peewee import IntegrityError, fn

from models import db, in_transaction, utcnow
from models.chat import ChatList, OfflineMessage
from models.user import User, BLOCKED
from services import subscriptions, validate
from services.clock import display, display_now
from services.errors import Forbidden, NotFound, ServiceError

SYSTEM = "system"
TYPES = ("text", "image", "goods")
OFFLINE_FULL_TEXT = "对方不在线，最多发送%d条离线消息"


class ChatRefusal(ServiceError):
    """A frame refused with a machine code (for v2 clients) and a text (shown as a bubble)."""

    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code


def parse_frame(raw, me, peer, max_chars):
    """A client frame as {to, content, type, msgId}, or {"type": "ping"}; ChatRefusal otherwise."""
    if isinstance(raw, bytes):
        raise ChatRefusal("bad_frame", "binary frames are not accepted")
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError):  # deep nesting raises RecursionError
        raise ChatRefusal("bad_json", "the message is not valid JSON")
    if not isinstance(frame, dict):
        raise ChatRefusal("bad_frame", "the message must be a JSON object")
    if validate.lone_surrogate(frame):  # "\ud800": no socket or database could take it
        raise ChatRefusal("bad_text", "the message contains invalid text (a lone surrogate)")
    kind = frame.get("type", "text")
    if kind == "ping":
        return {"type": "ping"}
    if kind not in TYPES:
        raise ChatRefusal("bad_type", "unknown message type")
    sender = frame.get("fromOpenid", me)
    if sender != me:
        raise ChatRefusal("forbidden", "fromOpenid must be your own openid")
    to = frame.get("toOpenid", peer)
    if to == "-1":
        raise ChatRefusal("forbidden", "only admins can broadcast")
    if not isinstance(to, str) or not 0 < len(to) <= 64:
        raise ChatRefusal("bad_recipient", "toOpenid is missing or invalid")
    if to == me:
        raise ChatRefusal("bad_recipient", "you cannot send a message to yourself")
    content = frame.get("content")
    if not isinstance(content, str) or not content.strip():
        raise ChatRefusal("bad_content", "content must be non-empty text")
    if len(content) > max_chars:
        raise ChatRefusal("too_long", "the message is too long (at most %d characters)" % max_chars)
    msg_id = frame.get("msgId")
    if msg_id is not None and (not isinstance(msg_id, (str, int)) or isinstance(msg_id, bool)
                               or len(str(msg_id)) > 64):
        raise ChatRefusal("bad_frame", "msgId must be a short string")
    return {"type": kind, "to": to, "content": content,
            "msgId": None if msg_id is None else str(msg_id)}


def message_frame(sender, to, content, kind="text", msg_id=None, sent_at=None):
    """The frame a recipient receives: the original's fields plus sendTime, type and msgId."""
    frame = {"fromOpenid": sender, "toOpenid": to, "content": content,
             "sendTime": display(sent_at) if sent_at else display_now(), "type": kind}
    if msg_id is not None:
        frame["msgId"] = msg_id
    return frame


def refusal_frame(me, code, text, msg_id=None):
    """A refusal any client can show: a bubble from `system`, plus type/code for newer clients."""
    frame = {"type": "error", "code": code, "fromOpenid": SYSTEM, "toOpenid": me,
             "content": text, "sendTime": display(utcnow())}
    if msg_id is not None:
        frame["msgId"] = msg_id
    return frame


# -- on the database executor ----------------------------------------------------------------

def check_sender(me):
    """The sender may chat: known and not blocked."""
    user = User.by_openid(me)
    if user is None:
        raise NotFound("unknown user: log in first")
    if user.state == BLOCKED:
        raise Forbidden("this account is blocked")


def user_exists(openid):
    return User.select().where(User.openid == openid).exists()


def open_conversation(me, peer):
    """Opening /wx/me/peer: both must exist; both list rows exist; my unread about peer resets."""
    check_sender(me)
    users = User.names([me, peer])
    if peer not in users:
        raise NotFound("unknown recipient")
    now = utcnow()

    def write():
        # one lock order for both rows: two sockets opening the conversation at once
        for owner, other in sorted([(me, users[peer]), (peer, users[me])], key=lambda x: x[0]):
            _ensure_row(owner, other, now)
        ChatList.update(unread=0).where(ChatList.to_openid == me,
                                        ChatList.from_openid == peer).execute()
        subscriptions.conversation_opened(me, peer)
    in_transaction(write)


def _ensure_row(owner, peer_user, now):
    """The owner's row about peer_user, created (or re-created after a delete) if missing."""
    exists = ChatList.select().where(ChatList.to_openid == owner,
                                     ChatList.from_openid == peer_user.openid).exists()
    if not exists:  # created concurrently: the unique key makes this a no-op (no savepoint)
        ChatList.insert(to_openid=owner, from_openid=peer_user.openid,
                        from_name=peer_user.wxname, from_avatar=peer_user.head_img,
                        from_status=peer_user.state, send_time=now).on_conflict_ignore().execute()


def store_offline(sender, to, content, kind, msg_id, limit):
    """Keep a message for an offline recipient; returns its id. ChatRefusal when the cap is full.

    A resend with the same msgId to the same recipient returns the stored id again (one row,
    found only when an insert conflicts, so a new message costs two statements); a msgId is
    unique per sender and recipient, so the same msgId to someone else is another message. The slot unique key makes the cap exact
    under concurrent senders, in one process or many.
    """
    taken = {m.slot for m in OfflineMessage.select(OfflineMessage.slot).where(
        OfflineMessage.to_openid == to, OfflineMessage.from_openid == sender)}
    for slot in range(1, limit + 1):
        if slot in taken:
            continue
        try:
            with db.atomic():
                return OfflineMessage.create(from_openid=sender, to_openid=to, content=content,
                                             type=kind, client_msg_id=msg_id,
                                             slot=slot).message_id
        except IntegrityError:  # the slot was taken meanwhile, or this msgId is stored
            resent = _stored_id(sender, to, msg_id)
            if resent is not None:
                return resent
    resent = _stored_id(sender, to, msg_id)  # a resend while the store is full is no refusal
    if resent is not None:
        return resent
    raise ChatRefusal("offline_limit", OFFLINE_FULL_TEXT % limit)


def _stored_id(sender, to, msg_id):
    if msg_id is None:
        return None
    old = OfflineMessage.get_or_none(OfflineMessage.from_openid == sender,
                                     OfflineMessage.to_openid == to,
                                     OfflineMessage.client_msg_id == msg_id)
    return old.message_id if old else None


def pending_offline(to, sender):
    """Messages kept for `to` from `sender`, oldest first, as frames with their ids."""
    rows = (OfflineMessage.select()
            .where(OfflineMessage.to_openid == to, OfflineMessage.from_openid == sender)
            .order_by(OfflineMessage.message_id))
    return [(m.message_id, message_frame(m.from_openid, m.to_openid, m.content, m.type,
                                         m.client_msg_id, m.send_time)) for m in rows]


def delete_offline(ids):
    """Remove delivered messages (only those written to a socket)."""
    if ids:
        OfflineMessage.delete().where(OfflineMessage.message_id.in_(list(ids))).execute()


def offline_waiting():
    """How many offline messages wait for delivery (dashboard, metrics)."""
    return OfflineMessage.select().count()


def apply_list_updates(updates):
    """Write coalesced conversation-list changes in one transaction.

    updates: {(owner, peer): {"send_time", "last_context" (or None), "unread"}}; missing rows
    (deleted by their owner, or never opened) are created with the peer's name and avatar.
    """
    if not updates:
        return
    def write():
        missing = {}
        for (owner, peer), change in sorted(updates.items()):  # one lock order everywhere
            fields = {ChatList.send_time: change["send_time"]}
            if change["last_context"] is not None:
                fields[ChatList.last_context] = change["last_context"]
            if change["unread"]:
                fields[ChatList.unread] = ChatList.unread + change["unread"]
            n = ChatList.update(fields).where(ChatList.to_openid == owner,
                                              ChatList.from_openid == peer).execute()
            if n == 0:
                missing[(owner, peer)] = (change["send_time"], fields)
        peers = User.names(peer for _, peer in missing) if missing else {}  # rarely needed
        for (owner, peer), (send_time, fields) in missing.items():
            if peer in peers:
                _ensure_row(owner, peers[peer], send_time)
                ChatList.update(fields).where(ChatList.to_openid == owner,
                                              ChatList.from_openid == peer).execute()
    in_transaction(write)


def conversation_list(owner):
    """extend.chatLists of /lt/list: the owner's rows, most recent first (names kept fresh)."""
    rows = list(ChatList.for_owner(owner))
    users = User.names(r.from_openid for r in rows)
    out = []
    for r in rows:
        peer = users.get(r.from_openid)
        out.append({"fromOpenid": r.from_openid,
                    "fromName": peer.wxname if peer else r.from_name,
                    "fromHeadimage": peer.head_img if peer else r.from_avatar,
                    "fromStatus": peer.state if peer else r.from_status,
                    "lastContext": r.last_context, "sendTime": display(r.send_time),
                    "unread": r.unread})
    return out


def delete_conversation(owner, peer):
    """Remove only the owner's row; a later message from peer brings it back."""
    ChatList.delete().where(ChatList.to_openid == owner, ChatList.from_openid == peer).execute()


def unread_total(owner):
    return ChatList.select(fn.COALESCE(fn.SUM(ChatList.unread), 0)).where(
        ChatList.to_openid == owner).scalar()
