"""Chat rules and storage: frames from clients, the message store, receipts, the conversation list.

Every accepted message is one row of chat_message, written in group commits (store_batch, called
by realtime/message_writer.py) before anyone is told of it; `received` turns 1 when a socket of
the recipient confirmed it (docs/chat-protocol.md, "Receipts"), and a message stored while its
recipient held no socket takes one of `chat.offline_limit` slots of that (sender, recipient)
until then: the cap the original client's contract promises. Opening a conversation replays
from the same table (replay), and GET /wx/chat/history pages through it.

Plain functions. The parse step runs on the IOLoop (no I/O); the rest run on the database executor.
"""
import json

import orjson

from peewee import fn

from models import db, is_mysql, utcnow, write_txn
from models.chat import ChatList, ChatMessage, pair_key
from models.user import User, BLOCKED, DELETED
from services import chat_frames, subscriptions, validate
from services.clock import display
from errors import Forbidden, NotFound, ServiceError

TYPES = ("text", "image", "goods")
# the Chinese text is fixed by the contract (docs/chat-protocol.md): locale/zh_CN.csv holds it
OFFLINE_FULL_TEXT = "the recipient is offline: at most %(limit)d offline messages"


class ChatRefusal(ServiceError):
    """A frame refused with a machine code (for v2 clients) and a text (shown as a bubble)."""

    def __init__(self, code, msg, **params):
        super().__init__(msg, **params)
        self.code = code


def parse_frame(raw, me, peer, max_chars):
    """A client frame as {to, content, type, msgId}, or {"type": "ping"}; ChatRefusal otherwise."""
    if isinstance(raw, bytes):
        raise ChatRefusal("bad_frame", "binary frames are not accepted")
    try:  # orjson: a third of the standard parser's time; it accepts no lone surrogate
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError:  # the standard parser says why (and reads numbers past 2^64)
        frame = _parse_slowly(raw)
    if not isinstance(frame, dict):
        raise ChatRefusal("bad_frame", "the message must be a JSON object")
    if isinstance(frame.get("msgId"), float):  # orjson reads an integer past 2^64 as a float
        frame = _parse_slowly(raw)
    kind = frame.get("type", "text")
    if kind == "ping":
        return {"type": "ping"}
    if kind in ("received", "read"):  # receipts of newer clients
        seq = frame.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2 ** 63:
            raise ChatRefusal("bad_frame", "seq must be a message's seq number")
        return {"type": kind, "seq": seq}
    if kind == "recall":  # the sender takes back message seq (services/recall.py)
        seq = frame.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 < seq < 2 ** 63:
            raise ChatRefusal("bad_frame", "seq must be a message's seq number")
        to = frame.get("toOpenid", peer)
        if not isinstance(to, str) or not 0 < len(to) <= 64:
            raise ChatRefusal("bad_recipient", "toOpenid is missing or invalid")
        return {"type": "recall", "seq": seq, "to": to}
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
        raise ChatRefusal("too_long", "the message is too long (at most %(max)d characters)",
                          max=max_chars)
    msg_id = frame.get("msgId")
    if msg_id is not None and (not isinstance(msg_id, (str, int)) or isinstance(msg_id, bool)
                               or len(str(msg_id)) > 64):
        raise ChatRefusal("bad_frame", "msgId must be a short string")
    return {"type": kind, "to": to, "content": content,
            "msgId": None if msg_id is None else str(msg_id)}


def _parse_slowly(raw):
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError):  # deep nesting raises RecursionError
        raise ChatRefusal("bad_json", "the message is not valid JSON")
    if validate.lone_surrogate(frame):  # "\ud800": no socket or database could take it
        raise ChatRefusal("bad_text", "the message contains invalid text (a lone surrogate)")
    return frame


# -- on the database executor ----------------------------------------------------------------

def check_sender(me):
    """The sender may chat: known and not blocked."""
    user = User.by_openid(me)
    if user is None or user.state == DELETED:
        raise NotFound("unknown user: log in first")
    if user.state == BLOCKED:
        raise Forbidden("this account is blocked")


def user_exists(openid):
    return User.select().where(User.openid == openid, User.state != DELETED).exists()


