"""One chat socket's state, owned here and nowhere else: who it is (me, peer, v2), the replay
gate (live messages held while the conversation's history is written), the dedupe window (seqs
it already has) and receipts (what it was written and has not yet confirmed).

The WebSocket handler (handlers/chat_socket.py) only moves frames: it hands each incoming
frame and pong to a Connection and gives it a transport to write bytes, ping and close. The
chat pipeline (realtime/delivery.py) writes messages to a Connection; the registry lists them.
Everything runs on the IOLoop.
"""
import logging
import time

from realtime.codec import frame_bytes, wire
from services import chat, chat_frames
from services.chat import ChatRefusal
from errors import ServiceError

log = logging.getLogger("market.chat")

REFUSALS_BEFORE_CLOSE = 100
YIELD_EVERY = 4  # frames in a row (each within BURST_GAP of the last) before yielding (fairness)
BURST_GAP = 0.001  # seconds: frames further apart than this did not hold the IOLoop together
# seqs remembered per socket to drop a frame it already has (the replay and live frames meeting,
# the Redis catch-up re-reading after the replay): more than a conversation can carry in the
# catch-up window at chat.rate_per_second; bounded, as a busy socket lives for hours
WRITTEN_KEPT = 512
PONG = wire(b'{"type":"pong"}')
RECALLED = "recalled"  # the frame that stands in for a recalled message (its seq)


