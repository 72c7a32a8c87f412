"""The Redis bus: several processes (or hosts) share one chat through Redis pub/sub and a few keys.

- presence: a sorted set per user `market:presence:{openid}` of process ids scored by expiry,
  refreshed every ttl/3 seconds while the process lives, so a crashed process's users count as
  offline within `presence_ttl` seconds;
- delivery: a frame for a user with sockets on another process is published on that process's
  channel `market:node:{id}`; one publishing task sends whatever is queued in one pipeline (one
  round trip for many messages) and keeps the order of the queue, so per sender and pair;
- broadcast: the channel `market:broadcast`, which every process (this one included) relays;
- live figures: the hash `market:nodes` (one field per process, with its expiry).
Every message is stored before it is published, so while Redis is unreachable nothing is lost:
the bus degrades to this process, a message for a user elsewhere is acknowledged `stored` and
replayed when its recipient next opens the conversation, errors are logged, and connections are
retried with back-off. See docs/scaling.md.
"""
import asyncio
import contextlib
import json
import logging
import time
import uuid

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from process.periodic import stop_tasks
from realtime.bus import LocalBus
from realtime.codec import decode, encode
from realtime.control import MISSING

log = logging.getLogger("market.bus")
PREFIX = "market:"
BROADCAST = PREFIX + "broadcast"
NODES = PREFIX + "nodes"
PRESENCE = PREFIX + "presence"  # channel: "<openid>" whose sockets changed on some process
CONTROL = PREFIX + "control"  # channel: account announcements (realtime/control.py)
PUBLISH_BATCH = 500
REMOTE_CACHE = 5.0  # at most this (and ttl/3) seconds a presence answer is reused


def presence_key(openid):
    return PREFIX + "presence:" + openid


