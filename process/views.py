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
import collections
import logging
import threading
import time

from process.periodic import PeriodicFlush

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
