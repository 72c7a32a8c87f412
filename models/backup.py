"""`python main.py backup --to FILE`: a consistent copy of the live database (docs/deploy.md, 9).

SQLite: the online backup API (`sqlite3.Connection.backup`), in one step, so the copy is one
snapshot of every committed transaction, including those still only in the `-wal` file (a plain
`cp` of market.db misses them, and can copy a torn page). Writers go on meanwhile (WAL: a reader
blocks no writer). The copy is a single self-contained file (journal_mode DELETE), checked with
`PRAGMA integrity_check`, written beside the target and renamed into place.

MySQL/MariaDB: `mariadb-dump --single-transaction` (one consistent InnoDB snapshot, no table
locks), the password handed over in a 0600 option file, never on the command line.
"""
import os
import shutil
import sqlite3
import subprocess
import tempfile
import urllib.parse


class BackupError(Exception):
    """The backup could not be made; the message says why."""


def backup(url, target):
    """Copy the database of `url` into the new file `target`; returns a one-line summary."""
    if os.path.exists(target):
        raise BackupError("%s already exists (a backup never overwrites)" % target)
    if url.startswith("sqlite:///"):
        return "%d pages" % sqlite_backup(url, target)
    return mysql_dump(url, target)


def sqlite_backup(url, target):
    """The SQLite file of `url` copied to `target` through the online backup API; its pages."""
    path = url[len("sqlite:///"):]
    if not os.path.isfile(path):
        raise BackupError("no database at %s" % path)
    partial = target + ".partial"
    source = sqlite3.connect(path, timeout=30)  # only read (it may create the -shm it needs)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # pages=-1: all in one step, one snapshot
            copy.execute("PRAGMA journal_mode=DELETE")
            if copy.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError("the copy failed its integrity check")
            pages = copy.execute("PRAGMA page_count").fetchone()[0]
        finally:
            copy.close()
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    finally:
        source.close()
    os.replace(partial, target)
    return pages


def mysql_dump(url, target):
    """`mariadb-dump --single-transaction` of the database of `url` into `target` (SQL)."""
    dump = shutil.which("mariadb-dump") or shutil.which("mysqldump")
    if dump is None:
        raise BackupError("mariadb-dump is not installed (apt-get install mariadb-client)")
    u = urllib.parse.urlparse(url)
    options = "[client]\nuser=%s\npassword=%s\nhost=%s\nport=%d\n" % (
        urllib.parse.unquote(u.username or ""), urllib.parse.unquote(u.password or ""),
        u.hostname or "127.0.0.1", u.port or 3306)
    with tempfile.NamedTemporaryFile("w", suffix=".cnf") as cnf:  # created 0600
        cnf.write(options)
        cnf.flush()
        partial = target + ".partial"
        with open(partial, "wb") as out:
            result = subprocess.run(
                [dump, "--defaults-extra-file=" + cnf.name, "--single-transaction",
                 "--default-character-set=utf8mb4", "--routines", "--triggers",
                 "--hex-blob", u.path.lstrip("/")], stdout=out, stderr=subprocess.PIPE)
    if result.returncode != 0:
        os.remove(partial)
        raise BackupError("mariadb-dump failed: %s" % result.stderr.decode(errors="replace")
                          .strip().splitlines()[-1:])
    os.replace(partial, target)
    return "SQL dump of %s" % u.path.lstrip("/")
