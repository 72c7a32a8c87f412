"""The chat socket /wx/{fromOpenid}/{toOpenid}: authenticate at the handshake, then move frames.

Everything after the handshake belongs to a realtime.connection.Connection (the socket's state)
and the chat pipeline (realtime/delivery.py); this handler gives the Connection a transport
(write bytes, ping, close) and hands it each frame and pong. See docs/chat-protocol.md for every
frame, close code and limit.
"""
import logging

import tornado.iostream
import tornado.websocket

from handlers.base import AppHandler
from realtime.connection import Connection
from services import chat, validate
from errors import Forbidden, NotFound, ServiceError, Unauthorized

log = logging.getLogger("market.chat")

WRITE_BUFFER_LIMIT = 1024 * 1024  # a peer that stops reading is dropped, not buffered for ever


class ChatSocketHandler(tornado.websocket.WebSocketHandler, AppHandler):
    """One live chat connection of user `me`, opened on the conversation with `peer`; the
    root (AppHandler) gives it config, the token and the JSON refusal of a handshake."""

    me = peer = conn = None

    def check_origin(self, origin):
        """Mini-programs send no Origin (the token protects them); a browser page may open a
        chat only from this same host, so other sites cannot chat in a user's name."""
        return super().check_origin(origin)

    def check_xsrf_cookie(self):
        """Token-authenticated; no cookies involved."""

    def get_compression_options(self):
        """No permessage-deflate: frames are built once and written as they are (write_bytes)."""
        return None

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
        app = self.application
        self.conn = Connection(self, app.chat, self.me, self.peer, self.v2, self.bucket,
                               self.config["chat"]["max_content_chars"], self.tr)
        count = app.registry.add(self.me, self.conn)
        cap = self.config["chat"]["max_connections_per_user"]
        for old in app.registry.sockets_for(self.me)[:max(0, count - cap)]:
            app.registry.remove(self.me, old)
            old.close(4409, "too many connections: closed the oldest")
        log.info("chat open user=%s peer=%s sockets=%d", self.me, self.peer, min(count, cap))
        return app.chat.replay(self.conn, self.since)

    def on_message(self, raw):
        return self.conn.on_frame(raw)

    def on_pong(self, data):
        self.conn.on_pong(data)

    # -- the transport a Connection writes through --------------------------------------------
    def write_bytes(self, data):
        """Write one whole WebSocket frame (realtime.codec.wire: the same bytes for every
        recipient) straight to the stream, without Tornado's coroutine per write_message;
        False if this socket is gone or too slow (then it is closed: a peer that stops reading
        is not buffered for ever)."""
        ws = self.ws_connection
        if ws is None or ws.is_closing():
            return False
        try:
            ws.stream.write(data)  # its future already retrieves its own exception
            return True
        except tornado.iostream.StreamClosedError:
            return False
        except tornado.iostream.StreamBufferFullError:
            self._not_reading()
            return False

    def _not_reading(self):
        log.warning("chat user=%s not reading; closing", self.me)
        try:
            self.close(1008, "not reading")
        except tornado.iostream.StreamBufferFullError:  # no room left even for the close frame
            if self.ws_connection is not None:
                self.ws_connection.stream.close()

    def ping(self, data=b""):
        try:
            super().ping(data)
        except (tornado.websocket.WebSocketClosedError, tornado.iostream.StreamClosedError):
            pass
        except tornado.iostream.StreamBufferFullError:
            self._not_reading()

    def on_close(self):
        if self.conn is not None:
            self.application.registry.remove(self.me, self.conn)
            self.conn.closed()
            log.info("chat close user=%s code=%s", self.me, self.close_code)


default_handlers = [
    (r"/wx/([^/]+)/([^/]+)", ChatSocketHandler),
]
