"""Caches of one process, bounded, under a lock (read from database threads): the candidate gids
of recent searches (`CandidateCache`) and the dashboard's counts of days already over
(`PastDays`). Their instances live with the rules that fill them (search's candidate_cache,
dashboard's past_days)."""
import collections
import threading
import time


class CandidateCache:
    """The candidate gids of recent searches by engine query, for `seconds` (a bounded LRU).
    Cleared in this process whenever the index changes (reindex, remove); other processes see
    a change within `seconds`. Pages are cut from the candidates and their rows read fresh, so
    a listing taken down leaves every page at once."""

    def __init__(self, size=2000):
        self.size = size
        self.entries = collections.OrderedDict()
        self.lock = threading.Lock()
        self.filling = {}  # key -> lock held by the one thread running that query now
        self.generation = 0  # bumped by clear(): a fill that began before is not kept

    def get_or_fill(self, key, seconds, fill):
        """The cached candidates of `key`, or `fill()`'s, run by one thread at a time per key:
        a word many search at once (a cold cache, an expired entry) costs one engine query."""
        gids = self.get(key, seconds)
        if gids is not None:
            return gids
        with self.lock:
            filling = self.filling.setdefault(key, threading.Lock())
        with filling:
            gids = self.get(key, seconds)  # filled while this thread waited
            if gids is None:
                generation = self.generation
                gids = fill()
                with self.lock:
                    if generation == self.generation:
                        self.put_locked(key, gids)
        with self.lock:
            if self.filling.get(key) is filling and not filling.locked():
                del self.filling[key]
        return gids

    def get(self, key, seconds):
        with self.lock:
            hit = self.entries.get(key)
            if hit is None or time.monotonic() - hit[0] > seconds:
                return None
            self.entries.move_to_end(key)
            return hit[1]

    def put_locked(self, key, gids):
        self.entries[key] = (time.monotonic(), gids)
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)

    def clear(self):
        with self.lock:
            self.generation += 1
            self.entries.clear()


class PastDays:
    """Counts of whole China days already over, kept `ttl` seconds: they no longer change (rows
    are written with the time they are written), so a dashboard view counts only today and the
    days it has not seen, instead of a month of index entries (0.5 s for 300k chat messages on
    a busy 2-core host). Per database, bounded; `forget()` empties it (tests re-seed old days)."""

    def __init__(self, ttl=600, keep=200):
        self.ttl, self.keep, self._counts, self._lock = ttl, keep, {}, threading.Lock()

    def get(self, key, clock):
        with self._lock:
            found = self._counts.get(key)
        return found[0] if found and clock - found[1] < self.ttl else None

    def put(self, key, count, clock):
        with self._lock:
            if len(self._counts) >= self.keep:
                self._counts.clear()
            self._counts[key] = (count, clock)

    def forget(self):
        with self._lock:
            self._counts.clear()
