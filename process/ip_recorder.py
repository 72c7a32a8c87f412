"""The address of each user's requests, noted in memory and written in batches (`IpRecorder`)."""
import logging
import time

from process.periodic import PeriodicFlush

log = logging.getLogger("market.views")


class IpRecorder(PeriodicFlush):
    """The address of each user's requests, recorded cheaply: at login, and
    otherwise at most once per `every` seconds per user in this process; the noted addresses
    are written together every `interval` seconds in one transaction (`write`:
    services.ip_region.record, which also looks up the region). Touched only on the IOLoop."""

    def __init__(self, run_db, write, utcnow, every, enabled=True, interval=1.0, now=None):
        self.run_db, self.write = run_db, write
        self.utcnow = utcnow  # the time each batch is written with (models.utcnow)
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
        if not self.pending:
            return
        batch, self.pending = self.pending, {}
        try:
            self.written += await self.run_db(self.write, batch, self.utcnow())
        except Exception as e:  # the database away: the next flush tries again
            for openid, address in batch.items():
                self.pending.setdefault(openid, address)
            log.warning("recording %d addresses failed: %s", len(batch), e)
