"""Private throw-away servers for the tests and the benchmarks: MariaDB and Redis from Debian's
packages, on loopback, with their data in a temporary folder (no system service; works as root
in a container). One job: start them, tell their address, stop them and remove their data."""
import os
import shutil
import socket
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not listen on %d" % port)


class MariaDB:
    """A throw-away mariadbd on 127.0.0.1:<port>, root without a password (grant tables skipped)."""

    # A production server's pool holds the listings and the search index (docs/deploy.md,
    # "Search"): 100k listings are ~30 MB of goods and ~200 MB of goods_search with its
    # full-text tables. InnoDB touches pool pages only as they fill, so a small test database
    # costs little of it.
    BUFFER_POOL = "512M"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="market-mariadb-")
        self.port = free_port()
        self.proc = None

    def start(self):
        install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        daemon = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        if not install or not os.path.exists(daemon):
            raise RuntimeError("MariaDB is not installed (apt-get install mariadb-server)")
        data = os.path.join(self.dir, "data")
        subprocess.run([install, "--no-defaults", "--datadir=" + data, "--user=root",
                        "--auth-root-authentication-method=normal", "--skip-test-db"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.log = open(os.path.join(self.dir, "mariadb.log"), "w")
        self.proc = subprocess.Popen(
            [daemon, "--no-defaults", "--datadir=" + data, "--user=root",
             "--port=%d" % self.port, "--bind-address=127.0.0.1",
             "--socket=" + os.path.join(self.dir, "mysqld.sock"),
             "--pid-file=" + os.path.join(self.dir, "mysqld.pid"),
             "--tmpdir=" + self.dir,  # its own: a shared /tmp may be swept under a running query
             "--skip-grant-tables", "--skip-name-resolve",
             "--innodb-buffer-pool-size=" + self.BUFFER_POOL,
             "--innodb-flush-log-at-trx-commit=2", "--character-set-server=utf8mb4",
             "--collation-server=utf8mb4_unicode_ci", "--max-connections=500"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc)
        return self

    def url(self, name):
        return "mysql://root@127.0.0.1:%d/%s" % (self.port, name)

    def execute(self, sql):
        import pymysql
        conn = pymysql.connect(host="127.0.0.1", port=self.port, user="root", charset="utf8mb4")
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            conn.close()

    def create_database(self, name):
        self.execute("DROP DATABASE IF EXISTS `%s`" % name)
        self.execute("CREATE DATABASE `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" % name)
        return self.url(name)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    """A throw-away redis-server on 127.0.0.1:<port>, no persistence."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="market-redis-")
        self.port = free_port()
        self.proc = None

    def start(self):
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc)
        return self

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)
