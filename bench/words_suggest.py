"""Tables 6 and 7 (issue 26): the local sensitive-word filter in process, and suggestions as you
type over HTTP, each beside a bare reference of the same run (bench/README.md)."""
import os
import random
import statistics
import time
import timeit
from urllib.parse import quote


def phrases(n, seed=26):
    """`n` distinct Chinese phrases of 2–4 characters (pypinyin's phrase list), reproducibly."""
    from pypinyin.phrases_dict import phrases_dict
    words = sorted(w for w in phrases_dict if 2 <= len(w) <= 4)
    return random.Random(seed).sample(words, n)


def _timed(fn, number, repeat=7):
    """(best, median) microseconds per call over `repeat` runs of `number` calls."""
    runs = [t / number * 1e6 for t in timeit.repeat(fn, number=number, repeat=repeat)]
    return min(runs), statistics.median(runs)


def bench_words(cfg, table, fmt, results):
    """Table 6: a 2,000-character text against 10k words (smoke: 1k), with and without a hit,
    beside the same text through str.translate, one `in` scan and the normalisation alone."""
    from services import word_filter
    n_words = cfg.get("filter_words", 10_000)
    vocab = phrases(n_words + 4000)
    listed, other = vocab[:n_words + 1000], vocab[n_words + 1000:]
    rng = random.Random(7)
    pieces, text = [], ""
    while len(text) < 2000:  # plain words, punctuation and a little Latin between them
        pieces.append(rng.choice(other) + rng.choice("，。、 ！？；：")
                      + rng.choice(["", "", "iPhone 13 "]))
        text = "".join(pieces)
    clean = text[:2000]
    # the list's words that the clean text happens to contain (across its words) are left out
    inside = set(word_filter.Matcher(listed).find(clean, limit=10_000))
    listed = [w for w in listed if w not in inside][:n_words]
    t0 = time.perf_counter()
    matcher = word_filter.Matcher(list(word_filter.default_words()) + listed)
    build_ms = (time.perf_counter() - t0) * 1000
    assert matcher.find(clean) == [], matcher.find(clean)
    hit = clean[:1000] + listed[123][0] + " " + listed[123][1:] + clean[1000 + len(listed[123]):]
    hit = hit[:2000]
    assert matcher.find(hit)
    table_ = str.maketrans({c: None for c in "，。、 ！？；："})
    rows = []
    number = 200 if cfg.get("smoke") else 2000
    for name, fn in (
            ("filter: no word found (normalise + automaton)", lambda: matcher.find(clean)),
            ("filter: one word found, spaced out", lambda: matcher.find(hit)),
            ("bare: normalise only (NFKC, lower, drop punctuation)",
             lambda: word_filter.normalise(clean)),
            ("bare: str.translate of the text", lambda: clean.translate(table_)),
            ("bare: one `in` scan for one word", lambda: listed[5] in clean)) \
            + _pyaho(matcher, clean):
        best, median = _timed(fn, number)
        rows.append([name, fmt(best, " us"), fmt(median, " us")])
    results["words"] = {"rows": rows, "build_ms": build_ms, "words": matcher.size}
    table("6. Local word filter: a 2,000-character text, %d words in the list" % matcher.size,
          ["check", "best of 7", "median of 7"], rows,
          ["automaton built in %.0f ms (ahocorasick-rs %s); goal: under 1 ms per check; load "
           "average %.2f" % (build_ms, _version("ahocorasick-rs"), os.getloadavg()[0])])


def _pyaho(matcher, clean):
    """The same check through pyahocorasick, when it is installed (not a dependency: the
    alternative the issue named, measured once to choose)."""
    try:
        import ahocorasick
    except ImportError:
        return ()
    from services import word_filter
    automaton = ahocorasick.Automaton()
    for word in matcher.patterns:
        automaton.add_word(word, word)
    if not len(automaton):
        return ()
    automaton.make_automaton()
    return (("other library: pyahocorasick, no word found",
             lambda: list(automaton.iter(word_filter.normalise(clean)))),)


def _version(name):
    from importlib.metadata import version
    return version(name)


def _warm(port, paths, seconds=60):
    import urllib.request
    deadline = time.monotonic() + seconds
    for path in paths:
        while True:
            try:
                urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def prefixes(vocab, rng, n=300):
    """What students type: 1–3 characters, 1–4 letters of pinyin, 1–3 initials."""
    from search import suggest
    out = []
    for word in rng.sample(vocab, n):
        keys = suggest.keys_of(word)
        kind = rng.randrange(3)
        if kind == 0:
            out.append(word[:rng.randint(1, min(3, len(word)))])
        elif kind == 1 and len(keys) > 1:
            out.append(keys[1][:rng.randint(1, 4)])
        elif len(keys) > 2:
            out.append(keys[2][:rng.randint(1, 3)])
        else:
            out.append(word[:1])
    return out


def bench_suggest(cfg, maria, tmp, backend, http_run, table, fmt, ratio, results):
    """Table 7: GET /wx/goods/suggest at 100k listings (titles from a 20k-phrase vocabulary)
    with few connections (latency, not queueing), beside the bare static JSON."""
    from bench.procs import BareServer, ProductServer
    from bench.seed import prepare
    if backend == "sqlite":
        url = "sqlite:///" + os.path.join(tmp, "suggest", "market.db")
        os.makedirs(os.path.join(tmp, "suggest"), exist_ok=True)
    else:
        url = maria.create_database("bench_suggest")
    vocab = phrases(cfg.get("suggest_vocab", 20_000))
    t0 = time.monotonic()
    prepare(url, [], goods=cfg["goods"], vocabulary=vocab)
    seed_secs = time.monotonic() - t0
    paths = ["/wx/goods/suggest?q=%s" % quote(p) for p in prefixes(vocab, random.Random(3))]
    c = dict(cfg, rest_conns=cfg.get("suggest_conns", 4), rest_procs=1)
    bare = BareServer().start()
    try:
        ref = http_run(bare, ["/static.json"], c)
    finally:
        bare.stop()
    product = ProductServer(url).start()
    try:
        _warm(product.port, paths[:20])  # its first answers wait for the segmenter to load
        got = http_run(product, paths, c)
    finally:
        product.stop()
    results["suggest_" + backend] = {"bare": ref, "product": got, "seed_secs": seed_secs}
    rows = [["bare: static JSON", fmt(ref["rate"]), fmt(ref["p50"], " ms"), fmt(ref["p99"], " ms"),
             fmt(ref["server_cpu"]), "1.00x"],
            ["suggest (300 prefixes)", fmt(got["rate"]), fmt(got["p50"], " ms"),
             fmt(got["p99"], " ms"), fmt(got["server_cpu"]), ratio(got["rate"], ref["rate"])]]
    table("7. Suggestions at %d listings on %s, %d connections"
          % (cfg["goods"], "MariaDB" if backend == "mariadb" else "SQLite", c["rest_conns"]),
          ["endpoint", "req/s", "p50", "p99", "srv CPU", "vs bare"], rows,
          ["titles: an item and two of %d phrases each (seeded with suggest.rebuild in %.0f s "
           "all told); prefixes: 1-3 characters, 1-4 pinyin letters, 1-3 initials; goal p99 < 20 "
           "ms; non-200: %s; load average %.2f" % (len(vocab), seed_secs,
                                                  {k: v for k, v in got["statuses"].items()
                                                   if str(k) != "200"} or "none",
                                                  os.getloadavg()[0])])
