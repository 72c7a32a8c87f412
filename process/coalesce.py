"""Repeated work done once on the IOLoop: `SeenOnce`, a bounded memory of keys already handled,
and `Coalescer`, concurrent identical calls sharing one result."""
import asyncio


class SeenOnce:
    """A bounded memory of keys already handled (IOLoop only; the oldest are forgotten past
    `size`). The search handler
    uses it so that a searcher's words, once counted today, don't cost a database call again.
    `seen(key)` asks, `add(key)` remembers."""

    def __init__(self, size=10_000):
        self.size = size
        self.keys = {}

    def seen(self, key):
        return key in self.keys

    def add(self, key):
        self.keys[key] = None
        if len(self.keys) > self.size:
            del self.keys[next(iter(self.keys))]

    def discard(self, key):
        self.keys.pop(key, None)


class Coalescer:
    """Concurrent identical calls share one result (IOLoop only): `await run(key, make)` starts
    `make()` unless a call with the same key is running, and every caller gets its outcome (its
    exception, too). The search handler uses it so that many people searching the same word at
    once take one database thread, not one each waiting for the others."""

    def __init__(self):
        self.flights = {}

    async def run(self, key, make):
        flight = self.flights.get(key)
        if flight is None:
            flight = self.flights[key] = asyncio.ensure_future(make())
            flight.add_done_callback(lambda done: self._landed(key, done))
        return await asyncio.shield(flight)

    def _landed(self, key, flight):
        if self.flights.get(key) is flight:
            del self.flights[key]
        if not flight.cancelled():
            flight.exception()  # retrieved here, so an unawaited failure is never reported
