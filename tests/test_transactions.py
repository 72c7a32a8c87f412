"""One way to write: every transaction is models.write_txn() inside a unit of work
(models.run_unit, which the database executor runs every service function in and which runs it
again, whole, after a deadlock, a lock wait timeout or SQLite busy), and a database that gives
up on a change answers 503 "busy, try again" with Retry-After, never "unavailable".

The parallel writers on each hot write over real HTTP are in tests/test_db_contention.py; the
hung and the killed database in tests/test_db_hung.py."""
import ast
import os
import threading

import pytest
from peewee import OperationalError

import models
from models import retryable, run_unit, write_txn
from models.goods import Favourite
from tests.house import ROOMS, ROOT, RULES, SERVING, files

# Calls that open, end or step around a transaction. Only models/ may make them (write_txn is
# the one way in); a migration binds the models to its own database.
TXN_CALLS = {"atomic", "transaction", "savepoint", "manual_commit", "begin", "commit",
             "rollback", "in_transaction", "run_unit", "connection_context"}
ALLOWED = {
    # the executor's call: each unit of work on a connection of the pool (MarketApp.run_db)
    ("application.py", "run_unit"), ("application.py", "connection_context"),
    # the m0010/m0011 backfill: the migration binds GoodsSearch to the database it migrates
    ("search/index.py", "atomic"),
}
# A caught database error is one the unit can no longer retry (nor report as busy).
DB_ERRORS = {"OperationalError", "DatabaseError", "PeeweeException", "InterfaceError",
             "InternalError", "Exception", "BaseException"}


