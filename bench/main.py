"""`bash bench/run [--smoke] [--only 1,3] [--json PATH]`: five tables, the product beside a bare
reference measured in the same invocation, with the ratio and the server's CPU share.

CPU share = server CPU seconds / wall seconds over the measured window (1.00 = one full core):
near 1.0 the figure is the server's limit; well below, something else (the load client, the
database, the machine's other work) held it back. See bench/README.md.
"""
import argparse
import json
import os
import sys
import time

from bench import procs, words_suggest
from bench.procs import (BareServer, ClientPool, CpuMeter, ProductServer, CLIENT_CORES,
                         TOKEN_SECRET, http_collect, http_load)
from bench.wsclient import percentiles

sys.path.insert(0, procs.ROOT)
from services import tokens  # noqa: E402
from devservers import MariaDB, Redis  # noqa: E402

FULL = dict(pairs=500, window=2, warmup=1.0, duration=5.0, clients=1,
            hold=[1000, 5000, 10000], hold_clients=2,
            senders=100, recipients=20, drain_concurrency=25,
            goods=100_000, rest_conns=50, rest_procs=2, rest_warmup=1.0, rest_duration=5.0,
            scale_pairs=500)
SMOKE = dict(pairs=10, window=2, warmup=0.3, duration=1.0, clients=1,
             hold=[50, 150], hold_clients=2,
             senders=4, recipients=3, drain_concurrency=5,
             goods=300, rest_conns=8, rest_procs=1, rest_warmup=0.2, rest_duration=0.7,
             scale_pairs=10)

RESULTS = {}


def tok(openid):
    return tokens.issue(TOKEN_SECRET, openid, 24 * 3600)


def users(prefix, n):
    return ["%s%05d" % (prefix, i) for i in range(n)]


def ratio(a, b):
    if a is None or b is None or not b:
        return "n/a"
    return "%.2fx" % (a / b)


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        s = "%.0f" % v if abs(v) >= 100 else ("%.2f" % v if abs(v) < 10 else "%.1f" % v)
    else:
        s = str(v)
    return s + unit


def table(title, header, rows, notes=()):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    print("\n## " + title)
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    for n in notes:
        print("  " + n)
    warnings = procs.take_warnings()
    print("  product log: %s" % ("no warnings" if not warnings else "; ".join(
        "%dx %s" % (count, shape) if not shape.startswith("(") else shape
        for shape, count in warnings[:4] + [w for w in warnings[4:] if w[0].startswith("(")])))
    sys.stdout.flush()


def merge_relay(results):
    hist = {}
    for r in results:
        for b, c in r["hist"].items():
            hist[int(b)] = hist.get(int(b), 0) + c
    received = sum(r["received"] for r in results)
    secs = results[0]["secs"]
    p, mx = percentiles(hist)
    return {"rate": received / secs, "p50": p[50], "p99": p[99], "max": mx,
            "errors": sum(r["errors"] for r in results), "lost": sum(r["lost"] for r in results),
            "client_cpu": sum(r["client_cpu"] for r in results) / secs}


def per_unit(fig):
    """Server CPU microseconds per message or request: robust to other work on the machine."""
    return fig["server_cpu"] * 1e6 / fig["rate"] if fig.get("rate") else None


def split(items, k):
    return [items[i::k] for i in range(k)]


