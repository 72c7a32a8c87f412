"""make_app(config, database): the one place that assembles handlers, settings and shared state."""
import asyncio
import collections
import contextvars
import logging
import functools
import importlib
import ipaddress
import os
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

import peewee
import tornado.httpserver
import tornado.ioloop
import tornado.iostream
import tornado.locale
import tornado.web

import logs
from actions.context import Context, FollowUps
from actions.listings import ListingSweeper
from actions.privacy import ExportSweeper
from handlers.base import NotFoundHandler, StaticHandler
from handlers.health import DatabaseHealth
from metrics import Live, Metrics
from models import retryable, run_unit, utcnow
from process.coalesce import Coalescer, SeenOnce
from process.ip_recorder import IpRecorder
from process.ratelimit import Limiter, SignInThrottle
from process.views import ViewCounter
from realtime.buses import make_bus
from realtime.control import Control
from realtime.delivery import ChatDelivery
from realtime.list_writer import ListWriter
from realtime.retention import ChatRetention
from realtime.safety_notices import SafetyNotices
from search import index as search_index
from services import goods, images, ip_region
from errors import Busy, Unavailable
from settings import public_url
from wechat.client import WechatApi
from wechat.content_check import ContentCheck
from wechat.subscribe_messages import Notifier

log_db = logging.getLogger("market.db")
log_net = logging.getLogger("market.net")

ROOT = os.path.dirname(os.path.abspath(__file__))
# The body limit of every route that does not set its own `max_body_bytes(config)` (uploads do):
# JSON and form bodies are a few kB, so 40 held-open requests cost 40 MiB at most, not 40 x 12.
BODY_BYTES = 1024 * 1024

# Each module ends with `default_handlers = [...]`; order matters only for overlapping patterns,
# and the chat socket's catch-all /wx/{from}/{to} comes last.
HANDLER_MODULES = [
    "handlers.health",
    "handlers.user",
    "handlers.account",
    "handlers.goods",
    "handlers.listings",
    "handlers.images",
    "handlers.comments",
    "handlers.inbox",
    "handlers.chat_list",
    "handlers.chat_history",
    "handlers.chat_recall",
    "handlers.reports",
    "handlers.subscriptions",
    "handlers.wechat_callback",
    "handlers.wanted",
    "handlers.ratings",
    "handlers.disputes",
    "handlers.metrics",
    "handlers.admin_api",
    "handlers.admin_pages",
    "handlers.admin_account_pages",
    "handlers.admin_export",
    "handlers.admin_announcement_pages",
    "handlers.admin_report_pages",
    "handlers.admin_hotword_pages",
    "handlers.admin_word_pages",
    "handlers.admin_wanted_pages",
    "handlers.admin_dispute_pages",
    "handlers.admin_moderation_pages",
    "handlers.docs",
    "handlers.privacy",
    "handlers.chat_socket",
]


@functools.cache
def load_locales():
    """The translations (locale/zh_CN.csv: "English source","中文" per line), read once per
    process: tornado.locale keeps them in the module (README.md, "Languages")."""
    tornado.locale.load_translations(os.path.join(ROOT, "locale"))
    return tornado.locale.get_supported_locales()


