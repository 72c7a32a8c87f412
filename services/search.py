"""Full-text search: segmenting, the index tokens, engine queries, filters, keeping the index in step.

Text is cut into tokens the same way for both databases: Chinese runs by rjieba (jieba-rs, the
jieba dictionary and algorithm; search mode for the index, precise mode for queries) plus each
Chinese character alone (so one-character queries and words cut differently still match),
other letters and digits as words (lower-cased, NFKC: full-width `ｉＰａｄ` is `ipad`; `iphone13`
also as `iphone` and `13`), and the pinyin of each Chinese word, full and initials (耳机: erji,
ej) in a column of its own. Every token is stored as `x`/`p` + the token (ASCII letters and
digits, or Chinese; a one-character word padded: `x书_`), any other word as `h` + the hex of
its UTF-8 (m0011; m0010 stored every token as hex, twice the bytes), so each one is at least 3
characters (InnoDB's innodb_ft_min_token_size, 3 by default, needs no change), never an InnoDB
stopword, and the same on FTS5; and a query can only ever reach the engine as tokens this
module wrote: `%`, `_`, quotes and operators are separators, never syntax.

Change points call `reindex(gid)` (or `remove(gid)`) inside or right after their transaction;
both also keep the suggestions' terms in step (services/suggest.py).
"""
import functools
import logging
import re
import unicodedata

from models import is_mysql
from models.goods import APPROVED, ON_SALE, Goods
from models import search as search_sql
from models.search import GoodsSearch, listed, matching, narrow, page, sort_keys
from process.caches import CandidateCache
from services import validate
from errors import Invalid

log = logging.getLogger("market.search")

MAX_TOKEN_CHARS = 83       # the longest stored token: innodb_ft_max_token_size (84 by default)
MIN_TOKEN_CHARS = 3        # the shortest stored token ("x书_"): innodb_ft_min_token_size (3)
MAX_HEX_BYTES = 41         # "h" + 82 hex digits = 83
MAX_INDEX_CHARS = 60_000   # a TEXT column holds 65,535 bytes
MAX_QUERY_PIECES = 12      # pieces of one query that are used
FIELD_REPEATS = (3, 2, 1)  # name, title, description: a word in the name counts three times
PREFIX_CHARS = 3           # a non-Chinese query word this long also matches longer words
SEARCH_SORTS = ("relevance", "newest", "priceAsc", "priceDesc", "views")

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile("([%s]+)|([^\\W_%s]+)" % (_CJK, _CJK))
_PARTS = re.compile(r"\d+|[^\W\d_]+")


@functools.lru_cache(maxsize=1)
def _segmenter():
    import rjieba  # loads its dictionary (built into the package) on first use, ~0.1 s
    rjieba.cut("预热")
    return rjieba


def normalize(text):
    """NFKC, lower case: full-width letters and digits become ASCII."""
    return unicodedata.normalize("NFKC", text or "").lower()


def runs(text):
    """(is_chinese, run) for each run of Chinese characters or of other letters and digits."""
    for m in _RUNS.finditer(normalize(text)):
        yield (True, m.group(1)) if m.group(1) else (False, m.group(2))


def _parts(word):
    """Letters and digits of a mixed word apart (iphone13: iphone, 13); [] if not mixed."""
    parts = _PARTS.findall(word)
    return parts if len(parts) > 1 else []


@functools.lru_cache(maxsize=100_000)
def pinyin_of(word):
    """(full, initials) pinyin of a Chinese word without tones (耳机: erji, ej); initials only
    for two characters or more; () when a character has no reading."""
    from pypinyin import Style, lazy_pinyin
    full = lazy_pinyin(word)
    if not all(s.isascii() and s.isalpha() for s in full):
        return ()
    if len(word) < 2:
        return ("".join(full),)
    return ("".join(full), "".join(s[0] for s in lazy_pinyin(word, style=Style.FIRST_LETTER)))


