"""Processes for the benchmarks: the product and the bare reference as servers, load clients,
and what /proc says about them (CPU seconds, resident memory)."""
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from devservers import free_port, wait_port  # noqa: E402

PYTHON = sys.executable
TICK = os.sysconf("SC_CLK_TCK")
CORES = sorted(os.sched_getaffinity(0))
SERVER_CORES = {CORES[0]}
CLIENT_CORES = {CORES[-1]} if len(CORES) > 1 else {CORES[0]}
TOKEN_SECRET = "bench-token-secret-" + "0123456789abcdef" * 3


def preexec(cores):
    """In the child: pin to `cores` (None: any) and raise the open-file limit to the hard one."""
    def run():
        if cores:
            os.sched_setaffinity(0, cores)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return run


def children(pid):
    out = []
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                out.extend(int(x) for x in f.read().split())
    except OSError:
        pass
    return out


def alive(pid):
    """True while the process exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cpu_seconds(pids):
    """utime + stime of these processes, in seconds (from /proc/<pid>/stat)."""
    total = 0.0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
        except OSError:
            pass
    return total


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


class CpuMeter:
    """Server CPU share over a window: CPU seconds used / wall seconds (1.0 = one full core)."""

    def __init__(self, pids_fn):
        self.pids_fn = pids_fn

    def start(self):
        self.t0, self.c0 = time.monotonic(), cpu_seconds(self.pids_fn())
        return self

    def stop(self):
        self.share = (cpu_seconds(self.pids_fn()) - self.c0) / (time.monotonic() - self.t0)
        return self.share


WARNINGS = {}  # product log warnings/errors since the last table: {message shape: count}


def note_warnings(log):
    """Count the product's WARNING/ERROR lines (access log aside) by message shape."""
    import re
    found = 0
    for line in log.splitlines():
        if (" WARNING " in line or " ERROR " in line) and "tornado.access" not in line:
            shape = re.sub(r"\d+", "N", line.split(": ", 1)[-1])[:110]
            WARNINGS[shape] = WARNINGS.get(shape, 0) + 1
            found += 1
    return found


def take_warnings():
    out = sorted(WARNINGS.items(), key=lambda kv: -kv[1])
    WARNINGS.clear()
    return out