class Connection:
    """A live chat socket of `me` on the conversation with `peer`.

    transport: write_bytes(data) -> bool (data: a whole WebSocket frame, realtime.codec.wire;
    False: gone or too slow), ping(data), close(code, reason), and ws_connection (None once
    closed). pipeline: realtime.delivery.ChatDelivery."""

    __slots__ = ("transport", "pipeline", "me", "peer", "v2", "bucket", "max_chars", "tr",
                 "replaying", "held", "written", "unconfirmed", "pinged", "pings", "refusals",
                 "burst", "last_frame", "open", "__weakref__")

    def __init__(self, transport, pipeline, me, peer, v2, bucket, max_chars, tr):
        self.transport, self.pipeline = transport, pipeline
        self.me, self.peer, self.v2 = me, peer, v2
        self.bucket, self.max_chars, self.tr = bucket, max_chars, tr
        self.replaying = True  # until the replay is written, live messages wait in `held`
        self.held = []  # (frame, data) of live messages that came during the replay
        self.written = {}  # seqs of message frames this socket has (dedupe), oldest first
        self.unconfirmed = []  # seqs of messages to me written and not yet confirmed
        self.pinged = None  # (ping number, seqs it confirms): at most one outstanding
        self.pings = 0
        self.refusals = 0
        self.burst = 0
        self.last_frame = 0.0
        self.open = True

    @property
    def ws_connection(self):
        return self.transport.ws_connection

    # -- frames in: one dispatch by type ------------------------------------------------------
    def on_frame(self, raw):
        """One frame from the client; returns an awaitable when it waits for the database (the
        handler reads the next frame only after it, so a socket's frames keep their order)."""
        msg_id = None
        try:
            if not self.bucket.take():
                raise ChatRefusal("rate_limited", "you are sending too fast, slow down")
            frame = chat.parse_frame(raw, self.me, self.peer, self.max_chars)
            handler = self.FRAME_TYPES.get(frame["type"], Connection._message)
            msg_id = frame.get("msgId")
            return handler(self, frame)
        except ServiceError as e:
            self.refused(e, msg_id)
            return None

    def _ping(self, frame):
        self.write(PONG)

    def _receipt(self, frame):
        """A v2 client's {"type": "received"|"read", "seq": N}: it has every message to it up
        to N that this socket was written."""
        seq = frame["seq"]
        seqs = [s for s in self.unconfirmed if s <= seq]
        self.unconfirmed = [s for s in self.unconfirmed if s > seq]
        self.pipeline.receipt(self, frame["type"], seq, seqs)

    def _message(self, frame):
        """text, image, goods: into the pipeline (parse, authorise, store, fan out, list)."""
        waiting = self.pipeline.accept(self, frame)
        if waiting is not None:
            return self._awaited(waiting, frame.get("msgId"))
        self.refusals = 0
        # a socket whose frames were all buffered would hold the IOLoop (Tornado reads them
        # inline): after YIELD_EVERY in a row, let other sockets' frames through; frames that
        # came apart cost no yield (a Task each)
        now = time.monotonic()
        self.burst = self.burst + 1 if now - self.last_frame < BURST_GAP else 1
        self.last_frame = now
        if self.burst >= YIELD_EVERY:
            self.burst = 0
            return self.pipeline.yield_now()
        return None

    def _recall(self, frame):
        """{"type": "recall", "seq": N}: the recalled frame, on every socket of both
        parties, answers it (pipeline.recall); a refusal is an error frame here."""
        return self._awaited(self.pipeline.recall(self.me, frame["to"], frame["seq"]), None)

    async def _awaited(self, waiting, msg_id):
        try:
            await waiting
            self.refusals = 0
        except ServiceError as e:
            self.refused(e, msg_id)

    # frame type -> what takes it (extension point: a new frame type adds one entry, and its
    # parsing in services.chat.parse_frame); anything else parse_frame accepts is a message
    FRAME_TYPES = {"ping": _ping, "received": _receipt, "read": _receipt, "recall": _recall}

    def refused(self, e, msg_id):
        code = getattr(e, "code", "unavailable" if e.status >= 500 else "refused")
        self.pipeline.counts["refused"] += 1
        # in the language of the upgrade request's Accept-Language (AppHandler.tr)
        self.send(chat_frames.refusal(self.me, code, self.tr(e), msg_id))
        self.refusals += 1
        if self.refusals >= REFUSALS_BEFORE_CLOSE:
            self.close(1008, "too many refused messages")

    # -- frames out: the replay first, live messages after it, each message once -------------
    def send(self, frame, data=None):
        """Write a frame (`data`: its wire bytes, shared by every recipient) without waiting; False
        if this socket is gone or too slow. A message (it has a seq) waits for the replay."""
        kind = frame.get("type")
        if kind == "read":  # a read tick (it names a seq): newer clients only
            return self.v2 and self.write(frame_bytes(frame) if data is None else data)
        if frame.get("seq") is not None and kind != "ack":  # an ack names a seq, is no message
            if self.replaying:
                self.held.append((frame, data))
                return True
            return self.write_message(frame, data)
        return self.write(frame_bytes(frame) if data is None else data)

    def write_message(self, frame, data=None):
        """Write a message frame unless this socket already has it; note it for its receipt."""
        seq = frame["seq"]
        if frame["type"] == RECALLED:
            return self._write_recalled(frame, seq)
        if seq in self.written:
            return True
        if not self.write(frame_bytes(frame) if data is None else data):
            return False
        self.has(seq)
        if frame["toOpenid"] == self.me:
            self.unconfirmed.append(seq)
            if not self.v2 and self.pinged is None:
                self.pipeline.confirm_later(self)
        return True

    def _write_recalled(self, frame, seq):
        """A recalled message (live, replayed or caught up), once: worded for this
        reader (你撤回了一条消息 / 对方撤回了一条消息 in its language), so encoded here, not shared
        (a recall is rare). The message itself, should it still come (held during the replay,
        a catch-up), is not written after it."""
        key = (RECALLED, seq)
        if key in self.written:
            return True
        if not self.write(frame_bytes(chat_frames.recalled_for(frame, self.me, self.tr))):
            return False
        new = seq not in self.written
        self.has(seq)
        self.has(key)
        if new and frame["toOpenid"] == self.me:  # received, as the message would have been
            self.unconfirmed.append(seq)
            if not self.v2 and self.pinged is None:
                self.pipeline.confirm_later(self)
        return True

    def write(self, data):
        return self.open and self.transport.write_bytes(data)

    def has(self, seq):
        """This socket has message `seq` (written here, or sent from here; or its recall)."""
        written = self.written
        written[seq] = None
        if len(written) > WRITTEN_KEPT:
            del written[next(iter(written))]

    def replayed(self, frames):
        """The replay's frames, then the live messages that came meanwhile, in seq order."""
        for frame in frames:
            self.write_message(frame)
        self.replaying = False
        held, self.held = self.held, []
        for frame, data in sorted(held, key=lambda fd: fd[0]["seq"]):
            self.write_message(frame, data)
        return len(held)

    # -- receipts of the original client: a ping covers every frame written before it ----------
    def ping_for_receipt(self):
        """Called by the pipeline's one receipt timer: a pong to this ping proves the client
        read every frame written before it."""
        if self.pinged is not None or not self.unconfirmed or not self.open:
            return
        self.pings += 1
        self.pinged, self.unconfirmed = (self.pings, self.unconfirmed), []
        self.transport.ping(b"r%d" % self.pings)

    def on_pong(self, data):
        if self.pinged is None or data != b"r%d" % self.pinged[0]:
            return  # Tornado's keep-alive ping, or an answer to nothing outstanding
        seqs, self.pinged = self.pinged[1], None
        self.pipeline.receipt(self, "received", None, seqs)
        if self.unconfirmed:
            self.pipeline.confirm_later(self)

    # -- the end ------------------------------------------------------------------------------
    def close(self, code, reason):
        self.transport.close(code, reason)

    def closed(self):
        self.open = False
        self.pipeline.gone(self)
