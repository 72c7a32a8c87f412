"""The database: one DatabaseProxy bound at start-up, the base model, database.url
(through playhouse.db_url) and the transaction helpers every service uses.

SQLite (the embedded default) and MySQL/MariaDB both use Peewee's connection pool, so a worker
thread of the database executor takes a connection for one unit of work and gives it back
(see docs/architecture.md, "Database off the IOLoop").
"""
import datetime
import logging
import os
import random
import threading
import time

import pymysql
from peewee import DatabaseProxy, Model, MySQLDatabase, OperationalError
from playhouse import db_url
from playhouse.db_url import register_database
from playhouse.pool import PooledMySQLDatabase, PooledSqliteDatabase
from playhouse.shortcuts import ReconnectMixin
from pymysql.constants import SERVER_STATUS

db = DatabaseProxy()
log = logging.getLogger("market.db")


def utcnow():
    """Naive UTC timestamp: every DateTimeField holds UTC."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class _Unit(threading.local):
    active = False     # a unit of work runs on this thread
    committed = False  # ... and something of it committed (a transaction or a lone write)


_unit = _Unit()
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class UnitMixin:
    """Notes a write outside a transaction (autocommit: it commits at once) in the unit."""

    def execute_sql(self, sql, params=None, *args, **kwargs):
        cursor = super().execute_sql(sql, params, *args, **kwargs)
        if _unit.active and not self.in_transaction() \
                and sql.lstrip()[:7].upper().startswith(_WRITES):
            _unit.committed = True
        return cursor


class BoundedConnect(MySQLDatabase):
    """A new MySQL connection whose greeting and sign-in wait at most connect_timeout, then
    whose statements wait at most query_timeout (PyMySQL waits for the greeting with
    read_timeout: a hung host, TCP accepting and nothing answering, held a connect for it).
    Below the pool in the class order, so the pool still hands out the connections it keeps
    (overriding the pool's own _connect opened one connection per unit of work: 23 ms of CPU
    each, for the TLS context PyMySQL builds)."""

    query_timeout = None

    def _connect(self):
        params = self.connect_params
        if not self.query_timeout or "connect_timeout" not in params:
            return super()._connect()
        bound = params["connect_timeout"]
        conn = pymysql.connect(database=self.database, autocommit=True,
                               **dict(params, read_timeout=bound, write_timeout=bound))
        conn._read_timeout = conn._write_timeout = self.query_timeout  # read on every call
        return conn


class ReconnectingMySQL(UnitMixin, ReconnectMixin, PooledMySQLDatabase, BoundedConnect):
    """Pooled MySQL that retries a statement once after 'server has gone away' (never in a transaction).

    Taking a connection from the pool and giving it back cost two round trips each time (a ping,
    then a ROLLBACK, since PyMySQL has no `in_transaction`): a third of a detail view's statements.
    Now a connection given back within PING_AFTER_IDLE seconds is not pinged (a statement on a
    connection that died since is still retried once by ReconnectMixin), and one is rolled back
    only when the server says a transaction is open."""

    PING_AFTER_IDLE = 1.0

    def __init__(self, *args, query_timeout=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._returned_at = {}  # id(connection) -> when it was last given back
        # PyMySQL waits for the server's greeting with read_timeout, not connect_timeout: a
        # hung host (TCP accepts, nothing answers) held a connect for read_timeout. So a
        # connection is opened with connect_timeout as its read and write timeout (greeting,
        # authentication, SET NAMES) and then given query_timeout for its statements.
        self.query_timeout = query_timeout

    def _is_closed(self, conn):
        if not getattr(conn, "open", True):
            return True
        returned = self._returned_at.get(id(conn))
        if returned is not None and time.monotonic() - returned < self.PING_AFTER_IDLE:
            return False
        return super()._is_closed(conn)

    def _can_reuse(self, conn):
        status = getattr(conn, "server_status", None)
        if status is not None and getattr(conn, "open", False) \
                and not status & SERVER_STATUS.SERVER_STATUS_IN_TRANS:
            reusable = True
        else:
            reusable = super()._can_reuse(conn)
        if reusable:
            self._returned_at[id(conn)] = time.monotonic()
        return reusable

    def _close_raw(self, conn):
        self._returned_at.pop(id(conn), None)
        super()._close_raw(conn)

    def _reconnect(self, func, *args, **kwargs):
        # ReconnectMixin's close()/connect() replace the thread's connection_context() stack with
        # an empty one, so the enclosing context's __exit__ raised IndexError (a 500 after every
        # database restart). Keep the stack across the reconnect.
        # A statement that timed out is not sent again on a new connection (TimedOut is not one
        # of the mixin's error classes): the host is hung, and a second wait would double the
        # time the caller waits for its refusal.
        ctx = self._state.ctx
        try:
            return super()._reconnect(_no_resend_after_timeout(func), *args, **kwargs)
        finally:
            if self._state.ctx is not ctx:
                self._state.ctx = ctx


class TimedOut(OperationalError):
    """A statement or a connect that got no answer within its bound (a hung host)."""


def _no_resend_after_timeout(func):
    def call(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except OperationalError as e:
            if type(e) is OperationalError and "timed out" in str(e):
                raise TimedOut(*e.args) from e
            raise
    return call


# The schemes database.url may use, bound to this product's classes: both pooled, SQLite with
# its pragmas, MySQL with utf8mb4 and one reconnect after "server has gone away".
class MarketSqlite(UnitMixin, PooledSqliteDatabase):
    """Pooled SQLite with WAL, a busy timeout and write transactions that lock at BEGIN."""

    def __init__(self, database, **kwargs):
        if os.path.dirname(database):
            os.makedirs(os.path.dirname(database), exist_ok=True)
        super().__init__(database, **kwargs)


register_database(MarketSqlite, "sqlite")
register_database(ReconnectingMySQL, "mysql")


# The bounds of every wait on the database (database.* in config.yaml; docs/deploy.md,
# "Database bounds"). The defaults serve the web process; `main.py migrate` and the other
# commands open it with long ones (a migration may rewrite a large table).
BOUNDS = {"connect_timeout": 2.0, "query_timeout": 3.0, "lock_wait_timeout": 2}


def _defaults(scheme, pool_size, bounds):
    if scheme == "sqlite":
        busy = bounds["query_timeout"]  # a writer waits this long for the one write lock
        return dict(max_connections=pool_size, stale_timeout=3600, timeout=busy,
                    check_same_thread=False,  # a pooled connection serves one thread at a time
                    # Write transactions take the write lock at BEGIN, so a reader never has to
                    # upgrade (which SQLite refuses at once with "database is locked").
                    lock_type="IMMEDIATE",
                    pragmas={"journal_mode": "wal", "synchronous": "normal",
                             "foreign_keys": 1, "busy_timeout": int(busy * 1000)})
    return dict(host="127.0.0.1", port=3306, user="", charset="utf8mb4",
                max_connections=pool_size, stale_timeout=300,
                connect_timeout=bounds["connect_timeout"],  # TCP, greeting, sign-in (_connect)
                query_timeout=bounds["query_timeout"],      # each statement's answer
                # a lock wait ends in 1205 (retried by run_unit) before query_timeout would
                # end the connection (not retried: it looks like a hung host)
                init_command="SET SESSION innodb_lock_wait_timeout=%d"
                             % bounds["lock_wait_timeout"])


def open_database(url, pool_size=8, **bounds):
    """Make (but do not connect) a Peewee database for a sqlite:/// or mysql:// URL
    (playhouse.db_url parses it; query options such as ?unix_socket= pass through).
    `bounds` override BOUNDS (connect_timeout, query_timeout: seconds; lock_wait_timeout:
    whole seconds)."""
    scheme = url.split(":", 1)[0]
    parsed = db_url.parse(url, unquote_password=True, unquote_user=True)
    if scheme != "sqlite" and (scheme != "mysql" or not parsed["database"].strip("/")):
        raise ValueError("database.url: expected mysql://user:password@host:port/name")
    params = {k: v for k, v in _defaults(scheme, pool_size, dict(BOUNDS, **bounds)).items()
              if k not in parsed}
    return db_url.connect(url, unquote_password=True, unquote_user=True, **params)


def locked_in_txn(query):
    """`query` FOR UPDATE when it runs inside a write transaction on MySQL (the rows stay
    locked until the commit, so a change committing meanwhile is seen); as it is elsewhere."""
    return query.for_update() if is_mysql() and db.in_transaction() else query


def write_txn():
    """A transaction that takes the write lock first (SQLite IMMEDIATE; InnoDB row locks).
    Only inside a unit of work (run_unit: the database executor runs every service function
    in one), which runs the whole function again when the database gives up on it."""
    return _WriteTxn()


class _WriteTxn:
    """db.atomic() that notes in the unit when its outermost level commits: a unit that
    committed something is not run again (it would be done twice)."""
    __slots__ = ("atomic", "outer")

    def __enter__(self):
        self.outer = not db.in_transaction()
        self.atomic = db.atomic() if is_mysql() else db.atomic("IMMEDIATE")
        return self.atomic.__enter__()

    def __exit__(self, kind, value, tb):
        result = self.atomic.__exit__(kind, value, tb)
        if self.outer and kind is None:
            _unit.committed = True
        return result


# Deadlocks and lock waits: InnoDB rolls the victim back (1213; 1205 ends the statement and
# write_txn rolls the rest back), so nothing of the unit is left and running it again is safe.
# SQLite: "database is locked" once its busy timeout ran out (WAL, one writer).
RETRY_ERRNOS = (1213, 1205)
RETRIES = 3             # runs after the first, at most (database.retries)
RETRY_BUDGET = 2.0      # seconds since the first run after which no new run starts
RETRY_PAUSE = 0.02      # the first pause's upper bound; doubles each time (full jitter)
retried = {"again": 0, "gave_up": 0}  # how often, since start (figures for tests, operators)


def retryable(error):
    """True for a deadlock victim, a lock wait that timed out, or SQLite busy: the database
    gave up on this transaction and rolled it back; the same work may succeed if run again."""
    seen = 0
    while error is not None and seen < 5:  # a savepoint's failed ROLLBACK TO hides the 1213
        if isinstance(error, OperationalError):
            if error.args and error.args[0] in RETRY_ERRNOS:
                return True
            text = str(error).lower()
            if "database is locked" in text or "database is busy" in text:
                return True
        error, seen = error.__context__, seen + 1
    return False


def run_unit(fn, *args, **kwargs):
    """Run one unit of work, fn(*args, **kwargs) (a service function, one transaction), and
    run it again, whole, when the database rolled it back as a deadlock victim, after a lock
    wait timeout, or busy (retryable): at most RETRIES more times, within RETRY_BUDGET
    seconds, after a random pause (full jitter: uniform up to RETRY_PAUSE * 2^n), so two
    victims do not collide again in step. Not again once something of it committed (a
    function of several transactions), nor inside a caller's transaction (the outermost unit
    retries). The database executor runs every service function through this: the one place
    that retries. When it gives up, the last error is raised (retryable(e) tells a busy
    database from one that is down)."""
    if _unit.active or db.in_transaction():
        return fn(*args, **kwargs)
    started = time.monotonic()
    attempt = 0
    try:
        while True:
            _unit.active, _unit.committed = True, False
            try:
                return fn(*args, **kwargs)
            except OperationalError as e:
                pause = random.uniform(0, RETRY_PAUSE * 2 ** attempt)
                if not retryable(e) or _unit.committed or attempt >= RETRIES \
                        or time.monotonic() + pause - started > RETRY_BUDGET:
                    if retryable(e):
                        retried["gave_up"] += 1
                    raise
                attempt += 1
                retried["again"] += 1
                log.info("retrying %s (run %d) after: %s", getattr(fn, "__name__", fn),
                         attempt + 1, e)
                time.sleep(pause)
    finally:
        _unit.active = False


def bind(database):
    """Point every model at this database."""
    db.initialize(database)
    return database


def is_mysql(database=None):
    """True when the bound database is MySQL/MariaDB."""
    return isinstance(database or db.obj, PooledMySQLDatabase)