def open_conversation(me, peer, reset_unread=True):
    """Opening /wx/me/peer: both must exist; both list rows exist; my unread about peer resets
    (not for a v2 client: its `read` receipts set it)."""
    check_sender(me)
    users = User.names([me, peer])
    if peer not in users or users[peer].state == DELETED:
        raise NotFound("unknown recipient")
    now = utcnow()

    def write():
        # one lock order for both rows: two sockets opening the conversation at once
        for owner, other in sorted([(me, users[peer]), (peer, users[me])], key=lambda x: x[0]):
            _ensure_row(owner, other, now)
        if reset_unread:
            ChatList.update(unread=0).where(ChatList.to_openid == me,
                                            ChatList.from_openid == peer).execute()
        ChatList.update(hidden=0).where(  # a deleted row comes back, as a re-created one did
            ((ChatList.to_openid == me) & (ChatList.from_openid == peer))
            | ((ChatList.to_openid == peer) & (ChatList.from_openid == me)),
            ChatList.hidden == 1).execute()
        subscriptions.conversation_opened(me, peer)
    with write_txn():
        return write()


def _ensure_row(owner, peer_user, now):
    """The owner's row about peer_user, created (or re-created after a delete) if missing."""
    exists = ChatList.select().where(ChatList.to_openid == owner,
                                     ChatList.from_openid == peer_user.openid).exists()
    if not exists:  # created concurrently: the unique key makes this a no-op (no savepoint)
        ChatList.insert(to_openid=owner, from_openid=peer_user.openid,
                        from_name=peer_user.wxname, from_avatar=peer_user.head_img,
                        from_status=peer_user.state, send_time=now).on_conflict_ignore().execute()


# -- the message store (group commits: realtime/message_writer.py batches the calls) --------

def store_batch(ops, limit):
    """Apply a batch of queued operations in ONE transaction; returns one result per op.

    ops: {"op": "msg", "from", "to", "content", "type", "msgId", "time", "offline"} (a message:
    {"seq", "status": "new"|"duplicate", "time"}, or a ChatRefusal when the offline cap is
    full), {"op": "received", "me", "peer", "upto", "seqs"} and {"op": "read", "me", "peer",
    "seq"} (receipts: None). A deadlock victim is retried whole (models.run_unit), so the
    results are those of the attempt that committed."""
    sql = _sql()

    def write():
        out, confirmed = [], {}
        for op in ops:
            kind = op["op"]
            if kind == "msg":
                out.append(_insert(sql, op, limit))
            elif kind == "received":
                if op.get("upto") is None:  # seqs the server wrote to me: one UPDATE for all
                    confirmed.setdefault(op["me"], []).extend(op.get("seqs") or ())
                else:
                    _mark_received(op["me"], op["peer"], op.get("upto"), op.get("seqs"))
                out.append(None)
            else:
                out.append(_mark_read(op["me"], op["peer"], op["seq"]))
        if confirmed:
            _mark_seqs_received(sql, confirmed)
        return out
    with write_txn():
        return write()


def _sql():
    ignore = "INSERT IGNORE" if is_mysql() else "INSERT OR IGNORE"
    p = db.obj.param
    return {"insert": ignore + " INTO chat_message (pair, from_openid, to_openid, content, type,"
                      " client_msg_id, send_time, received, offline_slot) VALUES (%s)"
                      % ", ".join([p] * 9),
            "taken": "SELECT offline_slot FROM chat_message WHERE to_openid = %s AND"
                     " from_openid = %s AND offline_slot IS NOT NULL" % (p, p),
            "same": "SELECT seq, send_time FROM chat_message WHERE from_openid = %s AND"
                    " to_openid = %s AND client_msg_id = %s" % (p, p, p),
            "received": "UPDATE chat_message SET received = 1, offline_slot = NULL"
                        " WHERE received = 0 AND to_openid = %s AND seq IN ({seqs})" % p,
            "param": p}


RECEIVED_CHUNK = 500  # seqs per UPDATE (SQLite allows 999 parameters, older builds)


def _mark_seqs_received(sql, confirmed):
    """{recipient: seqs written to their sockets and confirmed}: one UPDATE per recipient and
    chunk, SQL built once (Peewee's query building was a third of the store's CPU)."""
    p = sql["param"]
    for me, seqs in sorted(confirmed.items()):
        seqs = sorted(set(seqs))
        for i in range(0, len(seqs), RECEIVED_CHUNK):
            part = seqs[i:i + RECEIVED_CHUNK]
            db.execute_sql(sql["received"].replace("{seqs}", ", ".join([p] * len(part))),
                           [me] + part)