class Server:
    def __init__(self, name, cores):
        self.name, self.cores = name, cores
        self.folder = tempfile.mkdtemp(prefix="market-bench-%s-" % name)
        self.port = free_port()
        self.proc = None

    def launch(self, argv, env):
        self.log_path = os.path.join(self.folder, "server.log")
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, preexec_fn=preexec(self.cores))
        try:
            wait_port(self.port, self.proc, timeout=30)
        except RuntimeError:
            raise RuntimeError("%s did not start:\n%s" % (self.name, self.output()[-3000:]))
        return self

    def output(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def pids(self):
        return [self.proc.pid] + children(self.proc.pid)

    def rss(self):
        return rss_kib(self.pids())

    def stop(self):
        """SIGTERM to the server and to its forked workers (outside systemd nothing else
        would reach them), then SIGKILL whatever is left after 20 s."""
        if self.proc and self.proc.poll() is None:
            workers = children(self.proc.pid)
            for pid in [self.proc.pid] + workers:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            deadline = time.monotonic() + 10
            for pid in workers:
                while alive(pid):
                    if time.monotonic() > deadline:
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                        break
                    time.sleep(0.05)
        if self.proc is not None and isinstance(self, ProductServer):
            if note_warnings(self.output()):  # keep the whole log for the tracebacks
                kept = os.path.join(tempfile.gettempdir(), "market-bench-logs")
                os.makedirs(kept, exist_ok=True)
                shutil.copy(self.log_path, os.path.join(kept, "%s-%d.log" % (
                    self.name, self.proc.pid)))
                WARNINGS["(full log kept in %s)" % kept] = 1
        if getattr(self, "spy", None):
            try:
                self.spy.wait(20)
            except subprocess.TimeoutExpired:
                self.spy.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


class BareServer(Server):
    def __init__(self, cores=SERVER_CORES):
        super().__init__("bare", cores)

    def start(self):
        return self.launch([PYTHON, "-m", "bench.bare", str(self.port)], dict(os.environ))


class ProductServer(Server):
    """`main.py serve` with its own folder; chat and REST limits raised for load (stated in the
    tables), everything else as configured by default."""

    def __init__(self, db_url, cores=SERVER_CORES, env=None, processes=1, name="product"):
        super().__init__(name, cores)
        self.db_url = db_url
        self.config = os.path.join(self.folder, "config.yaml")
        with open(self.config, "w") as f:
            f.write("{}\n")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MARKET_")}
        self.env.update(
            MARKET_DATABASE_URL=db_url, MARKET_SERVER_PORT=str(self.port),
            MARKET_AUTH_TOKEN_SECRET=TOKEN_SECRET, MARKET_AUTH_DEV_LOGIN="true",
            MARKET_SERVER_PROCESSES=str(processes), MARKET_SERVER_SHUTDOWN_TIMEOUT="3",
            MARKET_CHAT_RATE_PER_SECOND="1000000", MARKET_CHAT_RATE_BURST="1000000",
            MARKET_LIMITS_PER_MINUTE_ADDRESS="100000000",
            MARKET_CHAT_MAX_CONNECTIONS_PER_USER="5",
            MARKET_SERVER_MAX_CONNECTIONS_PER_ADDRESS="0")  # every load client is on loopback
        if "MARKET_SERVER_EVENT_LOOP" in os.environ:  # the bare reference reads the same
            self.env["MARKET_SERVER_EVENT_LOOP"] = os.environ["MARKET_SERVER_EVENT_LOOP"]
        self.env.update(env or {})

    # `bench/run --product-root DIR` runs the product from another checkout (a proposed fix),
    # measured against the same references by the same clients
    product_root = ROOT

    def start(self):
        self.launch([PYTHON, os.path.join(self.product_root, "main.py"), "--config", self.config,
                     "serve"], self.env)
        self.spy = None
        folder = os.environ.get("BENCH_PYSPY")  # profile: py-spy raw stacks, one file per run
        if folder:
            os.makedirs(folder, exist_ok=True)
            out = os.path.join(folder, "%s-%d.txt" % (self.name, self.proc.pid))
            self.spy = subprocess.Popen(
                [os.path.join(os.path.dirname(PYTHON), "py-spy"), "record", "-p",
                 str(self.proc.pid), "-s", "--gil", "-r", "100", "-f", "raw", "-o", out, "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if int(self.env["MARKET_SERVER_PROCESSES"]) > 1:  # wait for the workers
            deadline = time.monotonic() + 20
            while len(children(self.proc.pid)) < int(self.env["MARKET_SERVER_PROCESSES"]):
                if time.monotonic() > deadline:
                    raise RuntimeError("workers did not start:\n" + self.output()[-3000:])
                time.sleep(0.1)
            time.sleep(1.0)  # let each worker subscribe to its Redis channel
        return self


class ClientPool:
    """`count` bench.wsclient processes, driven by JSON lines."""

    def __init__(self, count, cores=CLIENT_CORES, max_seconds=600):
        self.procs = []
        for _ in range(count):
            p = subprocess.Popen([PYTHON, "-m", "bench.wsclient", str(max_seconds)], cwd=ROOT,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                 preexec_fn=preexec(cores))
            self.procs.append(p)
        for p in self.procs:
            json.loads(p.stdout.readline())

    def pids(self):
        return [p.pid for p in self.procs]

    def send(self, cmds):
        """One command per process (a list), or the same command to all; no waiting."""
        if isinstance(cmds, dict):
            cmds = [cmds] * len(self.procs)
        for p, cmd in zip(self.procs, cmds):
            p.stdin.write(json.dumps(cmd) + "\n")
            p.stdin.flush()

    def receive(self):
        out = []
        for p in self.procs:
            line = p.stdout.readline()
            if not line:
                raise RuntimeError("load client %d exited (%s)" % (p.pid, p.poll()))
            out.append(json.loads(line))
        return out

    def call(self, cmds):
        self.send(cmds)
        return self.receive()

    def stop(self):
        for p in self.procs:
            try:
                p.stdin.write('{"cmd": "quit"}\n')
                p.stdin.close()
            except OSError:
                pass
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


def http_load(port, paths, conns, procs, warmup, duration, cores=CLIENT_CORES):
    """Run `procs` bench.httpload processes with `conns` connections in all; merged stats."""
    start_at = time.monotonic() + 0.5
    per = [conns // procs + (1 if i < conns % procs else 0) for i in range(procs)]
    running = []
    for n in per:
        cfg = {"port": port, "paths": paths, "conns": n, "warmup": warmup, "duration": duration,
               "start_at": start_at}
        running.append(subprocess.Popen([PYTHON, "-m", "bench.httpload", json.dumps(cfg)],
                                        cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                        preexec_fn=preexec(cores)))
    return running, start_at


def http_collect(running):
    merged = {"n": 0, "bad": 0, "failed": 0, "hist": {}, "client_cpu": 0.0, "statuses": {}}
    for p in running:
        out, _ = p.communicate(timeout=120)
        r = json.loads(out)
        for k in ("n", "bad", "failed", "client_cpu"):
            merged[k] += r[k]
        for b, c in r["hist"].items():
            merged["hist"][int(b)] = merged["hist"].get(int(b), 0) + c
        for s, c in r["statuses"].items():
            merged["statuses"][s] = merged["statuses"].get(s, 0) + c
    return merged
