"""The database: one DatabaseProxy bound at start-up, the base model, and the URL parser.

SQLite (the embedded default) and MySQL/MariaDB both use Peewee's connection pool, so a worker
thread of the database executor takes a connection for one unit of work and gives it back
(see docs/architecture.md, "Database off the IOLoop").
"""
import datetime
import os
import time
from urllib.parse import unquote, urlparse, parse_qs

from peewee import DatabaseProxy, Model
from playhouse.pool import PooledMySQLDatabase, PooledSqliteDatabase
from playhouse.shortcuts import ReconnectMixin

db = DatabaseProxy()


def utcnow():
    """Naive UTC timestamp: every DateTimeField holds UTC."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class ReconnectingMySQL(ReconnectMixin, PooledMySQLDatabase):
    """Pooled MySQL that retries a statement once after 'server has gone away' (never in a transaction).

    Taking a connection from the pool and giving it back cost two round trips each time (a ping,
    then a ROLLBACK, since PyMySQL has no `in_transaction`): a third of a detail view's statements.
    Now a connection given back within PING_AFTER_IDLE seconds is not pinged (a statement on a
    connection that died since is still retried once by ReconnectMixin), and one is rolled back
    only when the server says a transaction is open."""

    PING_AFTER_IDLE = 1.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._returned_at = {}  # id(connection) -> when it was last given back

    def _is_closed(self, conn):
        if not getattr(conn, "open", True):
            return True
        returned = self._returned_at.get(id(conn))
        if returned is not None and time.monotonic() - returned < self.PING_AFTER_IDLE:
            return False
        return super()._is_closed(conn)

    def _can_reuse(self, conn):
        from pymysql.constants import SERVER_STATUS
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
        ctx = self._state.ctx
        try:
            return super()._reconnect(func, *args, **kwargs)
        finally:
            if self._state.ctx is not ctx:
                self._state.ctx = ctx


def open_database(url, pool_size=8):
    """Make (but do not connect) a Peewee database for a sqlite:/// or mysql:// URL."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        return PooledSqliteDatabase(
            path, max_connections=pool_size, stale_timeout=3600, timeout=10,
            check_same_thread=False,  # a pooled connection serves one thread at a time
            # Write transactions take the write lock at BEGIN, so a reader never has to upgrade
            # (which SQLite refuses at once with "database is locked", busy timeout or not).
            lock_type="IMMEDIATE",
            pragmas={"journal_mode": "wal", "synchronous": "normal",
                     "foreign_keys": 1, "busy_timeout": 10000})
    u = urlparse(url)
    if u.scheme != "mysql" or not u.path.strip("/"):
        raise ValueError("database.url: expected mysql://user:password@host:port/name")
    options = {k: v[-1] for k, v in parse_qs(u.query).items()}
    kwargs = dict(host=u.hostname or "127.0.0.1", port=u.port or 3306,
                  user=unquote(u.username or ""), password=unquote(u.password or ""),
                  charset="utf8mb4", max_connections=pool_size, stale_timeout=300,
                  connect_timeout=5, read_timeout=30, write_timeout=30)
    if "unix_socket" in options:
        kwargs["unix_socket"] = options["unix_socket"]
    return ReconnectingMySQL(u.path.strip("/"), **kwargs)


def bind(database):
    """Point every model at this database."""
    db.initialize(database)
    return database


def is_mysql(database=None):
    """True when the bound database is MySQL/MariaDB."""
    return isinstance(database or db.obj, PooledMySQLDatabase)
