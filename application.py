"""make_app(config, database): the one place that assembles handlers, settings and shared state."""
import asyncio
import logging
import functools
import importlib
import os
import weakref
from concurrent.futures import ThreadPoolExecutor

import peewee
import tornado.web

from counters import SeenOnce, ViewCounter
from handlers.base import NotFoundHandler
from realtime.bus import make_bus
from realtime.delivery import ChatDelivery
from realtime.list_writer import ListWriter
from services.content_security import ContentSecurity
from services import goods, search
from services.errors import Unavailable
from services.notify import Notifier
from services.metrics import Metrics
from services.ratelimit import Limiter
from services.wechat_api import WechatApi

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
    "handlers.notices",
    "handlers.chat_list",
    "handlers.trust",
    "handlers.metrics",
    "handlers.admin_api",
    "handlers.admin_pages",
    "handlers.admin_trust_pages",
    "handlers.admin_hotword_pages",
    "handlers.admin_moderation_pages",
    "handlers.chat_socket",
]


class MarketApp(tornado.web.Application):
    """The Tornado application plus what its handlers share: config, executor, limits, registry."""

    def __init__(self, config, database, handler_modules=HANDLER_MODULES):
        self.config = config
        self.database = database
        self.db_executor = ThreadPoolExecutor(config["database"]["pool_size"],
                                              thread_name_prefix="db")
        self.limiter = Limiter()
        self.bus = make_bus(config)
        self.registry = self.bus.registry
        self.list_writer = ListWriter(self.run_db)
        self.views = ViewCounter(self.run_db, goods.add_views)  # detail views, written each second
        self.searches_counted = SeenOnce()  # (searcher, day, words) whose hot words are counted
        self.wechat = WechatApi(config, self.run_db)
        self.content = ContentSecurity(config, self.wechat, self.run_db)
        self.notifier = Notifier(config, self.wechat, self.run_db)
        self.chat = ChatDelivery(config, self.run_db, self.bus, self.list_writer,
                                 self.content, self.notifier)
        self.in_flight = weakref.WeakSet()  # requests routed but not yet answered (shutdown)
        self.metrics = Metrics(self, config["metrics"]["allow"])
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
        self.views.start()
        await self.run_db(search.start_up)  # the segmenter loads once, off the IOLoop

    async def shutdown(self, timeout):
        """Close chat sockets with 1001 (clients reconnect elsewhere), give in-flight requests
        until `timeout` to finish, then flush pending writes. Call after the server stopped
        accepting."""
        self.chat.close_all(1001, "server going away")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (self.registry.connection_count() or self.in_flight_count()) \
                and loop.time() < deadline:
            await asyncio.sleep(0.05)
        await self.list_writer.stop()
        await self.views.stop()
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

    def goods_reviewed(self, result):
        """After a listing was approved or rejected: tell the seller (if they granted notices)."""
        outcome = "通过" if result["state"] == 1 else "未通过"
        self.background(self.notifier.result(result["openid"], "review", result["goodsName"],
                                              outcome))

    def user_checked(self, result):
        """After a user check: a blocked user's sockets close; a verification result is told."""
        if result["state"] == 10:
            self.chat.close_user(result["openid"])
        elif result["state"] in (1, 2) and result.get("old_state") != result["state"]:
            self.background(self.notifier.result(result["openid"], "verify", "学生认证",
                                                  "通过" if result["state"] == 1 else "未通过"))

    def background(self, coroutine):
        """Run a follow-up without making the moderator wait; failures are logged."""
        def done(future):
            if not future.cancelled() and future.exception():
                log_db.error("follow-up failed: %s", future.exception())
        asyncio.ensure_future(coroutine).add_done_callback(done)

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
