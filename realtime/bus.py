"""The bus delivers frames to users wherever their sockets live. `local`: this process only.

The chat delivery and broadcast speak only to a bus, so the Redis bus (realtime/redis_bus.py,
several processes or hosts) replaces this one without touching them.
"""
import asyncio
import contextlib
import json

from realtime.registry import Registry


class LocalBus:
    """All sockets live in this process's registry."""

    local = True  # every socket is in self.registry (False for the Redis bus)
    # async fn(frame): keeps a frame published for a user who left meanwhile (set by the chat
    # delivery; only a bus that hands frames to other processes ever calls it)
    fallback = None
    # fn(kind, openid): an account announcement (realtime/control.py: revoke, blocks, reset)
    on_control = None

    def __init__(self, registry=None):
        self.registry = registry or Registry()
        self._locks = {}

    async def start(self):
        """Nothing to connect for the local bus."""

    async def stop(self):
        """Nothing to disconnect for the local bus."""

    async def is_online(self, openid):
        """True when the user has at least one live socket."""
        return self.registry.is_online(openid)

    async def send_to_user(self, openid, frame, exclude=None, fallback=False):
        """Deliver a frame to every socket of the user (but `exclude`); returns how many took it.
        `fallback` asks a remote process to store the frame if the user left meanwhile."""
        return self.registry.push(openid, frame, exclude)

    async def broadcast(self, frame):
        """Deliver a frame to every live socket; returns the count."""
        return sum(1 for s in self.registry.all_sockets() if s.send(frame))

    async def announce(self, kind, openid):
        """Tell every process about an account change (here: this one, at once)."""
        if self.on_control is not None:
            self.on_control(kind, openid)

    async def stats(self):
        """Live figures for the dashboard and metrics."""
        return {"connections": self.registry.connection_count(),
                "users": self.registry.user_count()}

    @contextlib.asynccontextmanager
    async def drain_lock(self, key):
        """One offline-queue drain per key at a time (in this process)."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and not getattr(lock, "_waiters", None):
                self._locks.pop(key, None)


def encode(frame):
    """Frames are compact JSON with Chinese and emoji as-is."""
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def make_bus(config):
    """The bus chat.bus names."""
    if config["chat"]["bus"] == "redis":
        from realtime.redis_bus import RedisBus
        return RedisBus(config["redis"]["url"], config["redis"]["presence_ttl"])
    return LocalBus()
