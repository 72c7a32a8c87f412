"""The chat pipeline: every message takes one path, in this order.

  parse      Connection.on_frame -> services.chat.parse_frame (on the IOLoop)
  authorise  accept(): the recipient exists and neither blocks the other (Control's caches);
             a picture or listing is checked and drawn; the content check when it is on.
             Answered from caches in the common case; else one coroutine asks the database
             and the socket reads its next frame only after it (its frames keep their order)
  store      MessageWriter.queue: group commits on the database executor; nothing is told of
             a message before its commit
  fan out    _committed (the commit's callback, on the IOLoop): encoded once, the same bytes
             written to every socket of the recipient and the sender's other sockets, here or
             through the bus; then the sender's ack
  list       ListWriter.note: conversation-list rows, written in batches
  follow-ups after_store: what else a stored message brings (the subscription notice for an
             offline recipient, the recipient's safety notice), without delaying
             the sender

A recall takes the same way out: Connection's frame dispatch (or POST
/wx/chat/recall through actions.chat.do_recall) -> recall(): the rule in one transaction
(services.recall), then the `recalled` frame through the bus to every socket of both parties,
each Connection wording it for its reader.

Also here: the replay on open, receipts (one timer for all sockets), broadcasts, closing sockets.
"""
import asyncio
import collections
import datetime
import functools
import logging
import time

from realtime.codec import frame_bytes
from realtime.control import MISSING
from realtime.message_writer import MessageWriter
from services import chat, chat_frames, chat_media, recall
from services.chat import ChatRefusal
from services.clock import display
from services.content_checks import RISKY, RISKY_TEXT, SCENE_SOCIAL

log = logging.getLogger("market.chat")

RECENT_IDS = 256  # (recipient, msgId) pairs remembered per sender to drop live resends
RECENT_CAP = 100_000  # pairs remembered in all (least recently sending senders dropped first)
# seconds after a replay to read again on the Redis bus (presence announcements, their cache)
CATCH_UP = (1.0, 5.5)
CONFIRM_AFTER = 0.3  # seconds between receipt pings (one timer for every socket)