def _insert(sql, op, limit):
    """One message: inserted (with a free offline slot when the recipient is offline), found
    as a resend of the same (sender, recipient, msgId), or refused when the cap is full. An
    ignored insert (a unique key said no) costs no savepoint and leaves the transaction whole."""
    me, to, msg_id = op["from"], op["to"], op["msgId"]
    row = [pair_key(me, to), me, to, op["content"], op["type"], msg_id, str(op["time"]), 0]
    if not op["offline"]:
        slots = [None]
    else:
        taken = {r[0] for r in db.execute_sql(sql["taken"], (to, me)).fetchall()}
        slots = [s for s in range(1, limit + 1) if s not in taken]
    for slot in slots:
        cursor = db.execute_sql(sql["insert"], row + [slot])
        if cursor.rowcount == 1:
            return {"seq": cursor.lastrowid, "status": "new", "time": op["time"]}
        same = _same(sql, me, to, msg_id)
        if same is not None:
            return same
    same = _same(sql, me, to, msg_id)  # a resend while the store is full is no refusal
    if same is not None:
        return same
    if not op["offline"]:
        raise RuntimeError("a live message was not inserted")  # no key can refuse it
    return ChatRefusal("offline_limit", OFFLINE_FULL_TEXT, limit=limit)


def _same(sql, me, to, msg_id):
    if msg_id is None:
        return None
    row = db.execute_sql(sql["same"], (me, to, msg_id)).fetchone()
    return {"seq": row[0], "status": "duplicate", "time": row[1]} if row else None


def _mark_received(me, peer, upto=None, seqs=None):
    """Messages to `me` confirmed: from `peer` up to seq `upto`, and/or the given seqs. A
    received message frees its offline slot."""
    where = []
    if upto is not None:
        where.append((ChatMessage.from_openid == peer) & (ChatMessage.seq <= upto))
    if seqs:
        where.append(ChatMessage.seq.in_(sorted(seqs)))
    if not where:
        return
    cond = where[0] if len(where) == 1 else (where[0] | where[1])
    (ChatMessage.update(received=1, offline_slot=None)
     .where(ChatMessage.to_openid == me, ChatMessage.received == 0, cond).execute())


def _mark_read(me, peer, seq):
    """`me` read the conversation with peer up to seq: received too; unread = what is after."""
    _mark_received(me, peer, upto=seq)
    row = ChatList.get_or_none(ChatList.to_openid == me, ChatList.from_openid == peer)
    after = max(seq, row.cleared_seq if row else 0)
    unread = (ChatMessage.select().where(ChatMessage.to_openid == me,
                                         ChatMessage.from_openid == peer,
                                         ChatMessage.recalled_at.is_null(),
                                         ChatMessage.seq > after).count())
    ChatList.update(unread=unread).where(ChatList.to_openid == me,
                                         ChatList.from_openid == peer).execute()
    return unread


def cleared_seq(owner, peer):
    """The newest seq the owner hid with deleteList1 (0: none)."""
    row = (ChatList.select(ChatList.cleared_seq)
           .where(ChatList.to_openid == owner, ChatList.from_openid == peer).first())
    return row.cleared_seq if row else 0


def replay(me, peer, history, since=None):
    """What a socket of `me` on the conversation with peer gets on open, oldest first, and the
    conversation's newest seq: with `since` (v2) every message after it; else the last
    `history` messages of both directions plus every message to me from peer not yet
    received. Never what `me` cleared."""
    cleared = cleared_seq(me, peer)
    mine = ChatMessage.of_pair(me, peer).where(ChatMessage.seq > cleared)
    top = ChatMessage.select(fn.MAX(ChatMessage.seq)).where(
        ChatMessage.pair == pair_key(me, peer)).scalar() or 0
    if since is not None:
        rows = list(mine.where(ChatMessage.seq > since).order_by(ChatMessage.seq))
        return [chat_frames.stored(m) for m in rows], max([top, since] + [m.seq for m in rows])
    rows = {}
    if history > 0:
        for m in mine.order_by(ChatMessage.seq.desc()).limit(history):
            rows[m.seq] = m
    for m in (ChatMessage.select()
              .where(ChatMessage.to_openid == me, ChatMessage.from_openid == peer,
                     ChatMessage.received == 0, ChatMessage.seq > cleared)):
        rows[m.seq] = m
    return [chat_frames.stored(rows[s]) for s in sorted(rows)], max([top] + list(rows))


def history(me, peer, before=None, limit=20):
    """GET /wx/chat/history: me's messages with peer older than `before`, newest first."""
    query = ChatMessage.of_pair(me, peer).where(ChatMessage.seq > cleared_seq(me, peer))
    if before is not None:
        query = query.where(ChatMessage.seq < before)
    rows = list(query.order_by(ChatMessage.seq.desc()).limit(limit + 1))
    return {"messages": [chat_frames.stored(m) for m in rows[:limit]], "more": len(rows) > limit}


