"""Search tokens, no database: segmenting, pinyin, the stored token form, and the engine queries.

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
"""
import functools
import re
import unicodedata

MAX_TOKEN_CHARS = 83       # the longest stored token: innodb_ft_max_token_size (84 by default)
MIN_TOKEN_CHARS = 3        # the shortest stored token ("x书_"): innodb_ft_min_token_size (3)
MAX_HEX_BYTES = 41         # "h" + 82 hex digits = 83
MAX_INDEX_CHARS = 60_000   # a TEXT column holds 65,535 bytes
MAX_QUERY_PIECES = 12      # pieces of one query that are used
FIELD_REPEATS = (3, 2, 1)  # name, title, description: a word in the name counts three times
PREFIX_CHARS = 3           # a non-Chinese query word this long also matches longer words

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile("([%s]+)|([^\\W_%s]+)" % (_CJK, _CJK))
_PARTS = re.compile(r"\d+|[^\W\d_]+")


@functools.lru_cache(maxsize=1)
def segmenter():
    """rjieba (jieba-rs), its dictionary loaded once per process."""
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


def word_parts(word):
    """Letters and digits of a mixed word apart (iphone13: iphone, 13); [] if not mixed."""
    parts = _PARTS.findall(word)
    return parts if len(parts) > 1 else []


@functools.lru_cache(maxsize=100_000)
def pinyin_of(word):
    """(full, initials) pinyin of a Chinese word without tones (耳机: erji, ej); initials only
    for two characters or more; () when a character has no reading."""
    from pypinyin import Style, lazy_pinyin  # loaded on first use (its tables are large)
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
            for word in segmenter().cut_for_search(run):
                words.append(word)
                pinyin.extend(pinyin_of(word))
            words.extend(run)  # each character alone as well
        else:
            words.append(run)
            words.extend(word_parts(run))
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
            pieces = segmenter().cut(run) if chinese else [run]
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
    if word_parts(piece):
        alts.append(([(encode("x", p), False) for p in word_parts(piece)], False))
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