class RedisBus(LocalBus):
    local = False  # users may have sockets in other processes

    def __init__(self, url, presence_ttl=15.0, registry=None):
        super().__init__(registry)
        self.url, self.ttl = url, float(presence_ttl)
        self.node = uuid.uuid4().hex[:12]
        self.channel = PREFIX + "node:" + self.node
        # A blocking pool: under load callers wait for a connection instead of failing with
        # "Too many connections" (which would quietly degrade the bus to this process).
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=64, timeout=5, socket_timeout=2, socket_connect_timeout=2,
            decode_responses=True)
        self.redis = aioredis.Redis(connection_pool=pool)
        self.remote = {}  # openid -> (other processes holding a socket, until when)
        self.subscribed = False
        self.outbox, self.wake = [], asyncio.Event()
        self.announced = {}  # openid -> monotonic time of the last announced change
        self.sub = aioredis.from_url(url, socket_connect_timeout=2, decode_responses=True,
                                     health_check_interval=5)
        self.changes = asyncio.Queue()
        self.registry.on_change = lambda openid, online: self.changes.put_nowait((openid, online))
        self.tasks = []
        self.healthy = False
        self.stopping = False  # set by stop(): every loop ends even if a cancel was swallowed

    async def start(self):
        """Subscribe, publish presence, and keep both alive."""
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self._listen(), name="bus-listen"),
                      loop.create_task(self._heartbeat(), name="bus-heartbeat"),
                      loop.create_task(self._presence_changes(), name="bus-presence"),
                      loop.create_task(self._publisher(), name="bus-publisher")]

    async def stop(self):
        self.stopping = True
        await stop_tasks(self.tasks)
        for _, _, done in self.outbox:  # not sent: their senders are told `stored`
            _settle(done, 0)
        self.outbox = []
        with contextlib.suppress(RedisError, OSError):
            pipe = self.redis.pipeline(transaction=False)
            for openid in list(self.registry.by_user):
                pipe.zrem(presence_key(openid), self.node)
            pipe.hdel(NODES, self.node)
            await pipe.execute()
        with contextlib.suppress(RedisError, OSError):
            await self.redis.aclose()
            await self.sub.aclose()

    def _trouble(self, what, error):
        if self.healthy:
            log.warning("redis %s failed (%s); chat degrades to this process", what, error)
        self.healthy = False

    # -- presence ----------------------------------------------------------------------------
    async def _heartbeat(self):
        """Refresh this process's presence entries and figures every ttl/3 seconds."""
        while not self.stopping:
            try:
                await self._refresh()
                if not self.healthy:
                    log.info("redis reachable (node %s)", self.node)
                self.healthy = True
            except (RedisError, OSError) as e:
                self._trouble("heartbeat", e)
            await asyncio.sleep(self.ttl / 3)

    async def _refresh(self):
        expires = time.time() + self.ttl
        pipe = self.redis.pipeline(transaction=False)
        for openid in list(self.registry.by_user):
            pipe.zadd(presence_key(openid), {self.node: expires})
            pipe.expire(presence_key(openid), int(self.ttl) + 1)
        figures = {"expires": expires, "connections": self.registry.connection_count(),
                   "users": self.registry.user_count()}
        pipe.hset(NODES, self.node, json.dumps(figures))
        await pipe.execute()

    async def _presence_changes(self):
        """Apply a user's first socket / last socket here at once, in order."""
        while not self.stopping:
            openid, online = await self.changes.get()
            try:
                pipe = self.redis.pipeline(transaction=False)
                if online:
                    pipe.zadd(presence_key(openid), {self.node: time.time() + self.ttl})
                    pipe.expire(presence_key(openid), int(self.ttl) + 1)
                else:
                    pipe.zrem(presence_key(openid), self.node)
                pipe.publish(PRESENCE, openid)  # every process drops its cached answer
                await pipe.execute()
            except (RedisError, OSError) as e:
                self._trouble("presence", e)  # the heartbeat re-publishes the truth

    async def _nodes_of(self, openid):
        """Other processes holding a live socket of this user ([] when Redis is unreachable).

        The answer is cached, so a message costs no lookup: every presence change is announced
        on PRESENCE and drops the cached answer in every process; REMOTE_CACHE bounds how long a
        lost announcement (a process that crashed, a Redis restart) can keep it. Stale "online"
        is safe: the process the user left stores the message offline."""
        now, asked = time.time(), time.monotonic()
        cached = self.remote.get(openid)
        if cached and cached[1] > now:
            return cached[0]
        try:
            nodes = await self.redis.zrangebyscore(presence_key(openid), now, "+inf")
        except (RedisError, OSError) as e:
            self._trouble("presence lookup", e)
            return []
        nodes = [n for n in nodes if n != self.node]
        if len(self.remote) > 100_000:
            self.remote.clear()
        # Cache only while announcements arrive, and not when one came during the lookup (the
        # answer may predate that change).
        if self.subscribed and self.announced.get(openid, 0) < asked:
            self.remote[openid] = (nodes, now + min(REMOTE_CACHE, self.ttl / 3))
        return nodes

    async def is_online(self, openid):
        return self.registry.is_online(openid) or bool(await self._nodes_of(openid))

    def online_now(self, openid):
        if openid in self.registry.by_user:
            return True
        cached = self.remote.get(openid)
        return bool(cached[0]) if cached and cached[1] > time.time() else MISSING

    # -- delivery ----------------------------------------------------------------------------
    def deliver(self, openid, frame, data, exclude=None, then=None):
        """Sockets here at once; other processes holding one of the user's sockets through one
        PUBLISH each, queued for the publishing task (one pipeline per round trip). The count
        is returned when no other process is involved, else given to then(count) once every
        PUBLISH was answered (a receiver counts as a socket that took it)."""
        sent = self.registry.push(openid, frame, exclude, data)
        cached = self.remote.get(openid)
        if cached is None or cached[1] <= time.time():  # rare: the authorising step asked
            asyncio.ensure_future(self._deliver_later(openid, frame, sent, then))
            return None
        return self._publish_to(cached[0], openid, frame, sent, then)

    async def _deliver_later(self, openid, frame, sent, then):
        nodes = await self._nodes_of(openid)
        sent = self._publish_to(nodes, openid, frame, sent, then)
        if sent is not None and then is not None:
            then(sent)

    def _publish_to(self, nodes, openid, frame, sent, then):
        if not nodes:
            return sent
        payload = encode({"to": openid, "frame": frame})  # once for every process
        counter = None
        if then is not None:
            counter = [len(nodes), sent]

            def one(receivers):
                counter[0] -= 1
                counter[1] += receivers > 0
                if counter[0] == 0:
                    then(counter[1])
        for node in nodes:
            self.outbox.append((PREFIX + "node:" + node, payload, one if counter else None))
        self.wake.set()
        return None if counter else sent

    async def publish(self, channel, data):
        """Queue a PUBLISH for the publishing task; its receiver count (0 when it failed)."""
        done = asyncio.get_running_loop().create_future()
        self.outbox.append((channel, data, done))
        self.wake.set()
        return await done

    async def _publisher(self):
        """Send everything queued, in order, one pipeline per round trip."""
        while not self.stopping:
            await self.wake.wait()
            self.wake.clear()
            while self.outbox:
                batch, self.outbox = self.outbox[:PUBLISH_BATCH], self.outbox[PUBLISH_BATCH:]
                pipe = self.redis.pipeline(transaction=False)
                for channel, data, _ in batch:
                    pipe.publish(channel, data)
                try:
                    counts = await pipe.execute()
                except (RedisError, OSError) as e:
                    self._trouble("publish", e)
                    counts = [0] * len(batch)  # not delivered: the sender is told `stored`
                for (_, _, done), count in zip(batch, counts):
                    _settle(done, count)

    async def broadcast(self, frame):
        try:
            await self.redis.publish(BROADCAST, encode(frame))
        except (RedisError, OSError) as e:
            self._trouble("broadcast", e)
            return await super().broadcast(frame)
        return (await self.stats())["connections"]

    async def _listen(self):
        """Relay frames published for this process; resubscribe with back-off after a failure."""
        backoff = 0.25
        while not self.stopping:
            pubsub = self.sub.pubsub()
            try:
                await pubsub.subscribe(self.channel, BROADCAST, PRESENCE, CONTROL)
                self.remote.clear()  # announcements may have been missed while unsubscribed
                if self.on_control is not None:
                    self.on_control("reset", None)
                self.subscribed = True
                backoff = 0.25
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        await self._on_message(message["channel"], message["data"])
            except (RedisError, OSError) as e:
                self._trouble("subscription", e)
            finally:
                self.subscribed = False
                self.remote.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _on_message(self, channel, data):
        if channel == PRESENCE:
            self.remote.pop(data, None)
            if len(self.announced) > 100_000:
                self.announced.clear()
            self.announced[data] = time.monotonic()
            return
        try:
            payload = decode(data)
        except ValueError:
            log.warning("ignored a malformed bus message on %s", channel)
            return
        if channel == BROADCAST:
            await LocalBus.broadcast(self, payload)
            return
        if channel == CONTROL:
            if payload.get("node") != self.node and self.on_control is not None:
                self.on_control(payload.get("kind"), payload.get("openid"))
            return
        self.registry.push(payload["to"], payload["frame"])

    async def announce(self, kind, openid):
        """This process at once, then every other one through CONTROL (Redis unreachable: the
        others' caches expire on their own, see realtime/control.py)."""
        await LocalBus.announce(self, kind, openid)
        try:
            await self.redis.publish(CONTROL, encode({"kind": kind, "openid": openid,
                                                      "node": self.node}))
        except (RedisError, OSError) as e:
            self._trouble("announce", e)

    async def stats(self):
        try:
            nodes = await self.redis.hgetall(NODES)
        except (RedisError, OSError) as e:
            self._trouble("stats", e)
            return await super().stats()
        now, total = time.time(), {"connections": 0, "users": 0, "processes": 0}
        for node, raw in nodes.items():
            figures = json.loads(raw)
            if node == self.node:
                figures = await super().stats()
            elif figures["expires"] < now:
                continue
            total["connections"] += figures["connections"]
            total["users"] += figures["users"]
            total["processes"] += 1
        return total


def _settle(done, count):
    """Tell whoever queued a PUBLISH its receiver count: a future, a callback, or nobody."""
    if done is None:
        return
    if isinstance(done, asyncio.Future):
        if not done.done():
            done.set_result(count)
        return
    try:
        done(count)
    except Exception:
        log.exception("a delivery callback failed")