def purge_before(cutoff, batch=500):
    """Delete up to `batch` stored messages sent before `cutoff` (chat.history_days), oldest
    first, in one short transaction; how many went. Called again until it returns < batch."""
    seqs = [m.seq for m in ChatMessage.select(ChatMessage.seq)
            .where(ChatMessage.send_time < cutoff).order_by(ChatMessage.seq).limit(batch)]
    if seqs:
        with write_txn():
            ChatMessage.delete().where(ChatMessage.seq.in_(seqs)).execute()
    return len(seqs)


def offline_waiting():
    """How many messages stored for offline recipients wait to be received (dashboard, metrics)."""
    return ChatMessage.select().where(ChatMessage.offline_slot.is_null(False)).count()


def apply_list_updates(updates):
    """Write coalesced conversation-list changes in one transaction.

    updates: {(owner, peer): {"send_time", "last_context" (or None), "unread"[, "seq",
    "counted"]}}; missing rows (deleted by their owner, or never opened) are created with the
    peer's name and avatar. `seq` is the message `last_context` shows, `counted` the seqs
    `unread` counts: a message its sender recalled before this write is shown as
    the placeholder and not counted. Those messages are read first, with a shared lock on
    MariaDB, so a recall and this write of the same message are in one order: the recall
    after it finds the row with the message (services.recall), or this write after the
    recall finds it recalled; never the content written back over the placeholder.
    """
    if not updates:
        return
    p = db.obj.param
    base = "UPDATE chat_list SET send_time = %s, hidden = 0" % p
    shapes = {}  # (has context, has unread) -> SQL, built once per flush

    def statement(context, unread):
        key = (context, unread)
        if key not in shapes:
            shapes[key] = (base + (", last_context = %s" % p if context else "")
                           + (", unread = unread + %s" % p if unread else "")
                           + " WHERE to_openid = %s AND from_openid = %s" % (p, p))
        return shapes[key]

    def apply(owner, peer, change):
        args = [str(change["send_time"])]  # as Peewee and _insert write it
        if change["last_context"] is not None:
            args.append(change["last_context"])
        if change["unread"]:
            args.append(change["unread"])
        sql = statement(change["last_context"] is not None, bool(change["unread"]))
        return db.execute_sql(sql, args + [owner, peer]).rowcount

    def write():
        _leave_out_recalled(updates)
        missing = {}
        for (owner, peer), change in sorted(updates.items()):  # one lock order everywhere
            if apply(owner, peer, change) == 0:
                missing[(owner, peer)] = change
        # rarely needed; both must still be users (a note left from before an account's
        # deletion must not give it back a row)
        peers = User.names(x for pair in missing for x in pair) if missing else {}
        for (owner, peer), change in missing.items():
            if peer in peers and owner in peers:
                _ensure_row(owner, peers[peer], change["send_time"])
                apply(owner, peer, change)
    with write_txn():
        return write()


def _leave_out_recalled(updates):
    """apply_list_updates' changes without the messages recalled before this write (in its
    transaction; first, so the locks are taken in the recall's order: message, then row)."""
    seqs = sorted({s for change in updates.values()
                   for s in [change.get("seq")] + change.get("counted", []) if s is not None})
    if not seqs:
        return
    recalled = set()
    lock = " LOCK IN SHARE MODE" if is_mysql() else ""  # SQLite: writers are serialised
    p = db.obj.param
    for i in range(0, len(seqs), 500):
        chunk = seqs[i:i + 500]
        sql = ("SELECT seq FROM chat_message WHERE seq IN (%s) AND recalled_at IS NOT NULL%s"
               % (", ".join([p] * len(chunk)), lock))
        recalled.update(row[0] for row in db.execute_sql(sql, chunk).fetchall())
    if not recalled:
        return
    for change in updates.values():
        if change.get("seq") in recalled and change["last_context"] is not None:
            change["last_context"] = chat_frames.LIST_PREVIEW
        gone = sum(1 for s in change.get("counted", ()) if s in recalled)
        change["unread"] = max(0, change["unread"] - gone)


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
    """Hide only the owner's row and, for the owner only, every message of the conversation up
    to now (cleared_seq); they count as received. A later message brings the row back with
    only what follows."""
    def write():
        top = max(cleared_seq(owner, peer), ChatMessage.select(fn.MAX(ChatMessage.seq)).where(
            ChatMessage.pair == pair_key(owner, peer)).scalar() or 0)
        ChatList.update(hidden=1, cleared_seq=top, last_context="", unread=0).where(
            ChatList.to_openid == owner, ChatList.from_openid == peer).execute()
        _mark_received(owner, peer, upto=top)
    with write_txn():
        return write()
