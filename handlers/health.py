"""GET /healthz: the process is up and the database answers; which release is running."""
import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pymysql

from handlers.base import ApiHandler
from models import is_mysql
from version import __version__

log_db = logging.getLogger("market.db")


class DatabaseHealth:
    """Asks the database `SELECT 1` on a thread and a connection of its own, so /healthz never
    queues behind the database executor (a hung database fills it): an answer within `timeout`
    seconds or unhealthy. Concurrent checks share the probe in flight (a flood of /healthz is
    one query); a probe stuck on a hung host ends by its own socket timeouts (`timeout`)."""

    def __init__(self, database, timeout):
        self.database, self.timeout = database, timeout
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="dbhealth")
        self.conn = None  # used only on the executor's one thread
        self.running = None  # the probe in flight (an asyncio future)
        # The breaker: after a call timed out or lost its connection, probes run until one
        # answers; while they fail the database is `down`: run_db refuses at once (no thread,
        # no wait) and the calls waiting on it are answered now, not at their deadlines.
        self.down = False
        self.watching = None  # the probing task, while one runs
        # run_db's deadlines: one sweep every SWEEP seconds while calls are in flight (a timer
        # per call cost ~50 us a call: a heap of cancelled 4 s timers)
        self.waiting = {}  # run_db future in flight -> its deadline (loop time)
        self.expired = set()  # futures cancelled by their deadline
        self.sweeping = None

    SWEEP = 0.1

    def wait(self, future, deadline):
        """Cancel `future` at `deadline` (within SWEEP), or when the breaker opens."""
        self.waiting[future] = deadline
        if self.sweeping is None:
            self.sweeping = asyncio.get_running_loop().call_later(self.SWEEP, self._sweep)

    def done(self, future):
        """`future` is answered: True when its deadline ended it."""
        self.waiting.pop(future, None)
        if future in self.expired:
            self.expired.discard(future)
            return True
        return False

    def _sweep(self):
        self.sweeping = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        for future, deadline in list(self.waiting.items()):
            if deadline <= now and not future.done():
                self.expired.add(future)
                future.cancel()
        if self.waiting:
            self.sweeping = loop.call_later(self.SWEEP, self._sweep)

    def suspect(self):
        """A call timed out or lost the database: probe until it answers (once at a time)."""
        if self.watching is None or self.watching.done():
            self.watching = asyncio.ensure_future(self._watch())

    async def _watch(self):
        while True:
            problem = await self.problem()
            if problem is None:
                if self.down:
                    log_db.warning("database answers again: calls go through")
                self.down = False
                return
            if not self.down:
                self.down = True
                log_db.warning("database unavailable (%s): calls are refused at once until it "
                               "answers", problem)
                for future in list(self.waiting):
                    future.cancel()
            await asyncio.sleep(0.25)

    def stop(self):
        """End the probing (the application's shutdown)."""
        if self.watching is not None:
            self.watching.cancel()
        if self.sweeping is not None:
            self.sweeping.cancel()
            self.sweeping = None

    async def problem(self):
        """None when the database answered within the timeout, else why not (English)."""
        if self.running is None or self.running.done():
            self.running = asyncio.get_running_loop().run_in_executor(self.executor, self._probe)
            self.running.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:
            await asyncio.wait_for(asyncio.shield(self.running), self.timeout)
        except asyncio.TimeoutError:
            return "no answer within %.1f s" % self.timeout
        except Exception as e:  # refused, reset, timed out on its socket
            return str(e) or type(e).__name__
        return None

    def _probe(self):
        try:
            if self.conn is None:
                self.conn = self._connect()
            cursor = self.conn.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchall()
            cursor.close()
        except Exception:
            self._drop()
            raise

    def _connect(self):
        db, t = self.database, self.timeout
        if is_mysql(db):
            return pymysql.connect(database=db.database, autocommit=True,
                                   **dict(db.connect_params, connect_timeout=t,
                                          read_timeout=t, write_timeout=t))
        return sqlite3.connect(db.database, timeout=t, check_same_thread=False)

    def _drop(self):
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken
                pass

    def close(self):
        """Stop the thread and close the connection (the application's close())."""
        self.executor.submit(self._drop)
        self.executor.shutdown(wait=False, cancel_futures=False)


class HealthHandler(ApiHandler):
    """200 {"code":200,"msg":"ok","extend":{"version"}} or 503 with the reason (and the version)
    within `database.health_timeout` seconds, whatever the database does."""

    def first(self):
        """Health checks are not rate-limited."""

    async def get(self):
        health = self.application.db_health
        problem = "no answer (probing)" if health.down else await health.problem()
        if problem:
            log_db.warning("database unavailable: %s", problem)
            self.set_status(503)
            self.finish({"code": 100, "msg": "database: unavailable: " + problem,
                         "extend": {"version": __version__}})
            return
        self.ok({"version": __version__}, msg="ok")


default_handlers = [(r"/healthz", HealthHandler)]
