"""A minimal asyncio WebSocket load client, run as its own process: `python -m bench.wsclient`.

Hand-rolled RFC 6455 client framing (masked frames, one transport write per batch, no per-frame
objects beyond the payload bytes) so that it costs less CPU per message than the server it
measures. It is driven by JSON commands, one per stdin line, and answers one JSON line each:

  {"cmd": "connect", "port", "conns": [[me, peer, token_or_null], ...], "v2", "concurrency"}
  {"cmd": "relay", "mode": "full"|"rate", "rate", "window", "warmup", "duration"}
  {"cmd": "offline_send", "plan": {me: [recipient, ...]}, "per", "window", "deadline"}
  {"cmd": "drain", "port", "conns": [[me, peer, token, expected], ...], "concurrency", "deadline"}
  {"cmd": "close"}   {"cmd": "quit"}

Only 127.0.0.1 is ever dialled; an alarm ends the process after --max-seconds whatever happens.
"""
import asyncio
import base64
import json
import math
import os
import random
import signal
import struct
import sys
import time

HOST = "127.0.0.1"
CONTENT = b'"content":"'
PAD = b"x" * 40
LOG_BASE = math.log(1.02)  # latency histogram: 2 % wide buckets, merged by summing


def bucket(us):
    return int(math.log(us) / LOG_BASE) if us > 1 else 0


def bucket_value(b):
    return 1.02 ** b if b else 1.0


def percentiles(hist, ps=(50, 99)):
    """{p: milliseconds} and the max from a {bucket: count} histogram."""
    total = sum(hist.values())
    out = {}
    if not total:
        return {p: None for p in ps}, None
    keys = sorted(hist)
    for p in ps:
        need, seen = total * p / 100.0, 0
        for k in keys:
            seen += hist[k]
            if seen >= need:
                out[p] = bucket_value(k) / 1000.0
                break
    return out, bucket_value(keys[-1]) / 1000.0