_PLAIN = re.compile("[a-z0-9%s]+" % _CJK)  # tokens both engines take as one word unencoded
_PAD = "_"  # a word character to InnoDB; FTS5's unicode61 drops it (on both sides alike)


def encode(kind, token):
    """The stored form of a token: kind (x word, p pinyin) + the token itself when it is ASCII
    letters and digits or Chinese (both engines take those as one word), padded with "_" to
    MIN_TOKEN_CHARS (x书_) and cut at MAX_TOKEN_CHARS; any other word as "h" + the hex of its
    UTF-8 (cut at MAX_HEX_BYTES), so no token holds a character an engine might split on."""
    if _PLAIN.fullmatch(token):
        stored = (kind + token)[:MAX_TOKEN_CHARS]
        return stored + _PAD * (MIN_TOKEN_CHARS - len(stored))
    data = token.encode()
    if len(data) > MAX_HEX_BYTES:
        data = data[:MAX_HEX_BYTES].decode(errors="ignore").encode()
    return "h" + data.hex()


def decode(stored):
    """A stored token back as text (for people debugging the index)."""
    if stored.startswith("h"):
        return bytes.fromhex(stored[1:]).decode(errors="replace")
    return stored[1:].rstrip(_PAD)


def text_tokens(text):
    """(words, pinyin) tokens of one text, in order, not yet encoded."""
    words, pinyin = [], []
    for chinese, run in runs(text):
        if chinese:
            for word in _segmenter().cut_for_search(run):
                words.append(word)
                pinyin.extend(pinyin_of(word))
            words.extend(run)  # each character alone as well
        else:
            words.append(run)
            words.extend(_parts(run))
    return words, pinyin


def _joined(tokens):
    text = " ".join(tokens)
    return text if len(text) <= MAX_INDEX_CHARS else text[:MAX_INDEX_CHARS + 1].rsplit(" ", 1)[0]


def index_row(name, title, dec):
    """{"words", "pinyin"}: the index columns of a listing."""
    words, pinyin = [], []
    for text, repeats in zip((name, title, dec), FIELD_REPEATS):
        w, p = text_tokens(text)
        words += [encode("x", t) for t in w] * repeats
        pinyin += [encode("p", t) for t in p] * repeats
    return {"words": _joined(words), "pinyin": _joined(pinyin)}


# -- queries -------------------------------------------------------------------------------
# A query is a list of groups that must all match; a group is a list of alternatives (any may
# match); an alternative is (terms that must all match, is_pinyin); a term is (token, prefix).
def query_groups(keywords):
    """The groups of these search words (each piece of each word must match)."""
    groups, seen = [], set()
    for keyword in keywords:
        for chinese, run in runs(keyword):
            pieces = _segmenter().cut(run) if chinese else [run]
            for piece in pieces:
                if piece not in seen and len(groups) < MAX_QUERY_PIECES:
                    seen.add(piece)
                    groups.append(_alternatives(piece, chinese))
    return groups


def _alternatives(piece, chinese):
    if chinese:
        alts = [([(encode("x", piece), False)], False)]
        if len(piece) > 1:  # a word the listing's text was cut differently around
            alts.append(([(encode("x", c), False) for c in dict.fromkeys(piece)], False))
        return alts
    prefix = len(piece) >= PREFIX_CHARS and piece.isalpha()  # 100 must not find 1000
    alts = [([(encode("x", piece), False)], False)]
    if prefix:
        alts.append(([(encode("x", piece), True)], False))
    if _parts(piece):
        alts.append(([(encode("x", p), False) for p in _parts(piece)], False))
    if piece.isascii() and piece.isalpha():
        alts.append(([(encode("p", piece), False)], True))
        if prefix:
            alts.append(([(encode("p", piece), True)], True))
    return alts


