"""make_app(config, database): the one place that assembles handlers, settings and shared state."""
import asyncio
import logging
import functools
import importlib
import os
import weakref
from concurrent.futures import ThreadPoolExecutor

import peewee
import tornado.ioloop
import tornado.web

from actions.context import Context
from handlers.base import NotFoundHandler
from metrics import Live, Metrics
from models import utcnow
from realtime.bus import make_bus
from realtime.delivery import ChatDelivery
from realtime.list_writer import ListWriter
from services.dashboard import DailyCounter
from services.errors import Unavailable
from services.ratelimit import Limiter, SignInThrottle
from wechat.client import WechatApi
from wechat.content_check import ContentCheck
from wechat.subscribe_messages import Notifier

log_db = logging.getLogger("market.db")

ROOT = os.path.dirname(os.path.abspath(__file__))

# Each module ends with `default_handlers = [...]`; order matters only for overlapping patterns,
# and the chat socket's catch-all /wx/{from}/{to} comes last.
HANDLER_MODULES = [
    "handlers.health",
    "handlers.user",
    "handlers.goods",
    "handlers.images",
    "handlers.comments",
    "handlers.inbox",
    "handlers.chat_list",
    "handlers.reports",
    "handlers.subscriptions",
    "handlers.wechat_callback",
    "handlers.metrics",
    "handlers.admin_api",
    "handlers.admin_pages",
    "handlers.admin_announcement_pages",
    "handlers.admin_report_pages",
    "handlers.admin_hotword_pages",
    "handlers.admin_moderation_pages",
    "handlers.chat_socket",
]


class MarketApp(tornado.web.Application):
    """The Tornado application plus what its handlers share: config, executor, limits, registry.
    Every object that lives as long as the process is made here and stopped in shutdown()."""

    def __init__(self, config, database, handler_modules=HANDLER_MODULES):
        self.config = config
        self.database = database
        self.db_executor = ThreadPoolExecutor(config["database"]["pool_size"],
                                              thread_name_prefix="db")
        self.limiter = Limiter()
        self.sign_in_throttle = SignInThrottle()  # adminLogin and the sign-in page share it
        self.bus = make_bus(config)
        self.registry = self.bus.registry
        self.list_writer = ListWriter(self.run_db)
        self.wechat = WechatApi(config, self.run_db)
        self.content = ContentCheck(config, self.wechat, self.run_db)
        self.notifier = Notifier(config, self.wechat, self.run_db)
        self.actions = Context(config, self.run_db, None, self.content, self.notifier,
                               self.sign_in_throttle)
        self.chat = self.actions.chat = ChatDelivery(
            config, self.run_db, self.bus, self.list_writer, self.content, self.notifier,
            self.actions.later)
        # the dashboard's "messages today": the since-start total observed each minute
        self.started = utcnow()
        self.message_day = DailyCounter(self.started)
        self.message_day_timer = tornado.ioloop.PeriodicCallback(self._observe_message_day,
                                                                 60_000)
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
        return await asyncio.get_running_loop().run_in_executor(self.db_executor, call)

    def _in_connection(self, fn, args, kwargs):
        try:
            with self.database.connection_context():
                return fn(*args, **kwargs)
        except (peewee.OperationalError, peewee.InterfaceError) as e:
            log_db.warning("database unavailable: %s", e)
            raise Unavailable("the database is unavailable, try again shortly")

    async def start(self):
        """Start background work (bus, conversation-list writer) on the running IOLoop."""
        await self.bus.start()
        self.list_writer.start()
        self.message_day_timer.start()

    def _observe_message_day(self):
        self.message_day.observe(self.chat.counts["delivered"] + self.chat.counts["stored"])

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
        await self.actions.follow_ups.stop(max(0.0, deadline - loop.time()))
        self.message_day_timer.stop()
        await self.list_writer.stop()
        await self.bus.stop()

    def get_handler_delegate(self, request, *args, **kwargs):
        """Note each routed request, so shutdown can wait for the ones still being answered."""
        self.in_flight.add(request)
        return super().get_handler_delegate(request, *args, **kwargs)

    def in_flight_count(self):
        """Requests routed and not yet answered whose client is still connected."""
        return sum(1 for r in list(self.in_flight)
                   if getattr(r.connection, "stream", None) is not None
                   and not r.connection.stream.closed())

    def log_request(self, handler):
        """One access-log line per request: method, path (no query: it may carry a token), status."""
        self.in_flight.discard(handler.request)
        self.metrics.observe(handler)
        status = handler.get_status()
        level = logging.INFO if status < 500 else logging.ERROR
        claims = getattr(handler, "_claims", None)
        user = claims["sub"] if claims else getattr(handler, "me", None) or "-"  # chat: .me
        logging.getLogger("tornado.access").log(
            level, "%d %s %s user=%s %s %.1fms", status, handler.request.method,
            handler.request.path, user, handler.request.remote_ip,
            1000.0 * handler.request.request_time())

    def close(self):
        """Release the executor and the database (after the server stopped)."""
        self.db_executor.shutdown(wait=True, cancel_futures=True)
        self.database.close_all() if hasattr(self.database, "close_all") else self.database.close()


def make_app(config, database):
    """The application for this config, bound to an opened (migrated) database."""
    return MarketApp(config, database)
