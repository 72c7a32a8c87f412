"""The limits of this process, kept in its memory: token buckets for request rates (one bucket
per key) and the backoff after failed sign-ins. Both are bounded in keys; both made once, in
make_app. Also the one spelling of an admin name (`normalise_name`), which the sign-in throttle
keys by and services.admin_accounts stores and looks names up by."""
import time
import unicodedata

from errors import Phrase, TooMany


def normalise_name(name):
    """The one spelling of an admin name: NFKC, case-folded, NFKC again, outer spaces removed.

    Storage, lookup, the throttle, sessions, tokens and the audit log all use this form and
    compare it exactly (utf8mb4_bin on MySQL, m0006), so `ＲＯＯＴ` and `Root` are `root`, while
    `rôot` stays another name (refused by NAME for new accounts, and matching no account).
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name or "").casefold())
    return folded.strip()


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
            raise TooMany("too many %(what)s, slow down", what=Phrase(what))


class SignInThrottle:
    """Slows repeated failed sign-ins (kept in this process), by normalised name.

    Three counters, each with `free` failures allowed within `window` seconds; past them each
    further attempt must wait 2**(failures - free) seconds (at most its cap) after the last one:
    - (name, address): tight (5), so one address cannot guess one name's password;
    - address, across names: 20, so one address cannot spray many names;
    - name, across addresses: a backstop much higher (100) with a short cap (60 s), so guessing
      from many addresses is slowed, while a single address cannot lock the name out for others.
    """

    def __init__(self, free_pair=5, free_address=20, free_name=100, window=900, cap=300,
                 name_cap=60, max_keys=10_000):
        self.rules = {"pair": (free_pair, cap), "address": (free_address, cap),
                      "name": (free_name, name_cap)}
        self.window, self.max_keys = window, max_keys
        self.failures = {}  # (kind, key) -> (count, last failure time)

    @staticmethod
    def _keys(address, username):
        name = normalise_name(username)[:64]
        return (("pair", (name, address)), ("address", address), ("name", name))

    def wait_seconds(self, address, username, now=None):
        """Seconds the caller must still wait before trying again (0 = may try now)."""
        now = time.monotonic() if now is None else now
        wait = 0.0
        for k in self._keys(address, username):
            count, last = self.failures.get(k, (0, 0.0))
            if now - last > self.window:
                continue
            free, cap = self.rules[k[0]]
            if count >= free:
                wait = max(wait, min(2.0 ** (count - free), cap) - (now - last))
        return max(0.0, wait)

    def check(self, address, username, now=None):
        """Raise TooMany while this name from this address (or either alone) is slowed down."""
        wait = self.wait_seconds(address, username, now)
        if wait > 0:
            raise TooMany("too many failed sign-ins: try again in %(seconds)d s",
                          seconds=int(wait) + 1)

    def failed(self, address, username, now=None):
        """Count one failed attempt against each of the three counters."""
        now = time.monotonic() if now is None else now
        if len(self.failures) >= self.max_keys:
            self.failures = {k: v for k, v in self.failures.items() if now - v[1] <= self.window}
        for k in self._keys(address, username):
            count, last = self.failures.get(k, (0, 0.0))
            self.failures[k] = (count + 1 if now - last <= self.window else 1, now)

    def succeeded(self, address, username):
        """A correct password clears this (name, address) pair; the other counters keep theirs."""
        self.failures.pop(self._keys(address, username)[0], None)
