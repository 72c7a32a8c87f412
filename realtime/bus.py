"""The bus delivers frames to users wherever their sockets live. `local`: this process only.

The chat handler and broadcast speak only to a bus, so the Redis bus (several processes) can
replace this one without touching them.
"""
import json

from realtime.registry import Registry


class LocalBus:
    """All sockets live in this process's registry."""

    def __init__(self, registry=None):
        self.registry = registry or Registry()

    async def start(self):
        """Nothing to connect for the local bus."""

    async def stop(self):
        """Nothing to disconnect for the local bus."""

    async def is_online(self, openid):
        """True when the user has at least one live socket."""
        return self.registry.is_online(openid)

    async def send_to_user(self, openid, frame, exclude=None):
        """Deliver a frame to every socket of the user (but `exclude`); returns the count."""
        return self.registry.push(openid, frame, exclude)

    async def broadcast(self, frame):
        """Deliver a frame to every live socket; returns the count."""
        return sum(1 for s in self.registry.all_sockets() if s.send(frame))

    async def stats(self):
        """Live figures for the dashboard and metrics."""
        return {"connections": self.registry.connection_count(),
                "users": self.registry.user_count()}


def encode(frame):
    """Frames are compact JSON with Chinese and emoji as-is."""
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
