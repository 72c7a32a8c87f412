"""Server memory while N large uploads are held open (issue 14, item 2).

    .venv/bin/python bench/held_uploads.py [--root CHECKOUT] [--count 40] [--mib 11] [--token]

Starts `main.py serve` of CHECKOUT (default: this one) on embedded SQLite with the default
limits, opens COUNT connections that each send the head of a MIB MiB multipart upload to
/wx/images/upload and all of the body but its last byte, keeps them open, and prints the
server's resident memory (VmRSS) before and while they are held. Anonymous by default;
--token sends a valid user token (the accepted path: those bodies are kept, up to 10 per user).
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(root, folder):
    port = free_port()
    config = os.path.join(folder, "config.yaml")
    with open(config, "w") as f:
        f.write("database:\n  url: sqlite:///data/market.db\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKET_")}
    env.update(MARKET_AUTH_DEV_LOGIN="true", MARKET_SERVER_PORT=str(port),
               MARKET_SERVER_LOG_LEVEL="warning")
    python = sys.executable
    subprocess.run([python, "main.py", "--config", config, "migrate"], cwd=root, env=env,
                   check=True, capture_output=True)
    log = open(os.path.join(folder, "server.log"), "w")
    proc = subprocess.Popen([python, "main.py", "--config", config, "serve"], cwd=root, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=1).close()
            return proc, port
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError("server did not start")
            time.sleep(0.1)


def hold(port, count, size, token):
    boundary = "b" * 24
    head_part = ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
                 "Content-Type: image/png\r\n\r\n" % boundary).encode()
    tail = ("\r\n--%s--\r\n" % boundary).encode()
    total = len(head_part) + size + len(tail)
    auth = "Authorization: Bearer %s\r\n" % token if token else ""
    head = ("POST /wx/images/upload HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%sContent-Type: "
            "multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n\r\n"
            % (port, auth, boundary, total)).encode()
    body = head_part + os.urandom(1 << 20) * (size >> 20) + tail
    sockets, sent_all, answered = [], 0, 0
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        try:
            s.sendall(head + body[:-1])  # all but the last byte: the request stays open
            sent_all += 1
        except OSError:
            answered += 1
        sockets.append(s)
    return sockets, sent_all, answered


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=HERE)
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--mib", type=int, default=11)
    parser.add_argument("--token", action="store_true")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="held-uploads-")
    proc, port = start(args.root, folder)
    try:
        token = None
        if args.token:
            with urllib.request.urlopen("http://127.0.0.1:%d/wx/user/devLogin?openid=holder"
                                        % port, timeout=10) as r:
                token = json.loads(r.read())["token"]
        time.sleep(1)
        before = rss_mib(proc.pid)
        sockets, sent_all, answered = hold(port, args.count, args.mib << 20, token)
        peak = before
        for _ in range(20):  # the server reads what the kernel buffered
            peak = max(peak, rss_mib(proc.pid))
            time.sleep(0.1)
        print("%s: %d %s uploads of %d MiB held open (%d sent whole, %d cut off): server RSS "
              "%.0f MiB before, %.0f MiB held (+%.0f)"
              % (os.path.basename(os.path.abspath(args.root)), args.count,
                 "user" if args.token else "anonymous", args.mib, sent_all, answered, before,
                 peak, peak - before))
        for s in sockets:
            s.close()
    finally:
        proc.terminate()
        proc.wait(20)


if __name__ == "__main__":
    main()
