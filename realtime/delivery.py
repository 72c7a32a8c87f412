"""Chat delivery: live through the bus, else into the offline store, else a refusal; and the
offline queue drained to a socket when its owner opens the conversation.

Runs on the IOLoop; storage calls go through run_db to the database executor.
"""
import asyncio
import collections
import functools
import logging

from realtime.control import MISSING
from realtime.message_writer import MessageWriter
from services import chat, chat_media
from services.chat import ChatRefusal
from services.errors import ServiceError
from services.content_checks import RISKY, RISKY_TEXT, SCENE_SOCIAL
from services.clock import display
from models import utcnow

log = logging.getLogger("market.chat")

RECENT_IDS = 256  # (recipient, msgId) pairs remembered per sender to drop live resends
RECENT_CAP = 100_000  # pairs remembered in all (least recently sending senders dropped first)
# seconds after a replay to read again on the Redis bus (presence announcements, their cache)
CATCH_UP = (1.0, 5.5)


class ChatDelivery:
    """Chat frames stored (group commits), then delivered live or left waiting, or refused; the
    replay on open and receipts; broadcasts; closing sockets. `later(coroutine, what)` runs a
    follow-up without delaying the sender (actions.context)."""

    control = None  # realtime.control.Control (set by make_app): blocks between users
    safety = None  # realtime.safety_notices.SafetyNotices (set by make_app): issue 25

    def __init__(self, config, run_db, bus, list_writer, content=None, notifier=None,
                 later=None, media=("", "")):
        chat_config = config["chat"]
        self.limit = chat_config["offline_limit"]
        self.history = chat_config["history_on_open"]
        self.run_db = run_db
        self.bus = bus
        self.registry = bus.registry
        self.lists = list_writer
        self.content = content
        self.notifier = notifier
        self.later = later
        self.media = media  # (public base URL, signing secret) for image and goods frames
        self.writer = MessageWriter(run_db, self.limit, chat_config["commit_interval_ms"] / 1000,
                                    deadline=chat_config["store_timeout"])
        self.known_users = set()
        # sender -> {(recipient, msgId): None}, both least recent first; a msgId is unique per
        # sender and recipient (a client may number each conversation from 1). Only ids of
        # committed messages are remembered, so a "duplicate" ack always names a stored message.
        self.recent = collections.OrderedDict()
        self.recent_count, self.recent_cap = 0, RECENT_CAP
        bus.fallback = None  # every message is stored before it is published: nothing to keep
        self.counts = collections.Counter()  # delivered / stored / refused (any reason), metrics

    def start(self):
        self.writer.start()

    async def stop(self):
        """Commit what is queued (its senders get their acks if their sockets still live)."""
        await self.writer.stop()

    def _op(self, me, frame, offline):
        return {"op": "msg", "from": me, "to": frame["to"], "content": frame["content"],
                "type": frame["type"], "msgId": frame["msgId"],
                "time": utcnow().replace(microsecond=0), "offline": offline}

    def _resent(self, socket, me, to, msg_id):
        """A resend of a message this process committed recently: ack it without storing."""
        ids = self.recent.get(me) if msg_id is not None else None
        if ids is not None and (to, msg_id) in ids:
            self._ack(socket, msg_id, "duplicate")
            return True
        return False

    async def relay(self, socket, frame):
        """Store one parsed frame from socket.me, then deliver it; raises ChatRefusal when not
        accepted (offline cap full, database unavailable...)."""
        me, to, msg_id = socket.me, frame["to"], frame["msgId"]
        await self._check_recipient(socket, to)
        if self.control is not None:  # blocks between the two, in every process
            await self.control.check_chat(me, to)
        if self._resent(socket, me, to, msg_id):
            return
        if frame["type"] != "text":  # stored as the picture's name or the listing's gid
            frame = dict(frame, content=await self.run_db(chat_media.check, me, frame["type"],
                                                          frame["content"]))
        if self.content is not None and self.content.chat_enabled:
            await self._check_content(me, frame)
        online = await self.bus.is_online(to)
        result = await self.writer.submit(self._op(me, frame, not online))
        out = self._accepted(socket, frame, result)
        if out is None:
            return
        if frame["type"] != "text":
            await self.present([out])
        sent = await self.bus.send_to_user(to, out)
        await self.bus.send_to_user(me, out, exclude=socket)  # the sender's other devices
        self._bookkeeping(socket, frame, sent, out["seq"])

    def relay_now(self, socket, frame):
        """The common case without a coroutine: local bus, a known recipient, no content
        check. The message is queued for the next group commit and delivered from its
        callback. True when taken (or a duplicate), False: run relay()."""
        me, to, msg_id = socket.me, frame["to"], frame["msgId"]
        if (not self.bus.local or frame["type"] != "text"
                or not (to == socket.peer or to in self.known_users)
                or (self.content is not None and self.content.chat_enabled)):
            return False
        if self.control is not None:  # blocks between the two: cached, else relay() asks
            refusal = self.control.chat_refusal_now(me, to)
            if refusal is MISSING:
                return False
            if refusal is not None:
                raise refusal
        if self._resent(socket, me, to, msg_id):
            return True
        future = self.writer.submit(self._op(me, frame, not self.registry.is_online(to)))
        future.add_done_callback(functools.partial(self._committed, socket, frame))
        return True

    def _committed(self, socket, frame, future):
        """relay_now's message committed (or failed): deliver and ack, or refuse."""
        try:
            result = future.result()
        except ServiceError as e:
            socket.refused(e, frame["msgId"])
            return
        out = self._accepted(socket, frame, result)
        if out is None:
            return
        sent = self.registry.push(frame["to"], out)
        self.registry.push(socket.me, out, exclude=socket)
        self._bookkeeping(socket, frame, sent, out["seq"])

    def _accepted(self, socket, frame, result):
        """After the commit: remember the id; the frame to deliver, or None for a resend."""
        me, to, msg_id = socket.me, frame["to"], frame["msgId"]
        if msg_id is not None:
            self._seen(me, to, msg_id)
        if result["status"] == "duplicate":
            self._ack(socket, msg_id, "duplicate", result["seq"])
            return None
        socket.has(result["seq"])  # the page drew it when sending: never written back to it
        return chat.message_frame(me, to, frame["content"], frame["type"], msg_id,
                                  result["time"], result["seq"])

    def _bookkeeping(self, socket, frame, sent, seq=None):
        """Count, conversation lists, acknowledgement (delivered: some socket took it)."""
        me, to, content = socket.me, frame["to"], frame["content"]
        self.counts["delivered" if sent else "stored"] += 1
        # unread: +1 unless an original client's page is open on it (v2 pages send `read`)
        viewing = sent and any(s.peer == me and not s.v2 for s in self.registry.sockets_for(to))
        content = chat_media.preview(frame["type"], content)
        self.lists.note(to, me, content, 0 if viewing else 1)
        self.lists.note(me, to)
        self._ack(socket, frame["msgId"], "delivered" if sent else "stored", seq)
        if self.safety is not None:  # issue 25: the recipient's safety notice, if it matches
            self.safety.after_message(me, to, frame["type"], frame["content"])
        if not sent and self.notifier is not None and self.notifier.enabled:
            self.later(self.notifier.chat_stored(to, me, content), "chat notice")

    async def _check_content(self, me, frame):
        """With moderation.chat on, a risky text message is refused (WeChat failing: let pass,
        since chat is not published content and a held message would be a lost one)."""
        if frame["type"] == "text":
            verdict, _ = await self.content.check_text(me, SCENE_SOCIAL, frame["content"])
            if verdict == RISKY:
                raise ChatRefusal("risky", RISKY_TEXT)

    async def _check_recipient(self, socket, to):
        if to == socket.peer or to in self.known_users:
            return
        if not await self.run_db(chat.user_exists, to):
            raise ChatRefusal("bad_recipient", "unknown recipient")
        if len(self.known_users) > 100_000:
            self.known_users.clear()
        self.known_users.add(to)

    def _seen(self, me, to, msg_id):
        """True if this sender already sent msg_id to `to` recently (a client resend); else
        remember it. At most RECENT_IDS per sender and recent_cap in all are kept."""
        key = (to, msg_id)
        ids = self.recent.get(me)
        if ids is None:
            ids = self.recent[me] = collections.OrderedDict()
        else:
            if key in ids:
                return True
            self.recent.move_to_end(me)
        ids[key] = None
        self.recent_count += 1
        if len(ids) > RECENT_IDS:
            ids.popitem(last=False)
            self.recent_count -= 1
        while self.recent_count > self.recent_cap:
            oldest = next(iter(self.recent.values()))
            oldest.popitem(last=False)
            self.recent_count -= 1
            if not oldest:
                self.recent.popitem(last=False)
        return False

    def _forget(self, me, to, msg_id):
        """Drop a remembered id (the message was not accepted); creates nothing."""
        ids = self.recent.get(me) if msg_id is not None else None
        if ids is not None and ids.pop((to, msg_id), 0) is None:
            self.recent_count -= 1
            if not ids:
                del self.recent[me]

    def _ack(self, socket, msg_id, status, seq=None):
        """Newer clients (?v=2) get an acknowledgement; the original client would show it. It
        names the message's seq when known (issue 25: what a recall names)."""
        if socket.v2:
            ack = {"type": "ack", "msgId": msg_id, "status": status,
                   "sendTime": display(utcnow())}
            if seq is not None:
                ack["seq"] = seq
            socket.send(ack)

    # -- opening a conversation: the replay, then live frames ---------------------------------
    async def replay(self, socket, since=None):
        """Write the conversation to a socket that just registered: the last `history`
        messages and every one not yet received (or, for v2 with since=, all after it), oldest
        first. Live frames for the socket wait until the replay is written and are deduped by
        seq, so nothing is missing, doubled, or ahead of older ones."""
        socket.replaying = True
        try:
            frames, top = await self.run_db(chat.replay, socket.me, socket.peer, self.history,
                                            since)
            await self.present(frames)
        except Exception as e:
            log.warning("chat replay for user=%s failed (%s); closing", socket.me, e)
            socket.replaying = False
            socket.close(1011, "try again")
            return
        for frame in frames:
            socket.write_frame(frame)
        self.counts["held"] += len(socket.held)  # live frames that came during the replay
        socket.end_replay()
        self.counts["replayed"] += len(frames)
        if self.safety is not None:  # issue 25: a matching message that waited while offline
            self.safety.after_replay(socket, frames)
        if not self.bus.local:  # presence reaches other processes a little later
            for delay in CATCH_UP:
                asyncio.get_running_loop().call_later(
                    delay, lambda: asyncio.ensure_future(self._catch_up(socket, top)))

    async def _catch_up(self, socket, top):
        """Messages committed by another process that did not yet see this socket's presence
        when it published: read again what is after the replay's newest seq (deduped)."""
        if socket.ws_connection is None or socket.ws_connection.is_closing():
            return
        try:
            frames, _ = await self.run_db(chat.replay, socket.me, socket.peer, 0, top)
            await self.present(frames)
        except Exception as e:
            log.info("chat catch-up for user=%s failed: %s", socket.me, e)
            return
        for frame in frames:
            socket.write_frame(frame)

    async def present(self, frames):
        """Image and goods frames get their signed URLs and listing cards (text: nothing to do)."""
        if any(f.get("type") not in ("text", None) for f in frames):
            await self.run_db(chat_media.present, frames, *self.media)
        return frames

    def receipt(self, socket, kind, seq, seqs=()):
        """A confirmation from a socket: `received` (v1: its pong; v2: the frame) or `read`."""
        me, peer = socket.me, socket.peer
        if kind == "read":
            asyncio.ensure_future(self._read(me, peer, seq, seqs))
        else:
            self.writer.submit_quiet({"op": "received", "me": me, "peer": peer, "upto": seq,
                                      "seqs": list(seqs)})

    async def _read(self, me, peer, seq, seqs):
        """Write the read receipt (after the pending list changes, so the unread count it sets
        is not added to again), then tell the peer's newer clients (read ticks)."""
        self.writer.submit_quiet({"op": "received", "me": me, "peer": peer, "seqs": list(seqs)})
        await self.lists.flush()
        try:
            await self.writer.submit({"op": "read", "me": me, "peer": peer, "seq": seq})
        except ServiceError as e:
            log.info("chat read receipt of user=%s not written: %s", me, e)
            return
        frame = {"type": "read", "fromOpenid": me, "toOpenid": peer, "seq": seq, "content": ""}
        await self.bus.send_to_user(peer, frame)

    async def broadcast(self, text, sender="admin"):
        """An admin notice to every live socket, shown by the original client as a bubble."""
        frame = {"type": "broadcast", "fromOpenid": sender, "toOpenid": "-1", "content": text,
                 "sendTime": display(utcnow())}
        return await self.bus.broadcast(frame)

    def close_user(self, openid, code=4403, reason="account blocked"):
        """Close every socket of a user (blocked, or logged out)."""
        for socket in self.registry.sockets_for(openid):
            socket.close(code, reason)

    def close_all(self, code=1001, reason="server going away"):
        for socket in self.registry.all_sockets():
            socket.close(code, reason)