# -- 1. chat relay -----------------------------------------------------------------------------
def relay_run(server, pairs, cfg, rate, product, clients=None, cores=CLIENT_CORES, modes=("full", "rate"),
              extra=None):
    """Connect the pairs (both sides of a pair in one client process), run full speed, then at
    a fixed rate (`rate` msgs/s in all, or "half" of this run's full speed)."""
    k = clients or cfg["clients"]
    pool = ClientPool(k, cores)
    try:
        # Both sides of a pair live in one client process. The first sides connect, then the
        # second ones: both sides of one conversation opening at the same moment can fail on
        # MariaDB (see bench/README.md, "Findings"), which is not what this table measures.
        for side in (0, 1):
            cmds = []
            for g in split(pairs, k):
                cs = [[p[side], p[1 - side], tok(p[side]) if product else None] for p in g]
                cmds.append({"cmd": "connect", "port": server.port, "conns": cs,
                             "concurrency": 50})
            res = pool.call(cmds)
            failed = sum(r["failed"] for r in res)
            if failed:
                raise RuntimeError("relay: %d connections failed: %s\n%s" % (
                    failed, res, server.output()[-2000:]))
        out = {}
        for mode in modes:
            r = rate if mode == "rate" else None
            if (mode == "rate" and rate == "half") or mode == "own":
                r = out["full"]["rate"] / 2  # half of this server's own saturation
            cmd = {"cmd": "relay", "mode": "full" if mode == "full" else "rate",
                   "window": cfg["window"], "warmup": cfg["warmup"],
                   "duration": cfg["duration"], "rate": (r or 0) / k}
            pool.send(cmd)
            time.sleep(cfg["warmup"])
            meters = {"server_cpu": CpuMeter(server.pids).start()}
            for name, pids in (extra or {}).items():
                meters[name] = CpuMeter(pids).start()
            time.sleep(cfg["duration"])
            shares = {name: m.stop() for name, m in meters.items()}
            fig = merge_relay(pool.receive())
            fig.update(shares)
            fig["target"] = r
            out[mode] = fig
        pool.call({"cmd": "close"})
        return out
    finally:
        pool.stop()


def sqlite_url(folder):
    return "sqlite:///" + os.path.join(folder, "market.db")


def make_pairs(prefix, n):
    names = users(prefix, 2 * n)
    return names, [(names[2 * i], names[2 * i + 1]) for i in range(n)]


def bench_relay(cfg, tmp):
    from bench.seed import prepare
    n = cfg["pairs"]
    names, pairs = make_pairs("p", n)
    bare = BareServer().start()
    try:
        b = relay_run(bare, pairs, cfg, "half", False)
    finally:
        bare.stop()
    rate = b["rate"]["target"]
    url = sqlite_url(tmp)
    prepare(url, names)
    product = ProductServer(url).start()
    try:
        p = relay_run(product, pairs, cfg, rate, True, modes=("full", "rate", "own"))
    finally:
        product.stop()
    RESULTS["relay"] = {"bare": b, "product": p, "half_rate": rate, "pairs": n}
    rows = []
    for mode, label in (("full", "full speed"), ("rate", "at %.0f msgs/s" % rate)):
        pf, bf = p[mode], b[mode]
        rows.append([label + ": msgs/s delivered", fmt(pf["rate"]), fmt(pf["server_cpu"]),
                     fmt(bf["rate"]), fmt(bf["server_cpu"]), ratio(pf["rate"], bf["rate"])])
        pu, bu = per_unit(pf), per_unit(bf)
        rows.append([label + ": server CPU per message", fmt(pu, " us"), "", fmt(bu, " us"), "",
                     ratio(pu, bu)])
        for key in ("p50", "p99", "max"):
            rows.append([label + ": %s latency" % key, fmt(pf[key], " ms"), "",
                         fmt(bf[key], " ms"), "", ratio(pf[key], bf[key])])
    po, bf = p["own"], b["rate"]
    rows.append(["each at half its own saturation: msgs/s", fmt(po["rate"]), fmt(po["server_cpu"]),
                 fmt(bf["rate"]), fmt(bf["server_cpu"]), ratio(po["rate"], bf["rate"])])
    for key in ("p50", "p99", "max"):
        rows.append(["each at half its own saturation: %s" % key, fmt(po[key], " ms"), "",
                     fmt(bf[key], " ms"), "", ratio(po[key], bf[key])])
    tp = p["full"]["rate"] / b["full"]["rate"] if b["full"]["rate"] else 0
    p99 = p["rate"]["p99"]
    table("1. Chat relay: %d authenticated pairs sending both ways (SQLite)" % n,
          ["figure", "product", "srv CPU", "bare Tornado", "srv CPU", "ratio"], rows,
          ["goal: throughput >= 0.60x bare: %.2fx %s; p99 < 50 ms at half the bare saturation: "
           "%s ms %s" % (tp, "MET" if tp >= 0.6 else "MISSED", fmt(p99),
                         "MET" if p99 is not None and p99 < 50 else "MISSED"),
           "load client CPU (cores) at full speed: product run %.2f, bare run %.2f; %d frames in "
           "flight per direction" % (p["full"]["client_cpu"], b["full"]["client_cpu"],
                                      cfg["window"]),
           "product chat rate limit raised to 1e6 msgs/s per connection for these runs "
           "(MARKET_CHAT_RATE_PER_SECOND/BURST); refusals %d, connections lost %d"
           % (p["full"]["errors"] + p["rate"]["errors"], p["rate"]["lost"])])


