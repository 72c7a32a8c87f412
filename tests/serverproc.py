"""The product as a real process (`main.py serve`) for deployment tests, and a throw-away
self-signed certificate. Blocking helpers are used before the test's IOLoop work starts;
`wait_exit` polls so clients keep reading while the server shuts down."""
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from devservers import free_port, wait_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = sys.executable


def make_cert(folder):
    """A self-signed certificate for localhost / 127.0.0.1; returns (cert, key) paths."""
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


class MarketProcess:
    """`main.py serve` on a free loopback port with its own folder (config, SQLite, secrets)."""

    def __init__(self, folder, env=None):
        self.folder = str(folder)
        os.makedirs(self.folder, exist_ok=True)
        self.port = free_port()
        self.config = os.path.join(self.folder, "config.yaml")
        with open(self.config, "w") as f:
            f.write("database:\n  url: sqlite:///data/market.db\n")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MARKET_")}
        self.env.update(MARKET_AUTH_DEV_LOGIN="true", MARKET_SERVER_PORT=str(self.port),
                        MARKET_SERVER_SHUTDOWN_TIMEOUT="5")
        self.env.update(env or {})
        self.log_path = os.path.join(self.folder, "server.log")
        self.proc = None
        self.starts = 0

    def migrate(self):
        subprocess.run([PYTHON, "main.py", "--config", self.config, "migrate"], cwd=ROOT,
                       env=self.env, check=True, capture_output=True)
        return self

    def start(self):
        """Start serving and wait until the port answers."""
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen([PYTHON, "main.py", "--config", self.config, "serve"],
                                     cwd=ROOT, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        try:
            wait_port(self.port, self.proc, timeout=20)
        except RuntimeError:
            raise RuntimeError("server did not start:\n" + self.output())
        # The port is bound before the app is built: wait for the serving line (or, when info
        # lines are off, an answer) too.
        deadline = time.monotonic() + 20
        while not self._serving():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("server did not start:\n" + self.output())
            time.sleep(0.02)
        self.starts += 1
        return self

    def _serving(self):
        if self.env.get("MARKET_SERVER_LOG_LEVEL", "info") in ("debug", "info"):
            return self.output().count("serving on") > self.starts
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/healthz" % self.port, timeout=1).close()
            return True
        except OSError:
            return False

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def signal(self, sig=signal.SIGTERM):
        self.signalled = time.monotonic()
        self.proc.send_signal(sig)

    async def wait_exit(self, timeout=15):
        """The exit code, polled without blocking the IOLoop."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError("server did not exit:\n" + self.output())
            await asyncio.sleep(0.02)
        self.stopped_after = time.monotonic() - self.signalled
        self.log.close()
        return self.proc.returncode

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def dev_login(base, openid, **urlopen_kwargs):
    """Log in through /wx/user/devLogin (blocking); returns the token."""
    with urllib.request.urlopen(base + "/wx/user/devLogin?openid=" + openid, timeout=10,
                                **urlopen_kwargs) as r:
        return json.loads(r.read())["token"]
