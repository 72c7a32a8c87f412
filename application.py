"""make_app(config, database): the one place that assembles handlers, settings and shared state."""
import asyncio
import collections
import contextvars
import logging
import functools
import importlib
import os
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

import peewee
import tornado.httpserver
import tornado.ioloop
import tornado.locale
import tornado.web

import logs
from actions.context import Context, FollowUps
from actions.listings import ListingSweeper
from counters import Coalescer, SeenOnce, ViewCounter
from handlers.base import NotFoundHandler
from metrics import Live, Metrics
from models import utcnow
from realtime.buses import make_bus
from realtime.control import Control
from realtime.delivery import ChatDelivery
from realtime.list_writer import ListWriter
from realtime.retention import ChatRetention
from services import goods, images, search
from services.errors import Unavailable
from services.ratelimit import Limiter, SignInThrottle
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
    "handlers.reports",
    "handlers.subscriptions",
    "handlers.wechat_callback",
    "handlers.wanted",
    "handlers.ratings",
    "handlers.metrics",
    "handlers.admin_api",
    "handlers.admin_pages",
    "handlers.admin_account_pages",
    "handlers.admin_export",
    "handlers.admin_announcement_pages",
    "handlers.admin_report_pages",
    "handlers.admin_hotword_pages",
    "handlers.admin_wanted_pages",
    "handlers.admin_moderation_pages",
    "handlers.docs",
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
        self.searches_counted = SeenOnce()  # (searcher, day, words) whose hot words are counted
        self.searches_running = Coalescer()  # identical searches at the same moment: one query
        self.wechat = WechatApi(config, self.run_db)
        self.content = ContentCheck(config, self.wechat, self.run_db)
        self.notifier = Notifier(config, self.wechat, self.run_db)
        self.follow_ups = FollowUps()
        self.chat = ChatDelivery(
            config, self.run_db, self.bus, self.control, self.list_writer, self.content,
            self.notifier, self.follow_ups.later,
            media=(self.public_url, config["admin"]["cookie_secret"]))
        self.actions = Context(config, self.run_db, self.chat, self.content, self.notifier,
                               self.sign_in_throttle, self.follow_ups, self.control)
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
        """Run fn on a database worker thread, inside one pooled connection; never on the IOLoop."""
        call = functools.partial(self._in_connection, fn, args, kwargs)
        # the request's context (its id on log lines) goes along to the database thread
        return await asyncio.get_running_loop().run_in_executor(
            self.db_executor, contextvars.copy_context().run, call)

    def _in_connection(self, fn, args, kwargs):
        try:
            with self.database.connection_context():
                return fn(*args, **kwargs)
        except (peewee.OperationalError, peewee.InterfaceError) as e:
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
        self.sweeper.start()
        await self.run_db(search.start_up)  # the segmenter loads once, off the IOLoop

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
        await self.sweeper.stop()  # before the follow-ups: a sweep may start some
        await self.actions.follow_ups.stop(max(0.0, deadline - loop.time()))
        await self.chat_retention.stop()
        await self.chat.stop()  # the queued messages commit
        await self.list_writer.stop()
        await self.views.stop()
        await self.bus.stop()
        self.decode_executor.shutdown(wait=False, cancel_futures=True)  # close() waits for it

    def get_handler_delegate(self, request, target_class, *args, **kwargs):
        """Note each routed request, so shutdown can wait for the ones still being answered;
        set its body limit from the headers, before any of the body is read."""
        self.in_flight.add(request)
        if hasattr(request.connection, "set_max_body_size"):
            limit = getattr(target_class, "max_body_bytes", None)
            request.connection.set_max_body_size(
                limit(self.config) if limit else
                min(BODY_BYTES, self.config["server"]["max_body_bytes"]))
        return super().get_handler_delegate(request, target_class, *args, **kwargs)

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
