"""The database: one DatabaseProxy bound at start-up, the base model, database.url
(through playhouse.db_url) and the transaction helpers every service uses.

SQLite (the embedded default) and MySQL/MariaDB both use Peewee's connection pool, so a worker
thread of the database executor takes a connection for one unit of work and gives it back
(see docs/architecture.md, "Database off the IOLoop").
"""
import datetime
import os
import time

from peewee import DatabaseProxy, Model, OperationalError
from playhouse import db_url
from playhouse.db_url import register_database
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


# The schemes database.url may use, bound to this product's classes: both pooled, SQLite with
# its pragmas, MySQL with utf8mb4 and one reconnect after "server has gone away".
class MarketSqlite(PooledSqliteDatabase):
    """Pooled SQLite with WAL, a busy timeout and write transactions that lock at BEGIN."""

    def __init__(self, database, **kwargs):
        if os.path.dirname(database):
            os.makedirs(os.path.dirname(database), exist_ok=True)
        super().__init__(database, **kwargs)


register_database(MarketSqlite, "sqlite")
register_database(ReconnectingMySQL, "mysql")


def _defaults(scheme, pool_size):
    if scheme == "sqlite":
        return dict(max_connections=pool_size, stale_timeout=3600, timeout=10,
                    check_same_thread=False,  # a pooled connection serves one thread at a time
                    # Write transactions take the write lock at BEGIN, so a reader never has to
                    # upgrade (which SQLite refuses at once with "database is locked").
                    lock_type="IMMEDIATE",
                    pragmas={"journal_mode": "wal", "synchronous": "normal",
                             "foreign_keys": 1, "busy_timeout": 10000})
    return dict(host="127.0.0.1", port=3306, user="", charset="utf8mb4",
                max_connections=pool_size, stale_timeout=300, connect_timeout=5,
                read_timeout=30, write_timeout=30)


def open_database(url, pool_size=8):
    """Make (but do not connect) a Peewee database for a sqlite:/// or mysql:// URL
    (playhouse.db_url parses it; query options such as ?unix_socket= pass through)."""
    scheme = url.split(":", 1)[0]
    parsed = db_url.parse(url, unquote_password=True, unquote_user=True)
    if scheme != "sqlite" and (scheme != "mysql" or not parsed["database"].strip("/")):
        raise ValueError("database.url: expected mysql://user:password@host:port/name")
    params = {k: v for k, v in _defaults(scheme, pool_size).items() if k not in parsed}
    return db_url.connect(url, unquote_password=True, unquote_user=True, **params)


def write_txn():
    """A transaction that takes the write lock first (SQLite IMMEDIATE; InnoDB row locks)."""
    return db.atomic() if is_mysql() else db.atomic("IMMEDIATE")


def in_transaction(write, attempts=3):
    """Run write() in a transaction, again when InnoDB picks it as a deadlock victim (1213) or a
    lock wait times out (1205); those roll the whole transaction back, so a retry is safe."""
    for attempt in range(attempts):
        try:
            with db.atomic():
                return write()
        except OperationalError as e:
            # Peewee keeps the driver's args (errno, message) and the driver's exception as .orig
            if attempt == attempts - 1 or not e.args or e.args[0] not in (1213, 1205):
                raise


def bind(database):
    """Point every model at this database."""
    db.initialize(database)
    return database


def is_mysql(database=None):
    """True when the bound database is MySQL/MariaDB."""
    return isinstance(database or db.obj, PooledMySQLDatabase)
