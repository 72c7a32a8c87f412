"""View counts coalesced in memory: one UPDATE per listing per `interval`, none lost.

A detail view must not pay for a write and its commit: `ViewCounter.count` (called on a database
thread by services.goods.detail) adds the view to `pending` and answers the count the viewer
sees, the committed `open_sum` plus the views this process has not written yet; a loop on the
IOLoop (started by MarketApp.start, stopped by MarketApp.shutdown, which writes what is left)
moves `pending` to `flushing` and writes it in one transaction (services.goods.add_views).

Exact under concurrency: a view reads the committed count and this process's unwritten views
under the same `generation`; a flush bumps it when it begins committing and again when done, so
a read that overlapped the commit of that listing's views is repeated (rare: one commit a
second, and only views of the listings in it wait). With several server
processes each counts its own views; the others' unwritten ones show within one interval.
"""
import asyncio
import collections
import logging
import threading
import time

from realtime.tasks import PeriodicFlush

log = logging.getLogger("market.views")


class ViewCounter(PeriodicFlush):
    def __init__(self, run_db, write, interval=1.0):
        self.run_db = run_db      # coroutine runner on the database executor
        self.write = write        # write({gid: n}) on a database thread, in one transaction
        self.interval = interval
        self.lock = threading.Lock()
        self.write_lock = threading.Lock()  # one flush at a time (a cancelled one may still run)
        self.pending = {}         # gid -> views not yet written
        self.flushing = {}        # gid -> views being written now
        self.generation = 0       # odd while a flush is committing
        self.committed = collections.deque(maxlen=8)  # (generation after, gids) of last flushes

    def unwritten(self, gid):
        with self.lock:
            return self.pending.get(gid, 0) + self.flushing.get(gid, 0)

    def count(self, gid, read):
        """Count one view of `gid`. `read()` (on this database thread) returns (row, open_sum)
        with open_sum the committed count, or raises to count nothing. Returns (row, the count
        this viewer sees, their own view included)."""
        while True:
            with self.lock:
                before = self.generation
                busy = before % 2 and gid in self.flushing
            if busy:  # this listing's views are being committed: visible yet or not?
                time.sleep(0.001)
                continue
            row, committed = read()
            with self.lock:
                if self._untouched(gid, before):
                    self.pending[gid] = self.pending.get(gid, 0) + 1
                    return row, committed + self.pending[gid] + self.flushing.get(gid, 0)

    def _untouched(self, gid, since):
        """(Under the lock.) No commit of `gid`'s views began or ended since `since`."""
        if self.generation == since:
            return True
        if self.generation % 2 and gid in self.flushing:
            return False
        if self.generation - since > 2 * len(self.committed):
            return False  # older than what is remembered: read again
        return not any(after > since and gid in keys for after, keys in self.committed)

    def _write_sync(self):
        with self.write_lock:
            self._write_locked()

    def _write_locked(self):
        with self.lock:
            if not self.pending:
                return
            self.flushing, self.pending = self.pending, {}
            self.generation += 1  # committing
        ok = False
        try:
            self.write(dict(self.flushing))
            ok = True
        finally:
            with self.lock:
                if not ok:  # keep them for the next round
                    for gid, n in self.flushing.items():
                        self.pending[gid] = self.pending.get(gid, 0) + n
                self.generation += 1
                self.committed.append((self.generation, set(self.flushing)))
                self.flushing = {}

    async def flush(self):
        """Write the pending views now, after any write in progress has committed (so a read
        after flush() sees every view counted before it); on failure keep them for next round."""
        if not self.pending and not self.flushing:
            return
        try:
            await self.run_db(self._write_sync)
        except Exception as e:  # keep the loop alive; the views are retried next round
            log.warning("view count update failed (%s); retrying", e)


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


class IpRecorder(PeriodicFlush):
    """The address of each user's requests, recorded cheaply (issue 26, item 3): at login, and
    otherwise at most once per `every` seconds per user in this process; the noted addresses
    are written together every `interval` seconds in one transaction (`write`:
    services.ip_region.record, which also looks up the region). Touched only on the IOLoop."""

    def __init__(self, run_db, write, every, enabled=True, interval=1.0, now=None):
        self.run_db, self.write = run_db, write
        self.every, self.enabled, self.interval = every, enabled, interval
        self.now = now or time.monotonic
        self.seen = {}     # openid -> when its address was last noted (monotonic)
        self.pending = {}  # openid -> address to write
        self.written = 0   # rows written since start (tests, metrics)

    def note(self, openid, address, force=False):
        """A request of `openid` from `address`: noted when forced (a login) or when the user's
        last note is older than `every`. Costs a dict lookup otherwise."""
        if not self.enabled or not openid:
            return
        now = self.now()
        last = self.seen.get(openid)
        if force or last is None or now - last >= self.every:
            if len(self.seen) > 200_000:  # forget users not seen within the window
                self.seen = {k: t for k, t in self.seen.items() if now - t < self.every}
            self.seen[openid] = now
            self.pending[openid] = address

    async def flush(self):
        """Write what was noted since the last flush (kept for the next one on failure)."""
        from models import utcnow
        if not self.pending:
            return
        batch, self.pending = self.pending, {}
        try:
            self.written += await self.run_db(self.write, batch, utcnow())
        except Exception as e:  # the database away: the next flush tries again
            for openid, address in batch.items():
                self.pending.setdefault(openid, address)
            log.warning("recording %d addresses failed: %s", len(batch), e)
