"""Token-bucket rate limits, kept in this process's memory (one bucket per key)."""
import time

from services.errors import TooMany


class Bucket:
    """`rate` tokens per second, holding at most `burst`."""
    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate, burst, now=None):
        self.rate, self.burst = float(rate), float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic() if now is None else now

    def take(self, now=None):
        """True and one token spent, or False when empty."""
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Limiter:
    """Named per-minute limits: limiter.hit("login", key, per_minute)."""

    def __init__(self, max_keys=100_000):
        self.buckets = {}
        self.max_keys = max_keys

    def bucket(self, name, key, rate, burst):
        """The bucket (name, key): `rate` tokens per second, at most `burst`; shared by callers."""
        k = (name, key)
        bucket = self.buckets.get(k)
        if bucket is None:
            if len(self.buckets) >= self.max_keys:
                self.buckets.clear()  # bounded memory; a reset only ever lets a little more through
            bucket = self.buckets[k] = Bucket(rate, burst)
        return bucket

    def hit(self, name, key, per_minute, what="requests"):
        """Spend one token of bucket (name, key) or raise TooMany."""
        if not self.bucket(name, key, per_minute / 60.0, per_minute).take():
            raise TooMany("too many %s, slow down" % what)
