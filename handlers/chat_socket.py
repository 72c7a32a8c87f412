"""The chat socket /wx/{fromOpenid}/{toOpenid}: authenticate, then relay, store or refuse frames.

See docs/chat-protocol.md for every frame, close code and limit.
"""
import asyncio
import logging

import tornado.ioloop
import tornado.iostream
import tornado.websocket

from actions.chat import do_recall
from handlers.base import AppHandler
from realtime.bus import encode
from services import chat, recall, validate
from services.chat import ChatRefusal
from services.errors import Forbidden, NotFound, ServiceError, Unauthorized

log = logging.getLogger("market.chat")

WRITE_BUFFER_LIMIT = 1024 * 1024  # a peer that stops reading is dropped, not buffered for ever
REFUSALS_BEFORE_CLOSE = 100
YIELD_EVERY = 4  # live frames handled without a coroutine before yielding to the IOLoop
CONFIRM_AFTER = 0.3  # seconds after writing a message before the ping that confirms it
# seqs remembered per socket to drop a frame it already has (the replay and live frames meeting,
# the Redis catch-up re-reading after the replay): more than a conversation can carry in the
# catch-up window at chat.rate_per_second; bounded, as a busy socket lives for hours
WRITTEN_KEPT = 512
# frames that stand for a message (by seq): written in seq order after the replay, once each
# (an ack names a seq too, issue 25, but is no message)
MESSAGE_FRAMES = chat.TYPES + ("recalled",)