def fts5_query(groups, pinyin=True):
    """The FTS5 MATCH expression: (a OR (b AND c)) AND (d OR e*) …"""
    def alt(terms):
        text = " AND ".join(t + ("*" if prefix else "") for t, prefix in terms)
        return "(%s)" % text if len(terms) > 1 else text
    return " AND ".join("(%s)" % " OR ".join(alt(terms) for terms, py in g if pinyin or not py)
                        for g in groups)


def boolean_query(groups, pinyin=True):
    """The MySQL boolean-mode expression: +(a (+b +c)) +(d e*) …"""
    def alt(terms):
        text = " ".join(("+" if len(terms) > 1 else "") + t + ("*" if prefix else "")
                        for t, prefix in terms)
        return "(%s)" % text if len(terms) > 1 else text
    return " ".join("+(%s)" % " ".join(alt(terms) for terms, py in g if pinyin or not py)
                    for g in groups)


CANDIDATES = 200         # a relevance-sorted search pages through its best 200 matches


candidate_cache = CandidateCache()  # this process's candidates of recent searches


def find(words, page_num, size, filters=None, cache_seconds=0, viewer=None):
    """A page of public listings matching every search word: plain rows (models.goods.SUMMARY_SQL
    columns) for a relevance-sorted search without filters whose page lies within the best
    CANDIDATES (the bounded plan, its candidates cached for `cache_seconds`), else a Peewee query
    of Goods (the full plan); [] when there are no search words. With `viewer` (a reader who
    blocks someone) their owners' listings are left out in the query, the candidates included
    (not cached: they are this reader's)."""
    groups = query_groups(words)
    if not groups:
        return []
    render = boolean_query if is_mysql() else fts5_query
    has_pinyin = any(py for g in groups for _, py in g)
    expr, exact = render(groups), (render(groups, pinyin=False) if has_pinyin else None)
    sort = (filters or {}).get("sort") or "relevance"
    if sort == "relevance" and not any(k != "sort" for k in (filters or {})) \
            and (page_num + 1) * size <= CANDIDATES:
        from models import db
        key = (id(db.obj), expr, exact)
        fill = functools.partial(search_sql.candidates, expr, exact, CANDIDATES, viewer)
        gids = candidate_cache.get_or_fill(key, cache_seconds, fill) \
            if cache_seconds > 0 and not viewer else fill()
        return search_sql.summary_rows(gids[page_num * size:(page_num + 1) * size], viewer)
    query, keys = matching(narrow(Goods.public(viewer), filters), expr, exact)
    if sort != "relevance":
        keys = sort_keys(sort)
    return page(query, keys, page_num, size)


def list_page(query, filters, page_num, size):
    """A page of a list call with the newer clients' filters and sort (newest by default)."""
    return listed(query, filters, page_num, size)


# -- filters -------------------------------------------------------------------------------
def filters(arg, max_price):
    """The optional filters and sort of newer clients from request arguments (`arg(name)` is the
    value or None); None when none is given. Bad values: Invalid."""
    found = {}
    for name in ("priceMin", "priceMax"):
        if arg(name) not in (None, ""):
            found[name] = validate.price(arg(name), name, max_price)
    if found.get("priceMin") is not None and found.get("priceMax") is not None \
            and found["priceMin"] > found["priceMax"]:
        raise Invalid("the lowest price is above the highest price")
    if arg("free") not in (None, ""):
        found["free"] = bool(validate.choice(arg("free"), "free", (0, 1)))
    for name, limit in (("goodsXueyuan", 100), ("goodsAddress", 200)):
        value = validate.text(arg(name), name, limit, required=False)
        if value:
            found[name] = value
    sort = arg("sort")
    if sort not in (None, ""):
        if sort not in SEARCH_SORTS:
            raise Invalid("%(field)s must be one of %(options)s", field=validate.label("sort"),
                          options=", ".join(SEARCH_SORTS))
        found["sort"] = sort
    return found or None