def _txn_calls(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in TXN_CALLS:
                yield name, node.lineno


def test_no_code_outside_models_opens_a_transaction_but_through_write_txn():
    """Walks every room that serves (tests/house.py SERVING): a transaction
    is opened only with write_txn(), which runs inside the executor's retrying unit; nothing else
    begins, commits or retries one, or takes a connection of its own (run_db does)."""
    wrong = []
    for path in files(*SERVING):
        rel = os.path.relpath(path, ROOT)
        for name, line in _txn_calls(path):
            if (rel, name) not in ALLOWED:
                wrong.append("%s:%d %s()" % (rel, line, name))
    assert wrong == [], "open transactions with models.write_txn(): " + ", ".join(wrong)


def test_every_service_write_transaction_is_write_txn():
    """Every `with` that holds a transaction in services/ (and search/) is `with write_txn():` (so
    the count of write paths this rule covers is known and cannot silently shrink)."""
    found, other = 0, []
    for path in files(*SERVING):
        tree = ast.parse(open(path, encoding="utf-8").read())
        for node in ast.walk(tree):
            if isinstance(node, ast.With):
                for item in node.items:
                    text = ast.unparse(item.context_expr)
                    if text == "write_txn()":
                        found += 1
                    elif "atomic" in text or "transaction" in text:
                        other.append("%s:%d %s" % (os.path.relpath(path, ROOT), node.lineno,
                                                   text))
    assert other == [ "search/index.py:%d GoodsSearch._meta.database.atomic()" % line
                      for line in _search_backfill_lines()]
    assert found >= 50, found


def _search_backfill_lines():
    path = os.path.join(ROOT, "search", "index.py")
    return [n.lineno for n in ast.walk(ast.parse(open(path, encoding="utf-8").read()))
            if isinstance(n, ast.With) and "atomic" in ast.unparse(n.items[0].context_expr)]


def test_services_never_catch_a_database_error():
    """A service that caught OperationalError (or everything) would swallow a deadlock the
    unit must see to run it again."""
    wrong = []
    for path in files(*RULES):
        tree = ast.parse(open(path, encoding="utf-8").read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ExceptHandler):
                kinds = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
                names = {k.attr if isinstance(k, ast.Attribute) else getattr(k, "id", None)
                         for k in kinds} if node.type else {"BaseException"}
                if names & DB_ERRORS:
                    wrong.append("%s:%d" % (os.path.relpath(path, ROOT), node.lineno))
    assert wrong == []


def test_only_run_db_runs_units():
    """The executor's call (application.MarketApp._in_connection) is the one caller of
    run_unit outside tests: every service function the server runs is a unit."""
    callers = []
    for path in files(*ROOMS):
        for call, line in _txn_calls(path):
            if call == "run_unit":
                callers.append(os.path.relpath(path, ROOT))
    assert callers == ["application.py"]


# -- the helper itself, on both databases --------------------------------------------------
def deadlock(errno=1213):
    return OperationalError(errno, "Deadlock found when trying to get lock; try restarting "
                                   "transaction")


def test_a_deadlock_victim_is_run_again_whole_and_commits_once(database):
    runs = []

    def unit():
        with write_txn():
            runs.append(1)
            Favourite.insert(openid="u", gid=len(runs)).execute()
            if len(runs) < 3:
                raise deadlock()  # InnoDB rolled it back: the insert above goes with it
        return len(runs)
    assert run_unit(unit) == 3
    assert [f.gid for f in Favourite.select()] == [3]


def test_retries_are_bounded_and_the_last_error_says_busy(database):
    runs = []

    def unit():
        runs.append(1)
        with write_txn():
            raise deadlock(1205)
    with pytest.raises(OperationalError) as e:
        run_unit(unit)
    assert len(runs) == models.RETRIES + 1 and retryable(e.value)


def test_a_unit_that_committed_is_not_run_again(database):
    runs = []

    def unit():
        runs.append(1)
        with write_txn():
            Favourite.insert(openid="u", gid=1).execute()
        with write_txn():
            raise deadlock()
    with pytest.raises(OperationalError):
        run_unit(unit)
    assert len(runs) == 1 and Favourite.select().count() == 1  # not done twice


def test_a_lone_write_counts_as_committed(database):
    runs = []

    def unit():
        runs.append(1)
        Favourite.insert(openid="u", gid=1).execute()  # autocommit
        raise deadlock()
    with pytest.raises(OperationalError):
        run_unit(unit)
    assert len(runs) == 1


def test_other_errors_are_not_retried_and_a_hidden_deadlock_is(database):
    runs = []

    def down():
        runs.append(1)
        raise OperationalError(2003, "Can't connect to MySQL server")
    with pytest.raises(OperationalError):
        run_unit(down)
    assert len(runs) == 1

    def savepoint_lost():  # a savepoint's ROLLBACK TO failing after InnoDB rolled back all
        runs.append(1)
        try:
            raise deadlock()
        except OperationalError:
            raise OperationalError(1305, "SAVEPOINT s1 does not exist")
    with pytest.raises(OperationalError):
        run_unit(savepoint_lost)
    assert len(runs) == 1 + models.RETRIES + 1


def test_units_on_parallel_threads_keep_their_own_state(database):
    """The committed mark is per thread: one thread's commit never stops another's retry."""
    results, barrier = [], threading.Barrier(4)

    def unit(i):
        with database.connection_context():
            tries = []

            def work():
                tries.append(1)
                if len(tries) == 1:
                    barrier.wait(5)  # all four in their first run at once
                with write_txn():
                    Favourite.insert(openid="p%d" % i, gid=len(tries)).execute()
                    if len(tries) == 1:
                        raise deadlock()
            run_unit(work)
            results.append(len(tries))
    threads = [threading.Thread(target=unit, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert results == [2, 2, 2, 2]
    assert Favourite.select().count() == 4


def test_a_real_innodb_deadlock_is_retried_and_both_units_commit(mariadb):
    """Two units lock the same two rows in opposite orders: InnoDB picks a victim (1213), which
    run_unit runs again; both commit, and nothing is reported."""
    from models import bind, open_database
    database = bind(open_database(mariadb.url("market_test"), 2))
    with database.connection_context():
        Favourite.delete().execute()
        Favourite.insert_many([{"openid": "x", "gid": 1}, {"openid": "y", "gid": 2}]).execute()
    barrier, runs, errors = threading.Barrier(2), [], []

    def unit(first, second):
        def work():
            runs.append(first)
            with write_txn():
                Favourite.update(gid=Favourite.gid + 10).where(Favourite.openid == first).execute()
                if runs.count(first) == 1:
                    barrier.wait(5)  # both hold their first row
                Favourite.update(gid=Favourite.gid + 10).where(Favourite.openid == second).execute()
        try:
            with database.connection_context():
                run_unit(work)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=unit, args=p) for p in (("x", "y"), ("y", "x"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    with database.connection_context():
        gids = sorted(f.gid for f in Favourite.select())
    database.close_all()
    assert errors == [] and len(runs) == 3  # one victim, run again once
    assert gids == [21, 22]


def test_sqlite_busy_past_its_timeout_is_run_again(tmp_path):
    """SQLite: another process holds the write lock past the busy timeout ("database is
    locked"); run_unit runs the unit again, which gets the lock once it is free."""
    import sqlite3
    import time
    import migrations
    from models import bind, open_database
    url = "sqlite:///" + str(tmp_path / "busy.db")
    database = bind(open_database(url, 2, query_timeout=0.2))  # a 0.2 s busy timeout
    with database.connection_context():
        migrations.migrate(database, log=lambda *a: None)
    rival = sqlite3.connect(str(tmp_path / "busy.db"), isolation_level=None,
                            check_same_thread=False)
    rival.execute("BEGIN IMMEDIATE")
    threading.Timer(0.3, rival.rollback).start()
    runs = []

    def unit():
        runs.append(time.monotonic())
        with write_txn():
            Favourite.insert(openid="u", gid=1).execute()
    try:
        with database.connection_context():
            run_unit(unit)
            assert Favourite.select().count() == 1
    finally:
        rival.close()
        database.close_all()
    assert len(runs) >= 2


def test_units_of_work_reuse_the_pools_connections(database):
    """A unit of work takes a pooled connection and gives it back: 50 units on one thread use
    one raw connection (the bounded connect once sat above the pool and opened one per unit,
    23 ms of CPU each: REST answered 21 requests a second instead of 1,300; bench table 4)."""
    seen = set()
    for _ in range(50):
        with database.connection_context():
            seen.add(id(database.connection()))
            database.execute_sql("SELECT 1").fetchall()
    assert len(seen) == 1, len(seen)