# -- 2. connections held -----------------------------------------------------------------------
def steady_rss(server, tries=20):
    """The server's RSS once two samples 0.5 s apart agree within 1 %."""
    last = server.rss()
    for _ in range(tries):
        time.sleep(0.5)
        now = server.rss()
        if abs(now - last) <= 0.01 * last:
            return now
        last = now
    return last


def hold_run(server, names, cfg, product):
    k = cfg["hold_clients"]
    pool = ClientPool(k)
    try:
        # warm up the handshake path once (lazy imports, first queries), then wait for a
        # steady RSS before taking the baseline
        warm = [[u, names[i ^ 1], tok(u) if product else None] for i, u in enumerate(names[:10])]
        pool.call([{"cmd": "connect", "port": server.port, "conns": warm}] + [
            {"cmd": "connect", "port": server.port, "conns": []}] * (k - 1))
        pool.call({"cmd": "close"})
        rss0 = steady_rss(server)
        out, done = [], 0
        for target in cfg["hold"]:
            batch = [[u, names[i ^ 1], tok(u) if product else None]
                     for i, u in enumerate(names[:target]) if i >= done]
            cmds = [{"cmd": "connect", "port": server.port, "conns": part, "concurrency": 100}
                    for part in split(batch, k)]
            meter = CpuMeter(server.pids).start()
            t0 = time.monotonic()
            res = pool.call(cmds)
            secs = time.monotonic() - t0
            cpu = meter.stop()
            rss = steady_rss(server)
            out.append({"n": target, "failed": sum(r["failed"] for r in res),
                        "reasons": [r["reasons"] for r in res if r["reasons"]],
                        "open": sum(r["open"] for r in res), "secs": secs,
                        "accept_rate": len(batch) / secs, "rss_kib": rss, "rss0_kib": rss0,
                        "per_conn_kib": (rss - rss0) / target, "server_cpu": cpu})
            done = target
        pool.call({"cmd": "close"})
        return out
    finally:
        pool.stop()


def bench_hold(cfg, tmp):
    from bench.seed import prepare
    names = users("h", cfg["hold"][-1] + (cfg["hold"][-1] % 2))
    bare = BareServer().start()
    try:
        b = hold_run(bare, names, cfg, False)
    finally:
        bare.stop()
    url = sqlite_url(tmp)
    prepare(url, names)
    product = ProductServer(url).start()
    try:
        p = hold_run(product, names, cfg, True)
    finally:
        product.stop()
    RESULTS["hold"] = {"bare": b, "product": p}
    rows = []
    for pf, bf in zip(p, b):
        n = pf["n"]
        rows.append(["%d held: open / failed" % n, "%d / %d" % (pf["open"], pf["failed"]), "",
                     "%d / %d" % (bf["open"], bf["failed"]), "", ratio(pf["open"], bf["open"])])
        rows.append(["%d held: RSS per connection" % n, fmt(pf["per_conn_kib"], " KiB"), "",
                     fmt(bf["per_conn_kib"], " KiB"), "", ratio(pf["per_conn_kib"], bf["per_conn_kib"])])
        rows.append(["%d held: accepted per second" % n, fmt(pf["accept_rate"]), fmt(pf["server_cpu"]),
                     fmt(bf["accept_rate"]), fmt(bf["server_cpu"]), ratio(pf["accept_rate"], bf["accept_rate"])])
    last_p, last_b = p[-1], b[-1]
    per = last_p["per_conn_kib"] / last_b["per_conn_kib"] if last_b["per_conn_kib"] else 0
    held = last_p["open"] == last_p["n"]
    table("2. Idle authenticated connections held by one process (SQLite)",
          ["figure", "product", "srv CPU", "bare Tornado", "srv CPU", "ratio"], rows,
          ["goal: %d held within 2x the bare memory per connection: %s held, %.2fx -> %s"
           % (last_p["n"], "all" if held else "NOT all", per,
              "MET" if held and per <= 2 else "MISSED"),
           "RSS per connection = (RSS with n open - RSS before the first) / n; server RSS at %d: "
           "product %.0f MiB, bare %.0f MiB; accept rate: handshakes from %d client processes, "
           "100 at a time each (product: token check + conversation rows on open)"
           % (last_p["n"], last_p["rss_kib"] / 1024, last_b["rss_kib"] / 1024, cfg["hold_clients"])])


