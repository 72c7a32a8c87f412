"""A minimal asyncio HTTP/1.1 keep-alive load client, run as its own process:
`python -m bench.httpload '{"port", "paths", "conns", "warmup", "duration", "start_at"}'`.

Each of `conns` connections sends one GET at a time (closed loop), cycling through `paths`
(shuffled per connection); requests finishing inside [start_at + warmup, + duration] are counted
with their latency. Only 127.0.0.1 is dialled; it prints one JSON line and exits by itself.
"""
import asyncio
import json
import random
import signal
import os
import sys
import time

from bench.wsclient import bucket

HOST = "127.0.0.1"


async def worker(port, paths, stats, until, window):
    reader, writer = await asyncio.open_connection(HOST, port)
    paths = list(paths)
    random.shuffle(paths)
    requests = [("GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (p, HOST, port)).encode() for p in paths]
    i = 0
    try:
        while time.monotonic() < until:
            t0 = time.monotonic_ns()
            writer.write(requests[i % len(requests)])
            i += 1
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            j = head.lower().find(b"content-length:")
            length = int(head[j + 15:head.find(b"\r\n", j)]) if j >= 0 else 0
            if length:
                await reader.readexactly(length)
            t1 = time.monotonic_ns()
            if window[0] <= t1 / 1e9 < window[1]:
                stats["n"] += 1
                if status != 200:
                    stats["bad"] += 1
                    stats["statuses"][status] = stats["statuses"].get(status, 0) + 1
                b = bucket((t1 - t0) // 1000)
                stats["hist"][b] = stats["hist"].get(b, 0) + 1
    except (OSError, asyncio.IncompleteReadError, ValueError) as e:
        stats["failed"] += 1
        stats["reason"] = str(e)[:100]
    finally:
        writer.close()


async def main(cfg):
    stats = {"n": 0, "bad": 0, "failed": 0, "hist": {}, "statuses": {}}
    start = cfg["start_at"] + cfg["warmup"]
    window = (start, start + cfg["duration"])
    delay = cfg["start_at"] - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
    cpu0 = time.process_time()
    await asyncio.gather(*(worker(cfg["port"], cfg["paths"], stats, window[1], window)
                           for _ in range(cfg["conns"])))
    stats["client_cpu"] = time.process_time() - cpu0
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    cfg = json.loads(sys.argv[1])
    signal.signal(signal.SIGALRM, lambda *a: os._exit(3))
    signal.alarm(int(cfg["start_at"] - time.monotonic() + cfg["warmup"] + cfg["duration"] + 60))
    asyncio.run(main(cfg))