def frame(payload, opcode=0x1):
    """One masked client frame (RFC 6455 5.3): random 32-bit key, XOR done on Python ints."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0xFE, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0xFF, n)
    key = random.getrandbits(32).to_bytes(4, "big")
    if not n:
        return head + key
    mask = (key * ((n + 3) >> 2))[:n]
    body = (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(n, "big")
    return head + key + body


class Conn(asyncio.Protocol):
    """One client WebSocket. Frames from the server (never masked) go to client.on_frame."""

    def __init__(self, client, me, peer, path, token, expected=None):
        self.client, self.me, self.peer = client, me, peer
        self.buf = bytearray()
        self.opened = asyncio.get_running_loop().create_future()
        self.transport = None
        self.up = False
        self.closed = False
        self.close_code = None
        self.credit = 0     # frames this connection may still send (full-speed window)
        self.outbox = []    # payloads waiting for the next flush
        self.expected = expected or 0  # drain: message frames to wait for
        self.got = 0
        self.top = 0  # drain: the newest seq received (confirmed with a receipt before closing)
        self.done = asyncio.get_running_loop().create_future() if expected else None
        key = base64.b64encode(os.urandom(16)).decode()
        auth = "Authorization: Bearer %s\r\n" % token if token else ""
        self.request = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n"
                        % (path, HOST, key, auth)).encode()
        self.to_field = ('{"toOpenid":"%s","content":"' % peer).encode()

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc):
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed during handshake"))
        if self.done is not None and not self.done.done():
            self.done.set_result(False)
        self.client.lost += self.up

    def data_received(self, data):
        buf = self.buf
        buf += data
        if not self.up:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[:buf.find(b"\r\n")])
            if b" 101 " not in status:
                self.opened.set_exception(ConnectionError(status.decode(errors="replace")))
                self.transport.close()
                return
            del buf[:end + 4]
            self.up = True
            self.opened.set_result(True)
        pos, n = 0, len(buf)
        on_frame = self.client.on_frame
        while n - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length, head = b1 & 0x7F, 2
            if length == 126:
                if n - pos < 4:
                    break
                length, head = (buf[pos + 2] << 8) | buf[pos + 3], 4
            elif length == 127:
                if n - pos < 10:
                    break
                length, head = struct.unpack_from("!Q", buf, pos + 2)[0], 10
            if n - pos < head + length:
                break
            payload = bytes(buf[pos + head:pos + head + length])
            pos += head + length
            opcode = b0 & 0x0F
            if opcode == 0x1 or opcode == 0x2:
                on_frame(self, payload)
            elif opcode == 0x9:
                self.transport.write(frame(payload, 0xA))
            elif opcode == 0x8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self.client.close_codes[self.close_code] = self.client.close_codes.get(self.close_code, 0) + 1
                self.transport.close()
        del buf[:pos]
        self.client.after_batch()

    def send_messages(self, count, now_us):
        """Queue `count` chat frames to the peer, carrying the send time in microseconds."""
        prefix = self.to_field + str(now_us).encode() + b" "
        payload = prefix + PAD + b'"}'
        self.outbox.extend([payload] * count)

    def flush(self):
        if self.outbox and not self.closed:
            self.transport.write(b"".join([frame(p) for p in self.outbox]))
        self.outbox.clear()

    def close(self):
        if self.transport and not self.closed:
            try:
                self.transport.write(frame(struct.pack("!H", 1000), 0x8))
            except Exception:
                pass
            self.transport.close()


class Client:
    def __init__(self):
        self.conns = {}       # me -> Conn (one per user in relay and hold runs)
        self.all = []
        self.lost = 0
        self.last_frame = 0.0
        self.close_codes = {}
        self.reset()

    def reset(self):
        self.hist = {}
        self.received = 0
        self.errors = 0
        self.acks = {}
        self.measuring = False
        self.full = False
        self.dirty = set()

    # -- incoming ---------------------------------------------------------------------------
    def on_frame(self, conn, payload):
        if payload.startswith(b'{"type":"ack"') or b'"type":"ack"' in payload:
            status = payload[payload.find(b'"status":"') + 10:]
            status = status[:status.find(b'"')].decode()
            self.acks[status] = self.acks.get(status, 0) + 1
            conn.credit += 1
            self.dirty.add(conn)
            return
        if b'"type":"error"' in payload:
            self.errors += 1
            conn.credit += 1
            self.dirty.add(conn)
            return
        if conn.done is not None:  # draining offline messages
            conn.got += 1
            i = payload.find(b'"seq":')
            if i >= 0:
                j = i + 6
                while j < len(payload) and payload[j:j + 1].isdigit():
                    j += 1
                conn.top = max(conn.top, int(payload[i + 6:j] or 0))
            if conn.got >= conn.expected and not conn.done.done():
                conn.done.set_result(True)
            return
        self.last_frame = time.monotonic()
        i = payload.find(CONTENT)
        if i < 0:
            return
        i += 11
        try:
            sent = int(payload[i:payload.index(b" ", i)])
        except ValueError:  # not one of ours
            self.errors += 1
            return
        if self.measuring:
            self.received += 1
            b = bucket(time.monotonic_ns() // 1000 - sent)
            self.hist[b] = self.hist.get(b, 0) + 1
        if self.full:  # the sender of this frame may send one more
            sender = self.conns.get(conn.peer)
            if sender is not None:
                sender.credit += 1
                self.dirty.add(sender)

    def after_batch(self):
        if not self.dirty:
            return
        if self.full:
            now_us = time.monotonic_ns() // 1000
            for c in self.dirty:
                if c.credit:
                    c.send_messages(c.credit, now_us)
                    c.credit = 0
                c.flush()
        self.dirty = set()

    # -- commands ---------------------------------------------------------------------------
    async def connect(self, cmd):
        port, v2 = cmd["port"], cmd.get("v2", False)
        sem = asyncio.Semaphore(cmd.get("concurrency", 50))
        loop = asyncio.get_running_loop()
        failed, reasons = 0, {}

        async def one(me, peer, token):
            nonlocal failed
            async with sem:
                path = "/wx/%s/%s%s" % (me, peer, "?v=2" if v2 else "")
                try:
                    _, conn = await asyncio.wait_for(loop.create_connection(
                        lambda: Conn(self, me, peer, path, token), HOST, port), 30)
                    await asyncio.wait_for(conn.opened, 30)
                except (OSError, asyncio.TimeoutError, ConnectionError) as e:
                    failed += 1
                    reason = str(e)[:80]
                    reasons[reason] = reasons.get(reason, 0) + 1
                    return
                self.conns[me] = conn
                self.all.append(conn)

        t0 = time.monotonic()
        await asyncio.gather(*(one(*c) for c in cmd["conns"]))
        return {"ok": len(cmd["conns"]) - failed, "failed": failed, "reasons": reasons,
                "secs": time.monotonic() - t0, "open": sum(not c.closed for c in self.all)}

    async def relay(self, cmd):
        """Every connection sends to its peer; count and time what arrives in the window."""
        self.reset()
        conns = [c for c in self.all if not c.closed]
        warmup, duration = cmd["warmup"], cmd["duration"]
        loop = asyncio.get_running_loop()
        start = time.monotonic() + warmup
        cpu0 = None
        if cmd["mode"] == "full":
            self.full = True
            now_us = time.monotonic_ns() // 1000
            for c in conns:
                c.send_messages(cmd["window"], now_us)
                c.flush()
            await asyncio.sleep(warmup)
            self.measuring, cpu0 = True, time.process_time()
            await asyncio.sleep(duration)
            self.measuring, cpu1 = False, time.process_time()
            self.full = False
        else:
            rate = cmd["rate"]  # frames per second from this process, spread over connections
            tick, sent, i, n = 0.005, 0, 0, len(conns)
            t0 = time.monotonic()
            end = start + duration
            while True:
                now = time.monotonic()
                if now >= end:
                    break
                if cpu0 is None and now >= start:
                    self.measuring, cpu0 = True, time.process_time()
                due = int((now - t0) * rate) - sent
                if due > 0 and n:
                    now_us = time.monotonic_ns() // 1000
                    touched = []
                    for _ in range(due):
                        c = conns[i]
                        i = (i + 1) % n
                        c.send_messages(1, now_us)
                        touched.append(c)
                    for c in touched:
                        c.flush()
                    sent += due
                await asyncio.sleep(tick)
            self.measuring, cpu1 = False, time.process_time()
        # let the frames in flight arrive (not counted), so the next run starts from empty
        # queues: wait until nothing arrived for 0.3 s (at most 10 s)
        self.last_frame = time.monotonic()
        quiet_until = time.monotonic() + 10
        while time.monotonic() - self.last_frame < 0.3 and time.monotonic() < quiet_until:
            await asyncio.sleep(0.05)
        return {"received": self.received, "hist": self.hist, "errors": self.errors,
                "client_cpu": cpu1 - cpu0, "secs": duration, "lost": self.lost,
                "close_codes": self.close_codes}

    async def offline_send(self, cmd):
        """Each sender sends `per` messages to each of its (offline) recipients, with at most
        `window` unacknowledged; returns when every message is acknowledged or refused."""
        self.reset()
        per, window = cmd["per"], cmd["window"]
        queues = {}
        for me, recipients in cmd["plan"].items():
            conn = self.conns[me]
            queues[conn] = [(r, k) for k in range(per) for r in recipients]
            conn.credit = window
        total = sum(len(q) for q in queues.values())
        t0 = time.monotonic()
        deadline = t0 + cmd["deadline"]
        seq = 0
        sent = 0
        while time.monotonic() < deadline:
            for conn, queue in queues.items():
                while conn.credit > 0 and queue:
                    r, k = queue.pop()
                    seq += 1
                    conn.outbox.append(b'{"toOpenid":"%s","content":"offline %d from %s",'
                                       b'"msgId":"%s-%d"}' % (r.encode(), k, conn.me.encode(),
                                                              conn.me.encode(), seq))
                    conn.credit -= 1
                    sent += 1
                conn.flush()
            if sum(self.acks.values()) + self.errors >= total:
                break
            await asyncio.sleep(0.002)
        return {"secs": time.monotonic() - t0, "sent": sent, "acks": self.acks,
                "errors": self.errors, "total": total, "lost": self.lost}

    async def drain(self, cmd):
        """Open /wx/me/peer for each row (a recipient coming back) and wait for its messages."""
        port, sem = cmd["port"], asyncio.Semaphore(cmd.get("concurrency", 20))
        loop = asyncio.get_running_loop()
        got, failed = 0, 0
        t0 = time.monotonic()

        async def one(me, peer, token, expected):
            nonlocal got, failed
            async with sem:
                conn = None
                try:
                    _, conn = await asyncio.wait_for(loop.create_connection(
                        lambda: Conn(self, me, peer, "/wx/%s/%s?v=2" % (me, peer), token,
                                     expected),
                        HOST, port), 30)
                    await asyncio.wait_for(conn.opened, 30)
                    if conn.got < expected:
                        await asyncio.wait_for(conn.done, cmd["deadline"])
                except (OSError, asyncio.TimeoutError, ConnectionError):
                    failed += 1
                if conn is not None:
                    got += conn.got
                    if conn.top and not conn.closed:  # as a newer client does: confirm, leave
                        conn.transport.write(frame(b'{"type":"received","seq":%d}' % conn.top))
                    conn.close()

        await asyncio.gather(*(one(*c) for c in cmd["conns"]))
        return {"secs": time.monotonic() - t0, "got": got, "failed": failed}

    async def close(self, cmd):
        for c in self.all:
            c.close()
        await asyncio.sleep(0.2)
        self.all, self.conns = [], {}
        return {"closed": True}


async def main():
    client = Client()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"ready": os.getpid()}), flush=True)
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = json.loads(line)
        if cmd["cmd"] == "quit":
            break
        result = await getattr(client, cmd["cmd"])(cmd)
        print(json.dumps(result), flush=True)
    for c in client.all:
        c.close()


if __name__ == "__main__":
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    signal.signal(signal.SIGALRM, lambda *a: os._exit(3))
    signal.alarm(limit)  # bounded in time whatever the orchestrator does
    asyncio.run(main())