# -- 3. offline path ---------------------------------------------------------------------------
def ref_offline(url, rows, pairs):
    """The same rows through the raw driver, one INSERT and commit each into chat_message; then
    per (recipient, sender) one SELECT of the unreceived and one UPDATE marking them received. Returns (inserted/s, delivered/s)."""
    if url.startswith("mysql://"):
        import pymysql
        from urllib.parse import urlparse
        u = urlparse(url)
        conn = pymysql.connect(host=u.hostname, port=u.port, user=u.username or "root",
                               database=u.path.strip("/"), charset="utf8mb4", autocommit=True)
        ph = "%s"
    else:
        import sqlite3
        conn = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None)
        conn.execute("PRAGMA journal_mode=wal")
        conn.execute("PRAGMA synchronous=normal")
        ph = "?"
    cur = conn.cursor()
    # rows the product did not deliver (should be 0)
    cur.execute("SELECT COUNT(*) FROM chat_message WHERE received = 0")
    leftover = cur.fetchone()[0]
    cur.execute("DELETE FROM chat_message")
    insert = ("INSERT INTO chat_message (pair, from_openid, to_openid, content, type, "
              "client_msg_id, offline_slot, send_time, received) VALUES (%s, 0)"
              % ", ".join([ph] * 8))
    t0 = time.monotonic()
    for (frm, to, content, typ, msg_id, slot, when) in rows:
        pair = frm + " " + to if frm < to else to + " " + frm
        cur.execute(insert, (pair, frm, to, content, typ, msg_id, slot, when))
    ins = len(rows) / (time.monotonic() - t0)
    t0, got = time.monotonic(), 0
    for to, sender in pairs:
        cur.execute("SELECT seq, from_openid, to_openid, content, type, client_msg_id, "
                    "send_time FROM chat_message WHERE to_openid = %s AND from_openid = %s "
                    "AND received = 0 ORDER BY seq" % (ph, ph), (to, sender))
        ids = [r[0] for r in cur.fetchall()]
        got += len(ids)
        if ids:
            cur.execute("UPDATE chat_message SET received = 1, offline_slot = NULL "
                        "WHERE seq IN (%s)" % ", ".join([ph] * len(ids)), ids)
    dlv = got / (time.monotonic() - t0)
    conn.close()
    return ins, dlv, leftover


def offline_run(url, cfg):
    from bench.seed import prepare
    from models import utcnow
    senders, recips = users("s", cfg["senders"]), users("r", cfg["recipients"])
    prepare(url, senders + recips)
    per = 3  # chat.offline_limit
    server = ProductServer(url).start()
    pool = ClientPool(1)
    try:
        res = pool.call({"cmd": "connect", "port": server.port, "v2": True, "concurrency": 50,
                         "conns": [[s, recips[0], tok(s)] for s in senders]})
        if res[0]["failed"]:
            raise RuntimeError("offline: senders failed to connect: %s" % res)
        meter = CpuMeter(server.pids).start()
        res = pool.call({"cmd": "offline_send", "plan": {s: recips for s in senders}, "per": per,
                         "window": 4, "deadline": 300})[0]
        send_cpu = meter.stop()
        stored = res["acks"].get("stored", 0)
        send = {"stored": stored, "secs": res["secs"], "rate": stored / res["secs"],
                "refused": res["errors"], "server_cpu": send_cpu, "total": res["total"]}
        pool.call({"cmd": "close"})
        # interleaved so a recipient holds few sockets at once (the cap is 5 per user)
        conns = [[r, s, tok(r), per] for s in senders for r in recips]
        meter = CpuMeter(server.pids).start()
        res = pool.call({"cmd": "drain", "port": server.port, "conns": conns,
                         "concurrency": cfg["drain_concurrency"], "deadline": 30})[0]
        drain = {"got": res["got"], "secs": res["secs"], "rate": res["got"] / res["secs"],
                 "failed": res["failed"], "server_cpu": meter.stop()}
    finally:
        pool.stop()
        server.stop()
    now = utcnow().strftime("%Y-%m-%d %H:%M:%S")
    rows = [(s, r, "offline %d from %s" % (k, s), "text", "%s-ref-%s-%d" % (s, r, k), k + 1, now)
            for s in senders for r in recips for k in range(per)]
    ref_ins, ref_dlv, left = ref_offline(url, rows, [(r, s) for r in recips for s in senders])
    return {"send": send, "drain": drain, "ref_insert": ref_ins, "ref_deliver": ref_dlv,
            "left": left}