class MarketApp(tornado.web.Application):
    """The Tornado application plus what its handlers share: config, executor, limits, registry.
    Every object that lives as long as the process is made here and stopped in shutdown()."""

    def __init__(self, config, database, handler_modules=HANDLER_MODULES):
        self.config = config
        self.database = database
        load_locales()
        self.db_executor = ThreadPoolExecutor(config["database"]["pool_size"],
                                              thread_name_prefix="db")
        self.call_timeout = config["database"]["call_timeout"]  # run_db's deadline
        self.db_health = DatabaseHealth(database, config["database"]["health_timeout"])
        # Decoding an image can take ~4 bytes a pixel (256 MB at the 64 Mpx cap): a few at once,
        # on their own threads, never on the database's or the default executor.
        self.decode_workers = config["uploads"]["decode_workers"]
        self.decode_executor = ThreadPoolExecutor(self.decode_workers,
                                                  thread_name_prefix="decode")
        self.decoding = 0  # decodes running or waiting (only touched on the IOLoop)
        self.limiter = Limiter()
        self.sign_in_throttle = SignInThrottle()  # adminLogin and the sign-in page share it
        self.public_url = public_url(config)  # absolute URLs given out: never the request's Host
        self.uploads_in_flight = collections.Counter()  # openid -> upload bodies being received
        # Built in dependency order; nothing is attached to an object after it is made.
        self.bus = make_bus(config)
        self.registry = self.bus.registry
        # account revocations and block changes, announced on the bus (realtime/control.py)
        self.control = Control(self.run_db, self.bus)
        self.list_writer = ListWriter(self.run_db)
        self.views = ViewCounter(self.run_db, goods.add_views)  # detail views, written each second
        privacy = config["privacy"]
        ip_region.configure(privacy["ip_region"])
        if privacy["ip_region"]:
            ip_region.start_up()  # the offline region database, once per process (~11 MB)
        self.ip_recorder = IpRecorder(self.run_db, ip_region.record, utcnow,
                                      privacy["ip_record_minutes"] * 60, privacy["ip_region"])
        self.trusted_proxies = [ipaddress.ip_network(n)  # parsed once, checked per request
                                for n in config["server"]["trusted_proxies"]]
        self.export_sweeper = ExportSweeper(self.run_db, privacy["export_dir"])
        self.searches_counted = SeenOnce()  # (searcher, day, words) whose hot words are counted
        self.searches_running = Coalescer()  # identical searches at the same moment: one query
        self.wechat = WechatApi(config, self.run_db)
        self.content = ContentCheck(config, self.wechat, self.run_db)
        self.notifier = Notifier(config, self.wechat, self.run_db)
        self.follow_ups = FollowUps()
        # safety notices in chat: the recipient of a message that looks like a fraud
        self.safety = SafetyNotices(config, self.run_db, self.bus, self.follow_ups.later)
        self.chat = ChatDelivery(
            config, self.run_db, self.bus, self.control, self.list_writer, self.content,
            self.notifier, self.follow_ups.later,
            media=(self.public_url, config["admin"]["cookie_secret"]), safety=self.safety)
        self.actions = Context(config, self.run_db, self.chat, self.content, self.notifier,
                               self.sign_in_throttle, self.follow_ups, self.control, self.wechat)
        self.sweeper = ListingSweeper(self.actions)  # listings' expiry and reminders
        self.chat_retention = ChatRetention(self.run_db, config["chat"]["history_days"],
                                            images.folders(config)[1])
        # when this process started (the dashboard's "This process" card)
        self.started = utcnow()
        self.in_flight = weakref.WeakSet()  # requests routed but not yet answered (shutdown)
        self.metrics = Metrics(Live(self.registry, self.in_flight_count, self.chat.counts,
                                    self.content.counts, self.notifier.counts),
                               config["metrics"]["allow"])
        routes = []
        for name in handler_modules:
            routes.extend(importlib.import_module(name).default_handlers)
        chat = config["chat"]
        super().__init__(
            routes,
            config=config,
            template_path=os.path.join(ROOT, "templates"),
            static_path=os.path.join(ROOT, "static"),
            static_url_prefix="/static/",
            static_handler_class=StaticHandler,  # a token sent passes the identity checks
            cookie_secret=config["admin"]["cookie_secret"],
            xsrf_cookies=True,
            xsrf_cookie_kwargs={"httponly": True, "samesite": "Strict"},
            login_url="/admin/login",
            default_handler_class=NotFoundHandler,
            websocket_ping_interval=chat["ping_interval"],
            websocket_ping_timeout=chat["ping_timeout"],
            websocket_max_message_size=chat["max_frame_bytes"],
            log_function=self.log_request,
        )

    async def run_db(self, fn, *args, **kwargs):
        """Run fn on a database worker thread, inside one pooled connection and one unit of work
        (models.run_unit: retried whole after a deadlock); never on the IOLoop. The caller waits
        at most `database.call_timeout` seconds, queue included: then Busy (503) if no thread
        took the call (it never runs), Unavailable (503) if it is running (it ends within the
        statement bounds; its result is dropped). While the database is known to be away
        (`db_health.down`: a call timed out or lost it, and a probe failed) every call is
        refused at once; the probes close the breaker when it answers again."""
        health = self.db_health
        if health.down:
            raise Unavailable("the database is unavailable, try again shortly")
        started = []
        call = functools.partial(self._in_connection, fn, args, kwargs, started)
        loop = asyncio.get_running_loop()
        # the request's context (its id on log lines) goes along to the database thread
        future = loop.run_in_executor(self.db_executor, contextvars.copy_context().run, call)
        begun = loop.time()
        health.wait(future, begun + self.call_timeout)
        try:
            return await future
        except asyncio.CancelledError:
            expired = health.done(future)
            if asyncio.current_task().cancelling() or not (expired or health.down):
                raise  # our caller was cancelled
            health.suspect()
            log_db.warning("no answer from the database within %.1f s (%s): %s",
                           loop.time() - begun, "running" if started else "queued",
                           getattr(fn, "__qualname__", fn))
            if started or health.down:
                raise Unavailable("the database is unavailable, try again shortly")
            raise Busy("the server is busy, try again")
        except Unavailable as e:
            if not isinstance(e, Busy):
                health.suspect()
            raise
        finally:
            health.done(future)

    def _in_connection(self, fn, args, kwargs, started=None):
        if started is not None:
            started.append(True)  # a thread took it: run_db's deadline can no longer stop it
        try:
            with self.database.connection_context():
                return run_unit(fn, *args, **kwargs)
        except (peewee.OperationalError, peewee.InterfaceError) as e:
            if retryable(e):  # up, but it gave up on this change: never reported as an outage
                log_db.warning("database busy, retries used up: %s", e)
                raise Busy("the server is busy, try again")
            log_db.warning("database unavailable: %s", e)
            raise Unavailable("the database is unavailable, try again shortly")

    async def run_decode(self, fn, *args):
        """Run an image decode on the decode executor; Unavailable (503) when
        `uploads.decode_workers` + `uploads.decode_queue` decodes are already running or waiting."""
        if self.decoding >= self.decode_workers + self.config["uploads"]["decode_queue"]:
            raise Unavailable("the server is busy with other uploads, try again shortly")
        self.decoding += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.decode_executor, fn,
                                                                    *args)
        finally:
            self.decoding -= 1

    async def start(self):
        """Start background work (bus, conversation-list writer) on the running IOLoop."""
        await self.bus.start()
        self.list_writer.start()
        self.chat.start()
        self.chat_retention.start()
        self.views.start()
        self.ip_recorder.start()
        self.export_sweeper.start()
        self.sweeper.start()
        # the segmenter loads once, off the IOLoop (no deadline: start-up may take seconds)
        await asyncio.get_running_loop().run_in_executor(
            self.db_executor, self._in_connection, search_index.start_up, (), {})

    async def shutdown(self, timeout):
        """Close chat sockets with 1001 (clients reconnect elsewhere), give in-flight requests
        until `timeout` to finish, then the follow-ups still running (what is left is
        cancelled), then flush pending writes and stop the timers. Call after the server
        stopped accepting."""
        self.chat.close_all(1001, "server going away")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (self.registry.connection_count() or self.in_flight_count()) \
                and loop.time() < deadline:
            await asyncio.sleep(0.05)
        self.db_health.stop()
        await self.sweeper.stop()  # before the follow-ups: a sweep may start some
        await self.actions.follow_ups.stop(max(0.0, deadline - loop.time()))
        await self.chat_retention.stop()
        await self.chat.stop()  # the queued messages commit
        await self.list_writer.stop()
        await self.views.stop()
        await self.ip_recorder.stop()
        await self.export_sweeper.stop()
        await self.bus.stop()
        self.decode_executor.shutdown(wait=False, cancel_futures=True)  # close() waits for it

    def get_handler_delegate(self, request, target_class, *args, **kwargs):
        """Note each routed request, so shutdown can wait for the ones still being answered;
        set its body limit from the headers, before any of the body is read."""
        self.in_flight.add(request)
        if self.config["server"]["xheaders"]:
            self.client_address(request)
        if hasattr(request.connection, "set_max_body_size"):
            limit = getattr(target_class, "max_body_bytes", None)
            request.connection.set_max_body_size(
                limit(self.config) if limit else
                min(BODY_BYTES, self.config["server"]["max_body_bytes"]))
        return super().get_handler_delegate(request, target_class, *args, **kwargs)

    def client_address(self, request):
        """Behind a proxy (server.xheaders): the client address and scheme from X-Real-IP /
        X-Forwarded-For and X-Forwarded-Proto only when the TCP peer is one of
        server.trusted_proxies; from any other peer the headers are ignored (a spoof) and the
        peer is the client, whatever Tornado's own xheaders made of them."""
        stream = getattr(request.connection, "stream", None)
        try:
            peer = stream.socket.getpeername()
            peer = peer[0] if isinstance(peer, tuple) else ""  # "": a unix socket (local)
        except (OSError, AttributeError):  # gone already: believe nothing it sent
            peer = "0.0.0.0"
        headers = request.headers
        request.remote_ip = ip_region.client_address(
            peer, headers.get("X-Real-Ip"), headers.get("X-Forwarded-For"), self.trusted_proxies)
        proto = headers.get("X-Forwarded-Proto", headers.get("X-Scheme", "")).split(",")[-1]
        if ip_region.trusted(peer, self.trusted_proxies) and proto.strip() in ("http", "https"):
            request.protocol = proto.strip()
        else:
            request.protocol = "https" if isinstance(stream, tornado.iostream.SSLIOStream) \
                else "http"

    def in_flight_count(self):
        """Requests routed and not yet answered whose client is still connected."""
        return sum(1 for r in list(self.in_flight)
                   if getattr(r.connection, "stream", None) is not None
                   and not r.connection.stream.closed())

    def log_request(self, handler):
        """The one log line of a request: status, method, path (no query: it may carry a
        token), user, address, time, its id, and for a refusal why (logs.py formats it)."""
        self.in_flight.discard(handler.request)
        self.metrics.observe(handler)
        status = handler.get_status()
        level = logging.INFO if status < 500 else logging.ERROR
        claims = getattr(handler, "_claims", None)
        user = claims["sub"] if claims else getattr(handler, "me", None) or "-"  # chat: .me
        request, refusal = handler.request, getattr(handler, "refusal", None)
        fields = {"status": status, "method": request.method, "path": request.path,
                  "user": user, "ip": request.remote_ip,
                  "ms": round(1000.0 * request.request_time(), 1)}
        if refusal:
            fields["refusal"] = refusal
        logging.getLogger("tornado.access").log(
            level, "%d %s %s user=%s %s %.1fms" + (" -- %s" if refusal else ""), status,
            request.method, request.path, user, request.remote_ip, fields["ms"],
            *((refusal,) if refusal else ()),
            extra={"request_id": logs.request_id(request), "http": fields})

    def close(self):
        """Release the executor and the database (after the server stopped)."""
        self.decode_executor.shutdown(wait=True, cancel_futures=True)
        self.db_executor.shutdown(wait=True, cancel_futures=True)
        self.db_health.close()
        self.database.close_all() if hasattr(self.database, "close_all") else self.database.close()


