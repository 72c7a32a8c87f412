"""Registry of live chat sockets, per user and per connection. Touched only on the IOLoop thread.

A user may hold several sockets (the mini-program reconnects on every visit to the chat page):
each socket is registered on its own, so closing an old one never removes a newer one, and the
online count is exact. No model imports here: storage lives in services.chat.
"""
import logging

from realtime.codec import frame_bytes

log = logging.getLogger("market.chat")


class Registry:
    def __init__(self):
        self.by_user = {}  # openid -> {socket: None}, insertion-ordered (oldest first)
        self.on_change = None  # fn(openid, online): a user's first socket came / last one went

    def add(self, openid, socket):
        """Register a socket; returns how many the user now holds."""
        sockets = self.by_user.setdefault(openid, {})
        sockets[socket] = None
        if len(sockets) == 1 and self.on_change:
            self.on_change(openid, True)
        return len(sockets)

    def remove(self, openid, socket):
        """Unregister exactly this socket (a no-op if it is already gone)."""
        sockets = self.by_user.get(openid)
        if sockets is None or socket not in sockets:
            return
        del sockets[socket]
        if not sockets:
            del self.by_user[openid]
            if self.on_change:
                self.on_change(openid, False)

    def sockets_for(self, openid):
        """The user's live sockets, oldest first."""
        return list(self.by_user.get(openid, ()))

    def is_online(self, openid):
        return openid in self.by_user

    def viewing(self, openid, peer):
        """True when the user has a socket open on the conversation with peer."""
        for s in self.by_user.get(openid, ()):
            if s.peer == peer:
                return True
        return False

    def connection_count(self):
        return sum(len(s) for s in self.by_user.values())

    def user_count(self):
        return len(self.by_user)

    def all_sockets(self):
        return [s for sockets in self.by_user.values() for s in sockets]

    def push(self, openid, frame, exclude=None, data=None):
        """Send a frame to every socket of the user but `exclude`; returns how many took it.
        `data`, the frame's wire bytes, is made once (here if not given) for all of them."""
        sockets = self.by_user.get(openid)
        if not sockets:
            return 0
        if data is None:
            data = frame_bytes(frame)
        sent = 0
        for socket in list(sockets):
            if socket is not exclude and socket.send(frame, data):
                sent += 1
        return sent