def bench_offline(cfg, tmp, maria):
    out = {"MariaDB": offline_run(maria.create_database("bench_offline"), cfg),
           "SQLite": offline_run(sqlite_url(os.path.join(tmp, "offline")), cfg)}
    RESULTS["offline"] = out
    rows = []
    for name, r in out.items():
        s, d = r["send"], r["drain"]
        rows.append(["%s: stored/s for offline recipients" % name, fmt(s["rate"]),
                     fmt(s["server_cpu"]), fmt(r["ref_insert"]), ratio(s["rate"], r["ref_insert"])])
        rows.append(["%s: delivered/s on reconnect" % name, fmt(d["rate"]), fmt(d["server_cpu"]),
                     fmt(r["ref_deliver"]), ratio(d["rate"], r["ref_deliver"])])
    table("3. Offline path: %d senders x %d offline recipients x 3 messages (the cap)"
          % (cfg["senders"], cfg["recipients"]),
          ["figure", "product", "srv CPU", "raw driver loop", "ratio"], rows,
          ["reference: the same rows through pymysql (MariaDB) / sqlite3 (SQLite, WAL, "
           "synchronous=NORMAL), one INSERT+commit per row; delivery: one SELECT + DELETE per "
           "(recipient, sender)",
           "product: v2 senders, msgId on every frame, 4 unacknowledged per sender; delivered = "
           "a recipient opening /wx/r/s?v=2 (token check, conversation rows, replay, a received receipt), %d at a time"
           % cfg["drain_concurrency"],
           "; ".join("%s: stored %d of %d (refused %d), delivered %d, %d failed reconnects, %d rows "
                     "left in the store" % (name, r["send"]["stored"], r["send"]["total"],
                                            r["send"]["refused"], r["drain"]["got"],
                                            r["drain"]["failed"], r["left"])
                     for name, r in out.items())])


# -- 4. REST ---------------------------------------------------------------------------------
def http_run(server, paths, cfg, extra=None):
    running, start_at = http_load(server.port, paths, cfg["rest_conns"], cfg["rest_procs"],
                                  cfg["rest_warmup"], cfg["rest_duration"])
    time.sleep(max(0, start_at + cfg["rest_warmup"] - time.monotonic()))
    meters = {"server_cpu": CpuMeter(server.pids).start()}
    for name, pids in (extra or {}).items():
        meters[name] = CpuMeter(pids).start()
    time.sleep(cfg["rest_duration"])
    shares = {name: m.stop() for name, m in meters.items()}
    r = http_collect(running)
    p, mx = percentiles(r["hist"])
    out = {"rate": r["n"] / cfg["rest_duration"], "p50": p[50], "p99": p[99], "max": mx,
           "bad": r["bad"], "failed": r["failed"], "statuses": r["statuses"],
           "client_cpu": r["client_cpu"] / (cfg["rest_duration"] + cfg["rest_warmup"])}
    out.update(shares)
    return out