# -- keeping the index in step ---------------------------------------------------------------
def _public_row(goods):
    return goods.state == APPROVED and not goods.deleted and not goods.hidden \
        and goods.sale_state == ON_SALE


def reindex(gid):
    """Bring one listing's index row in step with it: indexed while approved, live, visible and
    on sale (issue 18),
    absent otherwise. Call inside (or right after) the transaction that changed the listing."""
    goods = (Goods.select(Goods.gid, Goods.goods_name, Goods.goods_title, Goods.goods_dec,
                          Goods.state, Goods.deleted, Goods.hidden, Goods.sale_state)
             .where(Goods.gid == gid).first())
    if goods is None or not _public_row(goods):
        return remove(gid)
    candidate_cache.clear()
    row = index_row(goods.goods_name, goods.goods_title, goods.goods_dec)
    insert = GoodsSearch.insert(gid=gid, **row)
    if is_mysql():
        insert = insert.on_conflict(preserve=[GoodsSearch.words, GoodsSearch.pinyin])
    else:
        insert = insert.on_conflict(conflict_target=[GoodsSearch.gid],
                                    preserve=[GoodsSearch.words, GoodsSearch.pinyin])
    insert.execute()
    from services import suggest  # (imports this module)
    suggest.update(gid)


def remove(gid):
    """Take one listing out of the index (deleted, taken down, hidden)."""
    candidate_cache.clear()
    GoodsSearch.delete().where(GoodsSearch.gid == gid).execute()
    from services import suggest  # (imports this module)
    suggest.update(gid)


def backfill(batch=500, log_progress=None):
    """Index every public listing (after a migration or a bulk load); returns how many."""
    last, count = 0, 0
    while True:
        rows = list(Goods.live(Goods.gid, Goods.goods_name, Goods.goods_title, Goods.goods_dec)
                    .where(Goods.gid > last, Goods.state == APPROVED,
                           Goods.hidden == False)  # noqa: E712
                    .order_by(Goods.gid).limit(batch))
        if not rows:
            candidate_cache.clear()
            return count
        with GoodsSearch._meta.database.atomic():  # the migration binds the models to its own
            GoodsSearch.delete().where(GoodsSearch.gid.in_([g.gid for g in rows])).execute()
            GoodsSearch.insert_many([dict(gid=g.gid, **index_row(g.goods_name, g.goods_title,
                                                                   g.goods_dec))
                                     for g in rows]).execute()
        last, count = rows[-1].gid, count + len(rows)
        if log_progress:
            log_progress(count)


# -- start-up ------------------------------------------------------------------------------
def fulltext_problems(variables):
    """What in these MySQL server variables ({name: value}) would hide tokens from the index."""
    problems = []
    if int(variables.get("innodb_ft_min_token_size", 3)) > MIN_TOKEN_CHARS:
        problems.append("innodb_ft_min_token_size=%s (one-character words need <= %d)"
                        % (variables["innodb_ft_min_token_size"], MIN_TOKEN_CHARS))
    if int(variables.get("innodb_ft_max_token_size", 84)) < MAX_TOKEN_CHARS:
        problems.append("innodb_ft_max_token_size=%s (long words need >= %d)"
                        % (variables["innodb_ft_max_token_size"], MAX_TOKEN_CHARS))
    return problems


_checked = False  # the server's settings are checked once per process (forked workers inherit it)


def start_up():
    """Load the segmenter (once per process, on a database thread) and, on MySQL, warn in one
    line when the server's full-text settings would hide words from search."""
    global _checked
    _segmenter()
    pinyin_of("预热")
    if is_mysql() and not _checked:
        _checked = True
        from models import db
        rows = db.execute_sql("SHOW VARIABLES LIKE 'innodb_ft_%%_token_size'").fetchall()
        problems = fulltext_problems(dict(rows))
        if problems:
            log.warning("search: this MySQL server's full-text settings hide words from search: "
                        "%s; see docs/deploy.md, \"Search\"", "; ".join(problems))
        return problems
    return []