class ChatDelivery:
    """The pipeline above. `later(coroutine, what)` runs a follow-up without delaying the
    sender (actions.context.FollowUps.later)."""

    def __init__(self, config, run_db, bus, control, list_writer, content=None, notifier=None,
                 later=None, media=("", ""), safety=None):
        chat_config = config["chat"]
        self.limit = chat_config["offline_limit"]
        self.history = chat_config["history_on_open"]
        self.run_db = run_db
        self.bus = bus
        self.registry = bus.registry
        self.control = control
        self.lists = list_writer
        self.content = content
        self.notifier = notifier
        self.later = later
        self.media = media  # (public base URL, signing secret) for image and goods frames
        self.writer = MessageWriter(run_db, self.limit, chat_config["commit_interval_ms"] / 1000,
                                    deadline=chat_config["store_timeout"])
        self.chat_config = chat_config  # read at each recall (chat.recall_seconds)
        # sender -> {(recipient, msgId): None}, both least recent first; a msgId is unique per
        # sender and recipient (a client may number each conversation from 1). Only ids of
        # committed messages are remembered, so a "duplicate" ack always names a stored message.
        self.recent = collections.OrderedDict()
        self.recent_count, self.recent_cap = 0, RECENT_CAP
        self.counts = collections.Counter()  # delivered / stored / refused (any reason), metrics
        self.to_confirm = {}  # connections whose next receipt ping is due (insertion-ordered)
        self.confirm_timer = None
        # fn(message) after a message is stored and fanned out; message: {"from", "to", "frame",
        # "sent" (sockets that took it), "preview"}. Extension point for per-message follow-ups.
        self.after_store = [self._notify_offline]
        # realtime.safety_notices.SafetyNotices: a hook after each stored message,
        # and the notice of a message that waited while its recipient was away (replay)
        self.safety = safety
        if safety is not None:
            self.after_store.append(safety.after_store)
        self.clock = (None, None, "")  # (whole second, its naive-UTC datetime, its display)

    def start(self):
        self.writer.start()

    async def stop(self):
        """Commit what is queued (its senders get their acks if their sockets still live)."""
        if self.confirm_timer is not None:
            self.confirm_timer.cancel()
            self.confirm_timer = None
        await self.writer.stop()

    # -- parse -> authorise ------------------------------------------------------------------
    def accept(self, conn, frame):
        """Take a parsed message frame from conn: None when it is queued for the next commit
        (or refused: raises ChatRefusal), else an awaitable that finishes authorising it from
        the database and queues it."""
        to = frame["to"]
        if frame["type"] == "text" and not self.content.chat_enabled:
            online = self.bus.online_now(to)
            if online is not MISSING and (to == conn.peer or self.control.user_known(to)):
                refusal = self.control.chat_refusal_now(conn.me, to)
                if refusal is None:
                    self._store(conn, frame, online, None)
                    return None
                if refusal is not MISSING:
                    raise refusal
        return self._authorise(conn, frame)

    async def _authorise(self, conn, frame):
        me, to = conn.me, frame["to"]
        if to != conn.peer and not await self.control.user_exists(to):
            raise ChatRefusal("bad_recipient", "unknown recipient")
        await self.control.check_chat(me, to)
        drawn = None
        if frame["type"] != "text":  # stored as the picture's name or the listing's gid, and
            # drawn now (signed URL, listing card) so the fan-out after the commit never waits
            stored, drawn = await self.run_db(_check_and_draw, me, frame["type"],
                                              frame["content"], *self.media)
            frame = dict(frame, content=stored)
        elif self.content.chat_enabled:
            await self._check_content(me, frame)
        online = await self.bus.is_online(to)
        self._store(conn, frame, online, drawn)

    async def _check_content(self, me, frame):
        """With moderation.chat on, a risky text message is refused (WeChat failing: let pass,
        since chat is not published content and a held message would be a lost one)."""
        verdict, _ = await self.content.check_text(me, SCENE_SOCIAL, frame["content"])
        if verdict == RISKY:
            raise ChatRefusal("risky", RISKY_TEXT)

    # -- store ---------------------------------------------------------------------------------
    def _store(self, conn, frame, online, drawn):
        me, to, msg_id = conn.me, frame["to"], frame["msgId"]
        if msg_id is not None:  # a resend of a message committed here recently: ack it again
            ids = self.recent.get(me)
            if ids is not None and (to, msg_id) in ids:
                self._ack(conn, msg_id, "duplicate", self.now()[1])  # (its seq is not kept)
                return
        op = {"op": "msg", "from": me, "to": to, "content": frame["content"],
              "type": frame["type"], "msgId": msg_id, "time": self.now()[0],
              "offline": not online}
        self.writer.queue(op, functools.partial(self._committed, conn, frame, drawn))

    # -- fan out -> list -> follow-ups (the commit's callback) ---------------------------------
    def _committed(self, conn, frame, drawn, result):
        """The message's batch committed (result: {"seq", "status", "time"}) or failed (an
        exception: the sender is refused, nothing was stored)."""
        if isinstance(result, Exception):
            conn.refused(result, frame["msgId"])
            return
        me, to, msg_id = conn.me, frame["to"], frame["msgId"]
        if msg_id is not None:
            self._seen(me, to, msg_id)
        at = result["time"]
        sent_at = self.clock[2] if at is self.clock[1] else display(at)
        if result["status"] == "duplicate":
            self._ack(conn, msg_id, "duplicate", sent_at, result["seq"])
            return
        seq = result["seq"]
        conn.has(seq)  # the page drew it when sending: never written back to it
        out = chat_frames.message(me, to, frame["content"], frame["type"], sent_at, seq, msg_id)
        if drawn is not None:
            out.update(drawn)
        data = frame_bytes(out)
        self.bus.deliver(me, out, data, exclude=conn)  # the sender's other sockets
        sent = self.bus.deliver(to, out, data,
                                then=functools.partial(self._delivered, conn, frame, out))
        if sent is not None:  # else the bus calls _delivered when other processes answered
            self._delivered(conn, frame, out, sent)

    def _delivered(self, conn, frame, out, sent):
        """Count, conversation lists, acknowledgement (delivered: some socket took it), then
        the follow-ups."""
        me, to = conn.me, frame["to"]
        self.counts["delivered" if sent else "stored"] += 1
        # unread: +1 unless an original client's page is open on it (v2 pages send `read`)
        viewing = sent and any(s.peer == me and not s.v2 for s in self.registry.by_user.get(to, ()))
        preview = (frame["content"] if frame["type"] == "text"
                   else chat_media.preview(frame["type"], frame["content"]))
        self.lists.note_message(me, to, preview, 0 if viewing else 1, seq=out["seq"])
        self._ack(conn, frame["msgId"], "delivered" if sent else "stored", out["sendTime"],
                  out["seq"])
        message = {"from": me, "to": to, "frame": out, "sent": sent, "preview": preview}
        for follow_up in self.after_store:
            try:
                follow_up(message)
            except Exception:
                log.exception("chat follow-up %r failed", follow_up)

    def _notify_offline(self, message):
        """A recipient with no socket anywhere gets a subscription notice (if it subscribed)."""
        if not message["sent"] and self.notifier is not None and self.notifier.enabled:
            self.later(self.notifier.chat_stored(message["to"], message["from"],
                                                 message["preview"]), "chat notice")

    def _ack(self, conn, msg_id, status, sent_at, seq=None):
        """Newer clients (?v=2) get an acknowledgement; the original client would show it. It
        names the message's seq when known (what a recall names)."""
        if conn.v2:
            ack = {"type": "ack", "msgId": msg_id, "status": status, "sendTime": sent_at}
            if seq is not None:
                ack["seq"] = seq
            conn.send(ack)

    def _seen(self, me, to, msg_id):
        """True if this sender's msg_id to `to` is already remembered; else remember it (a
        resend is then acked without storing). At most RECENT_IDS per sender and recent_cap in
        all are kept."""
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

    def now(self):
        """(naive-UTC datetime to the second, its display): made once per second, as every
        message stamped within it shares them."""
        second = int(time.time())
        if self.clock[0] != second:
            at = datetime.datetime.fromtimestamp(second, datetime.timezone.utc).replace(
                tzinfo=None)
            self.clock = (second, at, display(at))
        return self.clock[1:]

    @staticmethod
    def yield_now():
        """Let other sockets' frames through (a busy sender yields every few frames)."""
        return asyncio.sleep(0)

    # -- opening a conversation: the replay, then live frames ---------------------------------
    async def replay(self, conn, since=None):
        """Write the conversation to a socket that just registered: the last `history`
        messages and every one not yet received (or, for v2 with since=, all after it), oldest
        first. Live frames for the socket wait until the replay is written and are deduped by
        seq (Connection.replayed), so nothing is missing, doubled, or ahead of older ones."""
        try:
            frames, top = await self.run_db(chat.replay, conn.me, conn.peer, self.history,
                                            since)
            await self.present(frames)
        except Exception as e:
            log.warning("chat replay for user=%s failed (%s); closing", conn.me, e)
            conn.close(1011, "try again")
            return
        self.counts["held"] += conn.replayed(frames)  # live frames that came during the replay
        self.counts["replayed"] += len(frames)
        if self.safety is not None:  # a matching message that waited while offline
            self.safety.after_replay(conn, frames)
        if not self.bus.local:  # presence reaches other processes a little later
            loop = asyncio.get_running_loop()
            for delay in CATCH_UP:
                loop.call_later(delay, lambda: asyncio.ensure_future(self._catch_up(conn, top)))

    async def _catch_up(self, conn, top):
        """Messages committed by another process that did not yet see this socket's presence
        when it published: read again what is after the replay's newest seq (deduped)."""
        if not conn.open:
            return
        try:
            frames, _ = await self.run_db(chat.replay, conn.me, conn.peer, 0, top)
            await self.present(frames)
        except Exception as e:
            log.info("chat catch-up for user=%s failed: %s", conn.me, e)
            return
        for frame in frames:
            conn.write_message(frame)

    async def present(self, frames):
        """Image and goods frames get their signed URLs and listing cards (text: nothing to do)."""
        if any(f.get("type") not in ("text", None) for f in frames):
            await self.run_db(chat_media.present, frames, *self.media)
        return frames

    # -- recall -----------------------------------------------------------------------
    async def recall(self, me, peer, seq):
        """`me` recalls message `seq` (peer None: whoever it went to): the rule (one
        transaction, services.recall; ChatRefusal when refused), then the recalled frame to
        every socket of both parties, in every process (each Connection words it for its
        reader and writes it once). Returns the rule's answer.

        No list write brings the content back in any order (services.chat.apply_list_updates
        leaves out a message recalled before it). The wait is for the unread count: the rule
        decides from the row whether it had counted the message, so this process's pending
        changes are written first and, with several processes, the others' writers get one
        round (2 x interval): a change pending there is not in the row yet, and the row
        carries no mark of which messages it counted (docs/chat-protocol.md, "Recall")."""
        await self.lists.flush()
        if not self.bus.local:
            await asyncio.sleep(2 * self.lists.interval)
            await self.lists.flush()
        done = await self.run_db(recall.recall, me, peer, seq,
                                 self.chat_config["recall_seconds"])
        out = chat_frames.recalled(done["seq"], done["from"], done["to"], done["sendTime"],
                                   done["msgId"], done["recalledAt"])
        data = frame_bytes(out)  # the other party's wording; each Connection words its own
        self.bus.deliver(done["to"], out, data)
        self.bus.deliver(me, out, data)
        return done

    # -- receipts --------------------------------------------------------------------------------
    def confirm_later(self, conn):
        """conn wrote messages to its user that a receipt ping should confirm: at the next tick
        of the one receipt timer (armed only while some socket waits for one)."""
        self.to_confirm[conn] = None
        if self.confirm_timer is None:
            self.confirm_timer = asyncio.get_running_loop().call_later(CONFIRM_AFTER,
                                                                       self._confirm)

    def _confirm(self):
        self.confirm_timer = None
        due, self.to_confirm = self.to_confirm, {}
        for conn in due:
            conn.ping_for_receipt()

    def receipt(self, conn, kind, seq, seqs=()):
        """A confirmation from a socket: `received` (v1: its pong; v2: the frame) or `read`."""
        me, peer = conn.me, conn.peer
        if kind == "read":
            asyncio.ensure_future(self._read(me, peer, seq, seqs))
        else:
            self.writer.queue({"op": "received", "me": me, "peer": peer, "upto": seq,
                               "seqs": list(seqs)})

    async def _read(self, me, peer, seq, seqs):
        """Write the read receipt (after the pending list changes, so the unread count it sets
        is not added to again), then tell the peer's newer clients (read ticks)."""
        self.writer.queue({"op": "received", "me": me, "peer": peer, "seqs": list(seqs)})
        await self.lists.flush()
        try:
            await self.writer.submit({"op": "read", "me": me, "peer": peer, "seq": seq})
        except Exception as e:
            log.info("chat read receipt of user=%s not written: %s", me, e)
            return
        frame = chat_frames.read_receipt(me, peer, seq)
        self.bus.deliver(peer, frame, frame_bytes(frame))

    def gone(self, conn):
        """A socket closed: it waits for no receipt ping."""
        self.to_confirm.pop(conn, None)

    # -- beyond one message ------------------------------------------------------------------------
    async def broadcast(self, text, sender="admin"):
        """An admin notice to every live socket, shown by the original client as a bubble."""
        frame = chat_frames.broadcast(text, sender)
        return await self.bus.broadcast(frame)

    def close_user(self, openid, code=4403, reason="account blocked"):
        """Close every socket of a user (blocked, or logged out)."""
        for conn in self.registry.sockets_for(openid):
            conn.close(code, reason)

    def close_all(self, code=1001, reason="server going away"):
        for conn in self.registry.all_sockets():
            conn.close(code, reason)


def _check_and_draw(me, kind, content, base, secret):
    """On the database executor: what to store for a picture or listing message (or
    ChatRefusal), and what its recipients are shown ({"content": signed URL, "thumbUrl"} or
    {"goods": card})."""
    stored = chat_media.check(me, kind, content)
    shown = chat_media.present([{"type": kind, "content": stored}], base, secret)[0]
    return stored, {k: v for k, v in shown.items() if k != "type"}