def bench_rest(cfg, maria, tmp, backend="mariadb"):
    import random
    from urllib.parse import quote
    from bench.seed import ITEMS, prepare
    if backend == "sqlite":
        url = sqlite_url(os.path.join(tmp, "rest"))
        db_name = "SQLite"
    else:
        url = maria.create_database("bench_rest")
        db_name = "MariaDB"
    t0 = time.monotonic()
    gids = prepare(url, [], goods=cfg["goods"])
    seed_secs = time.monotonic() - t0
    rng = random.Random(4)
    endpoints = [
        ("approved list (pages 0-49)", ["/wx/goods/getSimpleGoods?state=1&pageNum=%d" % i
                                       for i in range(min(50, len(gids) // 10))]),
        ("goods detail (random approved gid)", ["/wx/goods/getDeGoodfwl?gid=%d" % g
                                               for g in rng.sample(gids, min(2000, len(gids)))]),
        ("keyword search (one word)", ["/wx/goods/query?flag=%s&pageNum=0" % quote(w)
                                       for w in ITEMS]),
    ]
    db_pids = (lambda: [maria.proc.pid]) if backend == "mariadb" else (lambda: [])  # noqa: E731
    bare = BareServer().start()
    try:
        ref = http_run(bare, ["/static.json"], cfg)
    finally:
        bare.stop()
    product = ProductServer(url).start()
    try:
        results = [(name, http_run(product, paths, cfg, {"db_cpu": db_pids}))
                   for name, paths in endpoints]
    finally:
        product.stop()
    # the same searches with the candidate cache off: what each search costs the engine
    product = ProductServer(url, env={"MARKET_GOODS_SEARCH_CACHE_SECONDS": "0"}).start()
    try:
        results.append(("keyword search, candidate cache off", http_run(
            product, endpoints[-1][1], cfg, {"db_cpu": db_pids})))
    finally:
        product.stop()
    RESULTS["rest" if backend == "mariadb" else "rest_" + backend] = {
        "bare": ref, "product": dict(results), "seed_secs": seed_secs, "goods": cfg["goods"],
        "backend": backend}
    rows = [["bare: static JSON", fmt(ref["rate"]), fmt(ref["p50"], " ms"), fmt(ref["p99"], " ms"),
             fmt(ref["server_cpu"]), fmt(per_unit(ref), " us"), "", "1.00x", "1.00x"]]
    for name, r in results:
        rows.append([name, fmt(r["rate"]), fmt(r["p50"], " ms"), fmt(r["p99"], " ms"),
                     fmt(r["server_cpu"]), fmt(per_unit(r), " us"),
                     fmt(r["db_cpu"]) if backend == "mariadb" else "",
                     ratio(r["rate"], ref["rate"]), ratio(r["p99"], ref["p99"])])
    bad = {name: (r["bad"], r["statuses"]) for name, r in results if r["bad"] or r["failed"]}
    table("4. REST at %d listings on %s, %d connections (keep-alive, closed loop)"
          % (cfg["goods"], db_name, cfg["rest_conns"]),
          ["endpoint", "req/s", "p50", "p99", "srv CPU", "CPU/req", "MariaDB CPU", "req/s vs bare",
           "p99 vs bare"],
          rows,
          ["seeded %d listings (90%% approved) in %.1f s (Peewee insert_many, 2000 per "
           "transaction); load: %d client processes on core %s; per-address limit raised; "
           "load average %.2f at the end" % (cfg["goods"], seed_secs, cfg["rest_procs"],
                                            ",".join(map(str, CLIENT_CORES)), os.getloadavg()[0]),
           "search: the candidate cache (goods.search_cache_seconds, 10 s) serves the 28 bench "
           "words after their first search; the last row is the same load with it off",
           "non-200 answers: %s" % (bad or "none")])


# -- 5. scale-out ----------------------------------------------------------------------------
def bench_scale(cfg, maria, redis):
    from bench.seed import prepare
    n = cfg["scale_pairs"]
    names, pairs = make_pairs("x", n)
    url = maria.create_database("bench_scale")
    prepare(url, names)
    c = dict(cfg)
    bare = BareServer(cores=None).start()
    try:
        b = relay_run(bare, pairs, c, None, False, cores=None, modes=("full",))["full"]
    finally:
        bare.stop()
    runs = {}
    for count in (1, 2):
        server = ProductServer(url, cores=None, processes=count, name="scale%d" % count,
                               env={"MARKET_CHAT_BUS": "redis", "MARKET_REDIS_URL": redis.url})
        server.start()
        try:
            runs[count] = relay_run(server, pairs, c, None, True, cores=None, modes=("full",),
                                    extra={"redis_cpu": lambda: [redis.proc.pid],
                                           "db_cpu": lambda: [maria.proc.pid]})["full"]
        finally:
            server.stop()
    RESULTS["scale"] = {"bare": b, "product": runs}
    rows = [["bare Tornado, 1 process", fmt(b["rate"]), fmt(b["p99"], " ms"), fmt(b["server_cpu"]),
             fmt(per_unit(b), " us"), "", "", fmt(b["client_cpu"]), "1.00x", ""]]
    for count, r in runs.items():
        rows.append(["product, %d process%s, Redis bus" % (count, "es" if count > 1 else ""),
                     fmt(r["rate"]), fmt(r["p99"], " ms"), fmt(r["server_cpu"]),
                     fmt(per_unit(r), " us"), fmt(r["redis_cpu"]), fmt(r["db_cpu"]),
                     fmt(r["client_cpu"]), ratio(r["rate"], b["rate"]),
                     ratio(r["rate"], runs[1]["rate"])])
    table("5. Scale-out: relay at full speed, %d pairs, 1 and 2 processes on Redis (MariaDB)" % n,
          ["run", "msgs/s", "p99", "srv CPU", "CPU/msg", "Redis CPU", "MariaDB CPU", "client CPU",
           "vs bare", "vs 1 process"],
          rows,
          ["nothing pinned here: server processes, Redis, MariaDB and the load client share the "
           "%d cores; srv CPU sums every worker" % len(procs.CORES),
           "refusals received by the clients: %s" % ", ".join(
               "%d process%s: %d" % (c, "es" if c > 1 else "", r["errors"]) for c, r in runs.items())])


def start_mariadb(tries=3):
    """A private MariaDB (devservers/); its install step sometimes fails on a busy machine."""
    for attempt in range(tries):
        server = MariaDB()
        try:
            return server.start()
        except Exception:
            server.stop()
            if attempt == tries - 1:
                raise
            time.sleep(2)


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu": model, "python": sys.version.split()[0],
            "load": os.getloadavg()}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (seconds, for CI)")
    parser.add_argument("--only", default="1,2,3,4,5", help="tables to run, e.g. 1,3 (6: the "
                        "word filter, 7: suggestions; not run by default)")
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--rest-db", default="mariadb", choices=["mariadb", "sqlite", "both"],
                        help="table 4's database (both: one table each)")
    parser.add_argument("--product-root", help="run the product's main.py from this checkout "
                        "(to measure a proposed fix against the same references)")
    args = parser.parse_args(argv)
    if args.product_root:
        ProductServer.product_root = os.path.abspath(args.product_root)
    cfg = dict(SMOKE if args.smoke else FULL)
    only = {int(x) for x in args.only.split(",") if x.strip()}
    m = machine()
    if args.product_root:
        print("# product from %s" % ProductServer.product_root)
    print("# market benchmarks (%s): %d cores (%s), Python %s, load average %.2f; server on "
          "core %s, load clients on core %s" % (
              "smoke" if args.smoke else "full", m["nproc"], m["cpu"], m["python"], m["load"][0],
              ",".join(map(str, procs.SERVER_CORES)), ",".join(map(str, CLIENT_CORES))))
    sys.stdout.flush()
    import tempfile
    import shutil
    tmp = tempfile.mkdtemp(prefix="market-bench-")
    maria = redis = None
    t0 = time.monotonic()
    try:
        if only & {3, 5} or (only & {4, 7} and args.rest_db != "sqlite"):
            maria = start_mariadb()
        if 5 in only:
            redis = Redis().start()
        steps = {1: lambda: bench_relay(cfg, os.path.join(tmp, "relay")),
                 2: lambda: bench_hold(cfg, os.path.join(tmp, "hold")),
                 3: lambda: bench_offline(cfg, tmp, maria),
                 4: lambda: [bench_rest(cfg, maria, tmp, b) for b in
                             (["mariadb", "sqlite"] if args.rest_db == "both" else [args.rest_db])],
                 5: lambda: bench_scale(cfg, maria, redis),
                 6: lambda: words_suggest.bench_words(dict(cfg, smoke=args.smoke), table, fmt,
                                                      RESULTS),
                 7: lambda: [words_suggest.bench_suggest(cfg, maria, tmp, b, http_run, table, fmt,
                                                         ratio, RESULTS) for b in
                             (["mariadb", "sqlite"] if args.rest_db == "both" else [args.rest_db])]}
        for n in sorted(only):
            steps[n]()
    finally:
        if maria:
            maria.stop()
        if redis:
            redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n(%.0f s in all)" % (time.monotonic() - t0))
    RESULTS["machine"] = m
    if args.json:
        with open(args.json, "w") as f:
            json.dump(RESULTS, f, indent=1, default=str)
    return 0