class MarketServer(tornado.httpserver.HTTPServer):
    """Tornado's HTTPServer with a cap on open connections per TCP peer address
    (server.max_connections_per_address; chat sockets count for as long as they are open).
    The extra connection is closed at once, before a byte of it is read."""

    def initialize(self, *args, max_connections_per_address=0, **kwargs):
        super().initialize(*args, **kwargs)
        self.per_address_cap = max_connections_per_address
        self.open_by_address = {}  # address -> WeakSet of its IOStreams
        self.accepted = self.refused = 0
        self.refused_logged = -1e9

    def handle_stream(self, stream, address):
        peer = address[0] if isinstance(address, tuple) and address else None
        if self.per_address_cap and peer is not None and not self._admit(peer, stream):
            self.refused += 1
            if time.monotonic() - self.refused_logged > 10:  # a flood is one line per 10 s
                self.refused_logged = time.monotonic()
                log_net.warning("connections refused past server.max_connections_per_address "
                                "(%d): %d so far, latest from %s", self.per_address_cap,
                                self.refused, peer)
            stream.close()
            return
        super().handle_stream(stream, address)

    def _admit(self, peer, stream):
        """Count the peer's streams still open (closed ones are dropped as they are seen)."""
        self.accepted += 1
        if self.accepted % 4096 == 0:  # forget addresses with nothing open
            self.open_by_address = {a: s for a, s in self.open_by_address.items()
                                    if any(not x.closed() for x in s)}
        streams = self.open_by_address.setdefault(peer, weakref.WeakSet())
        for old in [x for x in streams if x.closed()]:
            streams.discard(old)
        if len(streams) >= self.per_address_cap:
            return False
        streams.add(stream)
        return True


def make_server(app, ssl_options=None):
    """The HTTP server for `app` with the limits of its config (main.py and the tests)."""
    server_cfg = app.config["server"]
    xheaders = server_cfg["xheaders"]
    return MarketServer(
        app, xheaders=xheaders, ssl_options=ssl_options,
        max_body_size=server_cfg["max_body_bytes"], body_timeout=60, idle_connection_timeout=120,
        # behind a proxy (xheaders) every connection comes from the proxy: nginx's limit_conn
        # caps real clients there, and this cap would only cap the proxy
        max_connections_per_address=0 if xheaders else server_cfg["max_connections_per_address"])


def make_app(config, database):
    """The application for this config, bound to an opened (migrated) database."""
    return MarketApp(config, database)
