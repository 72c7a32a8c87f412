"""Chat delivery: live through the bus, else into the offline store, else a refusal; and the
offline queue drained to a socket when its owner opens the conversation.

Runs on the IOLoop; storage calls go through run_db to the database executor.
"""
import collections
import logging

import tornado.iostream
import tornado.websocket

from realtime.bus import encode
from services import chat
from services.chat import ChatRefusal
from services.content_checks import RISKY, RISKY_TEXT, SCENE_SOCIAL
from services.clock import display
from models import utcnow

log = logging.getLogger("market.chat")

RECENT_IDS = 256  # (recipient, msgId) pairs remembered per sender to drop live resends
RECENT_CAP = 100_000  # pairs remembered in all (least recently sending senders dropped first)


class ChatDelivery:
    """Live delivery, the offline store and refusals of chat frames; broadcasts; closing sockets.
    `later(coroutine, what)` runs a follow-up without delaying the sender (actions.context)."""

    def __init__(self, config, run_db, bus, list_writer, content=None, notifier=None,
                 later=None):
        self.limit = config["chat"]["offline_limit"]
        self.run_db = run_db
        self.bus = bus
        self.registry = bus.registry
        self.lists = list_writer
        self.content = content
        self.notifier = notifier
        self.later = later
        self.known_users = set()
        # sender -> {(recipient, msgId): None}, both least recent first; a msgId is unique per
        # sender and recipient (a client may number each conversation from 1)
        self.recent = collections.OrderedDict()
        self.recent_count, self.recent_cap = 0, RECENT_CAP
        bus.fallback = self.store_fallback
        self.counts = collections.Counter()  # delivered / stored / refused (any reason), metrics

    async def relay(self, socket, frame):
        """Deliver one parsed frame from socket.me; raises ChatRefusal when not accepted."""
        me, to, msg_id = socket.me, frame["to"], frame["msgId"]
        await self._check_recipient(socket, to)
        if msg_id is not None and self._seen(me, to, msg_id):
            self._ack(socket, msg_id, "duplicate")
            return
        try:
            await self._relay(socket, frame)
        except Exception:
            self._forget(me, to, msg_id)  # not accepted: a resend must be tried again
            raise

    async def _relay(self, socket, frame):
        me, to, msg_id = socket.me, frame["to"], frame["msgId"]
        if self.content is not None and self.content.chat_enabled:
            await self._check_content(me, frame)
        out = chat.message_frame(me, to, frame["content"], frame["type"], msg_id)
        if await self.bus.is_online(to) and await self.bus.send_to_user(to, out, fallback=True):
            self._delivered(socket, to, frame["content"], msg_id)
            await self.bus.send_to_user(me, out, exclude=socket)  # the sender's other devices
            return
        await self.run_db(chat.store_offline, me, to, frame["content"], frame["type"],
                          msg_id, self.limit)
        self.counts["stored"] += 1
        self.lists.note(to, me, frame["content"], 1)
        self.lists.note(me, to)
        await self.bus.send_to_user(me, out, exclude=socket)
        self._ack(socket, msg_id, "stored")
        await self.drain_if_viewing(to, me)  # the recipient may have opened it meanwhile
        if self.notifier is not None and self.notifier.enabled:
            self.later(self.notifier.chat_stored(to, me, frame["content"]), "chat notice")

    def relay_now(self, socket, frame):
        """The common case without a coroutine: local bus, a known recipient with a socket
        here, no content check. True when delivered (or a duplicate), False: run relay()."""
        me, to, msg_id = socket.me, frame["to"], frame["msgId"]
        if (not self.bus.local or not (to == socket.peer or to in self.known_users)
                or not self.registry.is_online(to)
                or (self.content is not None and self.content.chat_enabled)):
            return False
        if msg_id is not None and self._seen(me, to, msg_id):
            self._ack(socket, msg_id, "duplicate")
            return True
        out = chat.message_frame(me, to, frame["content"], frame["type"], msg_id)
        if not self.registry.push(to, out):
            self._forget(me, to, msg_id)
            return False
        self._delivered(socket, to, frame["content"], msg_id)
        self.registry.push(me, out, exclude=socket)  # the sender's other devices
        return True

    def _delivered(self, socket, to, content, msg_id):
        """Bookkeeping of a live delivery: count, conversation lists, acknowledgement."""
        me = socket.me
        self.counts["delivered"] += 1
        self.lists.note(to, me, content, 0 if self.registry.viewing(to, me) else 1)
        self.lists.note(me, to)
        self._ack(socket, msg_id, "delivered")

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

    def _ack(self, socket, msg_id, status):
        """Newer clients (?v=2) get an acknowledgement; the original client would show it."""
        if socket.v2:
            socket.send({"type": "ack", "msgId": msg_id, "status": status,
                         "sendTime": display(utcnow())})

    async def drain_if_viewing(self, to, sender):
        for socket in self.registry.sockets_for(to):
            if socket.peer == sender:
                await self.deliver_offline(socket, sender)

    async def deliver_offline(self, socket, peer):
        """Write the messages kept for socket.me from peer, oldest first; delete only those
        written. One drain per (user, peer) at a time, so two sockets never both get a row."""
        async with self.bus.drain_lock((socket.me, peer)):
            rows = await self.run_db(chat.pending_offline, socket.me, peer)
            written = []
            try:
                for message_id, frame in rows:
                    await socket.write_message(encode(frame))
                    written.append(message_id)
            except (tornado.websocket.WebSocketClosedError, tornado.iostream.StreamClosedError):
                log.info("chat user=%s closed during offline delivery; %d kept",
                         socket.me, len(rows) - len(written))
            if written:
                await self.run_db(chat.delete_offline, written)
                self.counts["delivered"] += len(written)

    async def store_fallback(self, frame):
        """A frame published to this process for a user whose sockets closed meanwhile: keep it
        in the offline store (a full store is logged: the sender was already told delivered)."""
        try:
            await self.run_db(chat.store_offline, frame["fromOpenid"], frame["toOpenid"],
                              frame["content"], frame.get("type", "text"), frame.get("msgId"),
                              self.limit)
            self.counts["stored"] += 1
        except Exception as e:
            log.warning("chat fallback store failed for user=%s: %s", frame["toOpenid"], e)

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
