"""The bus delivers frames to users wherever their sockets live. `local`: this process only.

The chat pipeline and broadcasts speak only to a bus, so the Redis bus (realtime/redis_bus.py,
several processes or hosts) replaces this one without touching them; realtime/buses.py picks
the one `chat.bus` names.
"""
from realtime.codec import frame_bytes
from realtime.registry import Registry


class LocalBus:
    """All sockets live in this process's registry."""

    local = True  # every socket is in self.registry (False for the Redis bus)
    # fn(kind, openid): an account announcement (realtime/control.py: revoke, blocks, reset)
    on_control = None

    def __init__(self, registry=None):
        self.registry = registry or Registry()

    async def start(self):
        """Nothing to connect for the local bus."""

    async def stop(self):
        """Nothing to disconnect for the local bus."""

    async def is_online(self, openid):
        """True when the user has at least one live socket."""
        return self.registry.is_online(openid)

    def online_now(self, openid):
        """is_online without waiting; realtime.control.MISSING when only a lookup can tell."""
        return openid in self.registry.by_user

    def deliver(self, openid, frame, data, exclude=None, then=None):
        """Write a frame (`data`: its wire bytes, realtime.codec.frame_bytes) to every socket of the user but `exclude`:
        how many took it, or None when the count comes later, through then(count)."""
        return self.registry.push(openid, frame, exclude, data)

    async def broadcast(self, frame):
        """Deliver a frame to every live socket; returns the count."""
        data = frame_bytes(frame)
        return sum(1 for s in self.registry.all_sockets() if s.send(frame, data))

    async def announce(self, kind, openid):
        """Tell every process about an account change (here: this one, at once)."""
        if self.on_control is not None:
            self.on_control(kind, openid)

    async def stats(self):
        """Live figures for the dashboard and metrics."""
        return {"connections": self.registry.connection_count(),
                "users": self.registry.user_count()}