class ChatSocketHandler(tornado.websocket.WebSocketHandler, AppHandler):
    """One live chat connection of user `me`, opened on the conversation with `peer`; the
    root (AppHandler) gives it config, the token and the JSON refusal of a handshake."""

    me = peer = None
    burst = 0
    v2 = replaying = False
    confirm_timer = None
    pings = 0

    def initialize(self):
        self.held = []  # live message frames waiting for the replay
        self.written = {}  # seqs of message frames written here (dedupe), oldest first
        self.unconfirmed = []  # seqs of messages to me written and not yet confirmed
        self.pinged = {}  # ping number -> seqs written before that ping

    def check_origin(self, origin):
        """Mini-programs send no Origin (the token protects them); a browser page may open a
        chat only from this same host, so other sites cannot chat in a user's name."""
        return super().check_origin(origin)

    def check_xsrf_cookie(self):
        """Token-authenticated; no cookies involved."""

    async def get(self, from_openid, to_openid):
        """Refuse at the handshake (401/403/404, JSON body) before upgrading."""
        try:
            if self.request.headers.get("Upgrade", "").lower() != "websocket":
                raise NotFound("no such endpoint")
            self.limit_address()  # handshakes share the REST calls' budget (campus NATs)
            self.me = self._authenticate(from_openid)
            await self.check_user_session()  # a deleted account's token opens nothing
            self.peer = validate.openid(to_openid, "toOpenid")
            if self.peer == self.me:
                raise Forbidden("you cannot chat with yourself")
            await self.run_db(chat.open_conversation, self.me, self.peer,
                              self.get_query_argument("v", "1") != "2")
        except ServiceError as e:  # said once, on the access line (write_refusal keeps it)
            self.write_refusal(e.status, e)
            return
        self.v2 = self.get_query_argument("v", "1") == "2"
        self.since = None
        if self.v2 and self.get_query_argument("since", None) is not None:
            self.since = validate.strict_int(self.get_query_argument("since"))
            if self.since is None or not 0 <= self.since <= validate.DB_INT_MAX:  # ASCII only
                self.write_refusal(400, "since must be a seq number")
                return
        # One budget per user, shared by all their sockets (more sockets are not more messages)
        self.bucket = self.application.limiter.bucket("chat", self.me,
                                                      self.config["chat"]["rate_per_second"],
                                                      self.config["chat"]["rate_burst"])
        self.refusals = 0
        await super().get(from_openid, to_openid)

    def _authenticate(self, from_openid):
        """The connection's user: the token's, which must equal the path's fromOpenid."""
        claims = self.claims
        if claims is None:
            if self.config["auth"]["require_token"]:
                raise Unauthorized("login required: send the token")
            return validate.openid(from_openid, "fromOpenid")
        if claims["role"] != "user" or claims["sub"] != from_openid:
            raise Forbidden("the path's openid does not match the token")
        return claims["sub"]

    def open(self, *args):
        """Register (evicting the oldest socket past the cap), then replay the conversation."""
        self.set_nodelay(True)
        self.ws_connection.stream.max_write_buffer_size = WRITE_BUFFER_LIMIT
        registry = self.application.registry
        count = registry.add(self.me, self)
        cap = self.config["chat"]["max_connections_per_user"]
        for old in registry.sockets_for(self.me)[:max(0, count - cap)]:
            registry.remove(self.me, old)
            old.close(4409, "too many connections: closed the oldest")
        log.info("chat open user=%s peer=%s sockets=%d", self.me, self.peer, min(count, cap))
        return self.application.chat.replay(self, self.since)

    def on_message(self, raw):
        """One frame: limit, parse, then deliver live, store offline, or refuse."""
        msg_id = None
        try:
            if not self.bucket.take():
                raise ChatRefusal("rate_limited", "you are sending too fast, slow down")
            frame = chat.parse_frame(raw, self.me, self.peer,
                                     self.config["chat"]["max_content_chars"])
            if frame["type"] == "ping":
                self.send({"type": "pong"})
                return
            if frame["type"] in ("received", "read"):
                self._receipt(frame["type"], frame["seq"])
                return
            if frame["type"] == "recall":  # issue 25: the one place a recall frame goes
                return self._recall(frame)
            msg_id = frame["msgId"]
            if self.application.chat.relay_now(self, frame):  # live, here: no coroutine
                self.refusals = 0
                self.burst += 1
                if self.burst >= YIELD_EVERY:  # let other sockets' frames through (fairness)
                    self.burst = 0
                    return asyncio.sleep(0)
                return None
        except ServiceError as e:
            self.refused(e, msg_id)
            return None
        return self._relay(frame, msg_id)

    async def _relay(self, frame, msg_id):
        try:
            await self.application.chat.relay(self, frame)
            self.refusals = 0
        except ServiceError as e:
            self.refused(e, msg_id)

    async def _recall(self, frame):
        """{"type": "recall", "seq": N}: the recalled frame on every socket of both parties
        answers it (actions.chat.do_recall); a refusal is an error frame here."""
        try:
            await do_recall(self.actions, self.me, frame["to"], frame["seq"])
        except ServiceError as e:
            self.refused(e, None)

    def refused(self, e, msg_id):
        code = getattr(e, "code", "unavailable" if e.status >= 500 else "refused")
        self.application.chat.counts["refused"] += 1
        # in the language of the upgrade request's Accept-Language (AppHandler.tr)
        self.send(chat.refusal_frame(self.me, code, self.tr(e), msg_id))
        self.refusals += 1
        if self.refusals >= REFUSALS_BEFORE_CLOSE:
            self.close(1008, "too many refused messages")

    # -- writing: the replay first, live frames after it, each message once -------------------
    def send(self, frame):
        """Write a frame without waiting; False if this socket is gone or too slow. A message
        (it has a seq) waits while the replay is being written."""
        if isinstance(frame, dict):
            if frame.get("type") == "read":
                return self.v2 and self._write(frame)  # read ticks are for newer clients only
            if frame.get("seq") is not None and frame.get("type") in MESSAGE_FRAMES:
                if self.replaying:
                    self.held.append(frame)
                    return True
                return self.write_frame(frame)
        return self._write(frame)

    def write_frame(self, frame):
        """Write a message frame unless this socket already has it; note it for confirmation."""
        seq = key = frame["seq"]
        if frame.get("type") == "recalled":  # issue 25: worded for this reader, written once
            key, frame = ("recalled", seq), recall.for_reader(frame, self.me, self.tr)
        if key in self.written:
            return True
        if not self._write(frame):
            return False
        self.has(key)
        if frame["toOpenid"] == self.me:
            self.unconfirmed.append(seq)
            if not self.v2 and self.confirm_timer is None:
                self.confirm_timer = tornado.ioloop.IOLoop.current().call_later(
                    CONFIRM_AFTER, self._ping_for_receipt)
        return True

    def has(self, seq):
        """This socket has message `seq` (written here, or sent from here; or its recall)."""
        self.written[seq] = None
        if len(self.written) > WRITTEN_KEPT:
            self.written.pop(next(iter(self.written)))

    def end_replay(self):
        """The replay is written: the live frames that came meanwhile follow, in seq order."""
        self.replaying = False
        held, self.held = self.held, []
        for frame in sorted(held, key=lambda f: f["seq"]):
            self.write_frame(frame)

    def _write(self, frame):
        if self.ws_connection is None or self.ws_connection.is_closing():
            return False
        try:
            written = self.write_message(encode(frame) if isinstance(frame, dict) else frame)
            written.add_done_callback(_ignore_closed)  # no "exception never retrieved" per frame
            return True
        except tornado.websocket.WebSocketClosedError:
            return False
        except tornado.iostream.StreamBufferFullError:
            log.warning("chat user=%s not reading; closing", self.me)
            self.close(1008, "not reading")
            return False

    # -- receipts: what "received" means (docs/chat-protocol.md) ----------------------------
    def _ping_for_receipt(self):
        """The original client: a pong to this ping proves it read every frame before it."""
        self.confirm_timer = None
        if not self.unconfirmed or self.ws_connection is None:
            return
        self.pings += 1
        self.pinged[self.pings], self.unconfirmed = self.unconfirmed, []
        try:
            self.ping(b"r%d" % self.pings)
        except tornado.websocket.WebSocketClosedError:
            pass

    def on_pong(self, data):
        n = validate.strict_int(data[1:]) if data.startswith(b"r") else None
        if n is None:
            return  # Tornado's keep-alive ping
        seqs = [s for k in sorted(self.pinged) if k <= n for s in self.pinged.pop(k)]
        if seqs:
            self.application.chat.receipt(self, "received", None, seqs)

    def _receipt(self, kind, seq):
        """A v2 client's {"type": "received"|"read", "seq": N}."""
        seqs = [s for s in self.unconfirmed if s <= seq]
        self.unconfirmed = [s for s in self.unconfirmed if s > seq]
        self.application.chat.receipt(self, kind, seq, seqs)

    def on_close(self):
        if self.confirm_timer is not None:
            tornado.ioloop.IOLoop.current().remove_timeout(self.confirm_timer)
            self.confirm_timer = None
        if self.me is not None:
            self.application.registry.remove(self.me, self)
            log.info("chat close user=%s code=%s", self.me, self.close_code)


def _ignore_closed(future):
    """A frame not written because the socket closed meanwhile: nothing to report (on_close
    already logged the close; a live message's sender was acked on handing it over)."""
    if not future.cancelled():
        future.exception()


default_handlers = [
    (r"/wx/([^/]+)/([^/]+)", ChatSocketHandler),
]
