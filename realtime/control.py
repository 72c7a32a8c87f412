"""What every process must learn at once about an account: a revocation (the account was
deleted: its tokens end, its sockets close) and a changed block list. Both are read
per request or per chat frame from short caches here, filled from the database and emptied by
an announcement on the bus (`bus.announce`: this process at once, the others through Redis when
`chat.bus` is redis), so no request pays a query for them in the common case and no process
acts on a stale answer for longer than the bus takes to tell it.

A lost announcement (Redis down or restarting) is bounded by the caches' lifetimes: EPOCH_TTL
for tokens, BLOCKS_TTL for blocks (plus one database read: the chat's fast path answers an
expired block set while it is read again); every resubscription empties both.
"""
import asyncio
import collections
import logging
import time

from services import accounts, blocks, chat
from services.chat import ChatRefusal

log = logging.getLogger("market.accounts")

EPOCH_TTL = 10.0   # seconds a token epoch is reused without asking the database
BLOCKS_TTL = 30.0  # seconds a user's block set is reused
CACHE_CAP = 50_000  # entries per cache (least recently filled dropped first)
KNOWN_CAP = 100_000  # chat recipients known to exist (forgotten all at once past it)
MISSING = object()

BLOCKED_TEXT = "Not sent: this user does not accept your messages"
BLOCKING_TEXT = "Not sent: you have blocked this user; unblock them to chat"


class AnnouncedCache:
    """key -> value for `ttl` seconds, dropped by invalidate(key) at once. A value read from the
    database is not kept when an invalidation of its key came while it was being read (the
    answer may predate the change): put() takes the moment the read began."""

    def __init__(self, ttl, cap=CACHE_CAP):
        self.ttl, self.cap = ttl, cap
        self.values = collections.OrderedDict()  # key -> (value, until)
        self.changed = {}  # key -> monotonic time of its last invalidation
        self.cleared = 0.0

    def get(self, key, stale=None):
        """The value, or MISSING. An expired one is still answered when `stale` is given:
        stale(key) is then called to have it read again (never for an invalidated key)."""
        hit = self.values.get(key)
        if hit is None:
            return MISSING
        if hit[1] < time.monotonic():
            if stale is None:
                return MISSING
            stale(key)
        return hit[0]

    def put(self, key, value, asked):
        if asked < self.cleared or self.changed.get(key, 0.0) >= asked:
            return
        self.values[key] = (value, time.monotonic() + self.ttl)
        self.values.move_to_end(key)
        while len(self.values) > self.cap:
            self.values.popitem(last=False)

    def invalidate(self, key):
        self.values.pop(key, None)
        if len(self.changed) > self.cap:
            self.changed.clear()
            self.cleared = time.monotonic()
        self.changed[key] = time.monotonic()

    def clear(self):
        self.values.clear()
        self.changed.clear()
        self.cleared = time.monotonic()


class Control:
    """The token epochs and block sets of one process, the chat recipients known to exist, and
    what an announcement does here (the registry: to close a deleted account's sockets)."""

    def __init__(self, run_db, bus):
        self.run_db, self.bus, self.registry = run_db, bus, bus.registry
        self.epochs = AnnouncedCache(EPOCH_TTL)
        self.blocks = AnnouncedCache(BLOCKS_TTL)
        self.refreshing = set()  # block sets being read again for the chat's fast path
        self.known_users = set()  # chat recipients that exist (a revocation drops one)
        bus.on_control = self.apply

    async def _cached(self, cache, fn, key, force=False):
        value = MISSING if force else cache.get(key)
        if value is MISSING:
            asked = time.monotonic()
            value = await self.run_db(fn, key)
            cache.put(key, value, asked)
        return value

    def epoch_now(self, openid):
        """The cached epoch of `openid`, or MISSING (then await epoch())."""
        hit = self.epochs.values.get(openid)
        return hit[0] if hit is not None and hit[1] >= time.monotonic() else MISSING

    async def epoch(self, openid):
        """The epoch a user token of `openid` must carry (services.accounts.token_epoch)."""
        return await self._cached(self.epochs, accounts.token_epoch, openid)

    async def blocked_by(self, openid):
        """The openids `openid` blocks (a frozenset, empty for almost everyone)."""
        return await self._cached(self.blocks, blocks.blocked_by, openid)

    # -- chat: the checks where a message is accepted (realtime/delivery.py) -----------------
    def user_known(self, openid):
        """Without waiting: True when `openid` is known to exist (else ask user_exists)."""
        return openid in self.known_users

    async def user_exists(self, openid):
        """Whether a chat recipient exists (not deleted); remembered when it does."""
        if openid in self.known_users:
            return True
        if not await self.run_db(chat.user_exists, openid):
            return False
        if len(self.known_users) > KNOWN_CAP:
            self.known_users.clear()
        self.known_users.add(openid)
        return True

    def chat_refusal_now(self, me, to):
        """Without waiting: the refusal of a message from `me` to `to` when the two block each
        other, None when they don't, MISSING when a set is not cached (ask check_chat)."""
        values = self.blocks.values  # AnnouncedCache.get inlined: this runs per live message
        theirs, mine = values.get(to), values.get(me)
        if theirs is None or mine is None:
            return MISSING
        now = time.monotonic()
        if theirs[1] < now:
            self._refresh(to)
        if mine[1] < now:
            self._refresh(me)
        if me in theirs[0] or to in mine[0]:
            return self._refusal(me, to, theirs[0], mine[0])
        return None

    def _refresh(self, openid):
        """An expired set used by the fast path is read again in the background (so a live
        message never waits for it, and one sender's frames keep one path and their order);
        an announced change drops the set at once instead."""
        if openid not in self.refreshing:
            self.refreshing.add(openid)
            task = asyncio.ensure_future(self._cached(self.blocks, blocks.blocked_by, openid,
                                                      force=True))
            task.add_done_callback(lambda t: (self.refreshing.discard(openid),
                                              t.cancelled() or t.exception()))

    async def check_chat(self, me, to):
        """Raise the refusal of a message from `me` to `to` when either blocks the other."""
        refusal = self._refusal(me, to, await self.blocked_by(to), await self.blocked_by(me))
        if refusal is not None:
            raise refusal

    @staticmethod
    def _refusal(me, to, theirs, mine):
        if me in theirs:
            return ChatRefusal("blocked", BLOCKED_TEXT)
        if to in mine:
            return ChatRefusal("blocking", BLOCKING_TEXT)
        return None

    # -- announcements ------------------------------------------------------------------------
    async def revoked(self, openid):
        """Every token and socket of `openid` ends, in every process (after the commit)."""
        await self.bus.announce("revoke", openid)

    async def blocks_changed(self, blocker):
        """`blocker`'s block set changed: every process reads it again."""
        await self.bus.announce("blocks", blocker)

    def apply(self, kind, openid):
        """An announcement from any process (this one included)."""
        if kind == "revoke":
            self.epochs.invalidate(openid)
            self.blocks.clear()  # sets that name the deleted openid, and its own
            self.known_users.discard(openid)
            for conn in self.registry.sockets_for(openid):
                conn.close(4401, "account deleted")
        elif kind == "blocks":
            self.blocks.invalidate(openid)
        elif kind == "reset":  # announcements may have been missed (resubscribed)
            self.epochs.clear()
            self.blocks.clear()
        else:
            log.warning("ignored an unknown announcement %r", kind)
