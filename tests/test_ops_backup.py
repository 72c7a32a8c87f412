"""Issue 19 #6: the backup and restore recipes of docs/deploy.md ("Backups"), on both databases:
a live database is backed up while a real server keeps writing to it, the copy is restored into
a fresh database, a server starts on it, and every write answered before the backup began is
there."""
import os
import shutil
import subprocess
import threading
import urllib.request

import pytest

from tests.serverproc import PYTHON, ROOT, MarketProcess, dev_login

FAST = {"MARKET_LIMITS_LOGIN_PER_MINUTE_ADDRESS": "1000000",  # the writer is one address
        "MARKET_LIMITS_PER_MINUTE_ADDRESS": "1000000"}


class Writer(threading.Thread):
    """Signs new users in (one row each) as fast as the server answers, until stopped."""

    def __init__(self, port, prefix):
        super().__init__(daemon=True)
        self.base, self.prefix = "http://127.0.0.1:%d" % port, prefix
        self.answered = []  # openids whose row is committed (their answer came back)
        self.stop = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                openid = "%s%05d" % (self.prefix, len(self.answered))
                dev_login(self.base, openid)
                self.answered.append(openid)
        except Exception as e:  # reported by the test
            self.error = e


def backup(server, target):
    """The recipe: `main.py backup --to FILE` against the serving database."""
    done = subprocess.run([PYTHON, "main.py", "--config", server.config, "backup", "--to",
                           target], cwd=ROOT, env=server.env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("backup: %s written" % target)
    return done


def users_on(server):
    """The openids a server on the restored database knows (through its own code)."""
    out = subprocess.run(
        [PYTHON, "-c", "import sys; sys.path.insert(0, %r)\n"
         "from settings import load_config\nfrom models import bind, open_database\n"
         "from models.user import User\n"
         "c = load_config(%r)\nd = bind(open_database(c['database']['url'], 1))\n"
         "print('\\n'.join(u.openid for u in User.select()))" % (ROOT, server.config)],
        cwd=ROOT, env=server.env, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def healthy(server):
    with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % server.port, timeout=10) as r:
        return r.status == 200


def back_up_while_writing(server, target):
    """(openids answered before the backup began, the backup's output); writes go on during."""
    writer = Writer(server.port, "bk")
    writer.start()
    try:
        while len(writer.answered) < 50 and writer.is_alive():
            threading.Event().wait(0.01)
        before = list(writer.answered)
        backup(server, target)
        during = len(writer.answered) - len(before)
    finally:
        writer.stop.set()
        writer.join(10)
    assert writer.error is None, writer.error
    assert during > 0, "no write happened during the backup: the test proves nothing"
    return set(before), writer.answered


def test_sqlite_backup_while_serving_and_restore(tmp_path):
    live = MarketProcess(tmp_path / "live", FAST).migrate().start()
    try:
        wal = os.path.join(live.folder, "data", "market.db-wal")
        before, all_written = back_up_while_writing(live, str(tmp_path / "market-backup.db"))
        assert os.path.getsize(wal) > 0  # the recent writes sat in the WAL file
        with pytest.raises(AssertionError):  # never overwrites
            backup(live, str(tmp_path / "market-backup.db"))
    finally:
        live.kill()
    # restore: the copy becomes data/market.db of a fresh install (no -wal / -shm beside it)
    fresh = MarketProcess(tmp_path / "restored")
    os.makedirs(os.path.join(fresh.folder, "data"))
    shutil.copy(tmp_path / "market-backup.db", os.path.join(fresh.folder, "data", "market.db"))
    assert not os.path.exists(str(tmp_path / "market-backup.db") + "-wal")
    fresh.migrate().start()
    try:
        assert healthy(fresh)
        restored = users_on(fresh)
        assert before <= restored  # every answered write is in the backup
        assert restored <= set(all_written)  # and nothing else
        check = subprocess.run(["sqlite3", str(tmp_path / "market-backup.db"),
                                "PRAGMA integrity_check"], capture_output=True, text=True)
        assert check.stdout.strip() == "ok"
    finally:
        fresh.kill()


def test_mariadb_dump_while_serving_and_restore(tmp_path, mariadb):
    url = mariadb.create_database("market_backup")
    live = MarketProcess(tmp_path / "live", dict(FAST, MARKET_DATABASE_URL=url)).migrate().start()
    dump = str(tmp_path / "market.sql")
    try:
        before, all_written = back_up_while_writing(live, dump)
    finally:
        live.kill()
    text = open(dump, encoding="utf-8").read()
    assert "utf8mb4" in text and "CREATE TABLE `chat_message`" in text
    # restore into a fresh database, as docs/deploy.md says: mariadb NAME < dump
    restored_url = mariadb.create_database("market_restored")
    with open(dump, "rb") as f:
        subprocess.run(["mariadb", "-h", "127.0.0.1", "-P", str(mariadb.port), "-u", "root",
                        "market_restored"], stdin=f, check=True, capture_output=True)
    fresh = MarketProcess(tmp_path / "restored", {"MARKET_DATABASE_URL": restored_url})
    fresh.migrate().start()  # migrate: nothing pending, the schema came with the dump
    try:
        assert healthy(fresh)
        restored = users_on(fresh)
        assert before <= restored and restored <= set(all_written)
    finally:
        fresh.kill()
        mariadb.execute("DROP DATABASE market_backup")
        mariadb.execute("DROP DATABASE market_restored")


def test_the_guides_sqlite3_backup_line_while_serving(tmp_path):
    """docs/deploy.md's by-hand recipe, `sqlite3 DB ".backup 'FILE'"`, run as written (paths
    pointed here) while the server writes: a consistent copy with every answered write."""
    import re
    import sqlite3
    guide = open(os.path.join(ROOT, "docs", "deploy.md"), encoding="utf-8").read()
    line = re.search(r"`(sqlite3 /var/lib/market/market\.db \"\.backup '[^']+'\")`", guide).group(1)
    live = MarketProcess(tmp_path / "live", FAST).migrate().start()
    target = str(tmp_path / "by-hand.sqlite")
    line = line.replace("/var/lib/market/market.db", os.path.join(live.folder, "data", "market.db"))
    line = re.sub(r"'[^']+'", "'%s'" % target, line)
    writer = Writer(live.port, "bh")
    writer.start()
    try:
        while len(writer.answered) < 50 and writer.is_alive():
            threading.Event().wait(0.01)
        before = set(writer.answered)
        subprocess.run(line, shell=True, check=True, timeout=60)
        assert len(writer.answered) > len(before)  # writes went on meanwhile
    finally:
        writer.stop.set()
        writer.join(10)
        live.kill()
    assert writer.error is None, writer.error
    copy = sqlite3.connect(target)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        restored = {row[0] for row in copy.execute("SELECT openid FROM user")}
    finally:
        copy.close()
    assert before <= restored <= set(writer.answered)
