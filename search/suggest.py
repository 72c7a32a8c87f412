"""Suggestions as you type: `GET /wx/goods/suggest?q=` completes what a student types from the
words of public listings' names and titles and from the visible hot words, by characters,
pinyin and pinyin initials (`erj`, `ej`, `耳` -> 耳机), the most found first.

Design (docs/search.md, "Suggestions"): a prefix table kept where the search index is kept.
Each term (a word the search segmenter cuts from a public listing's name or title, or a hot
word) has a row in suggest_term with `hits`, the number of public listings that have it now,
and one row in suggest_key per key: the term itself, its pinyin, its initials. A listing's own
terms are kept in goods_suggest, so `update(gid)` (called by search.index's reindex and remove,
inside the change's transaction) moves only the counts of the terms it gained or lost. A
prefix of 1-3 characters is read from suggest_prefix (each key's first 1..3 characters with
the term's hits copied) in the order of its (prefix, hits) index: 10 rows, however many words
start with `s`; a longer one is an index range of suggest_key (binary collation on MariaDB),
ranked. The visible hot words (at most 500) are merged in. A term is answered only while
`hits > 0` (some public listing of an owner who is not blocked has it) or it is a visible hot
word counted at least HOT_MIN times, so a listing taken down, a blocked or deleted student's
listing, or a hidden hot word is never suggested after its transaction commits.
"""
import functools
import re

from peewee import JOIN

from models import is_mysql, write_txn
from models.goods import APPROVED, ON_SALE, Goods, SearchKeyword, run
from models.suggest import GoodsSuggest, SuggestKey, SuggestPrefix, SuggestTerm
from models.user import BLOCKED, DELETED, User
from search import tokens

LIMIT = 10             # completions answered
MAX_QUERY_CHARS = 32   # a longer prefix is refused (services.goods.suggestions)
MAX_TERM_CHARS = 16    # longer words are not offered as completions
MAX_TERMS = 40         # terms one listing gives at most
HOT_MIN = 2            # a hot word (not in any public title) is offered once counted this often
PREFIX_CHARS = 3       # prefixes this short are read from suggest_prefix in the order of hits
_TOP = "\U0010ffff"    # above every character: prefix <= key < prefix + _TOP
_SPACES = re.compile(r"\s+")


def key_of(text):
    """What keys and queries compare: tokens.normalize (NFKC, lower case) without spaces."""
    return _SPACES.sub("", tokens.normalize(text))


def listing_terms(name, title):
    """The completion terms of a listing's name and title, in order, each once: Chinese words of
    two characters or more (search mode: 蓝牙耳机, 蓝牙, 耳机), other words of two letters or
    digits or more (iphone13, iphone)."""
    found = []
    for text in (name, title):
        for chinese, run_ in tokens.runs(text):
            if chinese:
                words = [w for w in tokens.segmenter().cut_for_search(run_) if len(w) >= 2]
            else:
                words = [run_] + tokens.word_parts(run_)
            found.extend(w for w in words if 2 <= len(w) <= MAX_TERM_CHARS and not w.isdigit())
    return list(dict.fromkeys(found))[:MAX_TERMS]


@functools.lru_cache(maxsize=50_000)
def keys_of(term):
    """The keys a term is found by: itself; for Chinese, its full pinyin and initials."""
    keys = [key_of(term)]
    chinese = "".join(c for chinese, r in tokens.runs(term) if chinese for c in r)
    if chinese:
        spelled = []
        for chinese_run, r in tokens.runs(term):
            spelled.append(tokens.pinyin_of(r) if chinese_run else (r, r))
        if all(len(s) == 2 for s in spelled):
            keys.append("".join(s[0] for s in spelled))
            keys.append("".join(s[1] for s in spelled))
        elif all(s for s in spelled):  # one Chinese character: its pinyin only
            keys.append("".join(s[0] for s in spelled))
    return tuple(k[:64] for k in dict.fromkeys(k for k in keys if k))


def prefixes_of(term):
    """The short prefixes of a term's keys (1..PREFIX_CHARS characters), each once."""
    return tuple(dict.fromkeys(k[:n] for k in keys_of(term)
                               for n in range(1, min(PREFIX_CHARS, len(k)) + 1)))


def _public(gid):
    row = (Goods.select(Goods.goods_name, Goods.goods_title, Goods.state, Goods.deleted,
                        Goods.hidden, Goods.sale_state, User.state.alias("owner_state"))
           .join(User, on=(User.openid == Goods.openid), join_type=JOIN.LEFT_OUTER)
           .where(Goods.gid == gid).objects().first())
    if row is None or row.state != APPROVED or row.deleted or row.hidden \
            or row.sale_state != ON_SALE or row.owner_state in (BLOCKED, DELETED):
        return None
    return row


def update(gid):
    """Bring one listing's terms in step: counted while it is public and its owner is not
    blocked, not at all otherwise. Call inside the transaction that changed it."""
    row = _public(gid)
    new = listing_terms(row.goods_name, row.goods_title) if row else []
    mysql = is_mysql()
    if new and mysql:  # the row exists before it is locked: a record lock, never a gap lock
        GoodsSuggest.insert(gid=gid, terms="").on_conflict_ignore().execute()  # (two inserts
        # into one gap, each holding a gap lock, would deadlock)
    query = GoodsSuggest.select().where(GoodsSuggest.gid == gid)
    if mysql:
        query = query.for_update()  # two changes of one listing at once count once
    old_row = query.first()
    old = old_row.terms.split(" ") if old_row and old_row.terms else []
    gone = sorted(set(old) - set(new))
    added = sorted(set(new) - set(old))
    for term in sorted(gone + added):  # one order for every transaction: no lock cycles
        if term in gone:
            SuggestTerm.update(hits=SuggestTerm.hits - 1).where(SuggestTerm.term == term).execute()
            _prefix_hits(term, -1)
        else:
            _count(term, 1)
    if not new:
        if old_row:
            GoodsSuggest.delete().where(GoodsSuggest.gid == gid).execute()
    elif old_row:
        if gone or added:
            GoodsSuggest.update(terms=" ".join(new)).where(GoodsSuggest.gid == gid).execute()
    else:
        GoodsSuggest.insert(gid=gid, terms=" ".join(new)).execute()


def _count(term, hits):
    """Add `hits` to a term's count, creating it (and its keys) the first time. On MariaDB one
    upsert: an UPDATE of a missing term takes a gap lock, and an INSERT failing on a duplicate
    keeps a shared lock; changes then inserting or updating deadlocked (20 parallel approvals
    of listings with one new word did)."""
    if is_mysql():
        cursor = SuggestTerm._meta.database.execute_sql(
            "INSERT INTO suggest_term (term, hits) VALUES (%s, %s) ON DUPLICATE KEY UPDATE "
            "hits = hits + %s, id = LAST_INSERT_ID(id)", (term, hits, hits))
        if cursor.rowcount == 1 or not hits:  # 1: inserted (2: updated)
            _keys(cursor.lastrowid, term)
        if cursor.rowcount != 1 and hits:
            SuggestPrefix.update(hits=SuggestPrefix.hits + hits).where(
                SuggestPrefix.term_id == cursor.lastrowid).execute()
        return
    if SuggestTerm.update(hits=SuggestTerm.hits + hits).where(SuggestTerm.term == term).execute():
        _prefix_hits(term, hits)  # (SQLite: one writer at a time)
        return
    SuggestTerm.insert(term=term, hits=hits).on_conflict(
        conflict_target=[SuggestTerm.term],
        update={SuggestTerm.hits: SuggestTerm.hits + hits}).execute()
    _keys(SuggestTerm.select(SuggestTerm.id).where(SuggestTerm.term == term).scalar(), term)


def _prefix_hits(term, change):
    if change:
        SuggestPrefix.update(hits=SuggestPrefix.hits + change).where(
            SuggestPrefix.term_id == SuggestTerm.select(SuggestTerm.id).where(
                SuggestTerm.term == term)).execute()


def _keys(term_id, term):
    """A new term's keys and short prefixes (with its hits now)."""
    hits = SuggestTerm.select(SuggestTerm.hits).where(SuggestTerm.id == term_id).scalar() or 0
    SuggestKey.insert_many([{"skey": k, "term_id": term_id} for k in keys_of(term)]) \
        .on_conflict_ignore().execute()
    SuggestPrefix.insert_many([{"prefix": k, "term_id": term_id, "hits": hits}
                               for k in prefixes_of(term)]).on_conflict_ignore().execute()


def hot_word(word):
    """A hot word's keys (search_keyword decides, when answering, whether it is shown)."""
    if 2 <= len(word) <= MAX_TERM_CHARS and key_of(word):
        _count(word, 0)


# -- answering -------------------------------------------------------------------------------
# Short prefixes: suggest_prefix in the order of its (prefix, hits) index, 10 rows read. Longer
# ones: the range of suggest_key (few keys start with 4 letters), ranked. Ties: newest term.
_SHORT = ("SELECT t.term, p.hits FROM suggest_prefix p JOIN suggest_term t ON t.id = p.term_id "
          "WHERE p.prefix = {p} AND p.hits > 0 ORDER BY p.hits DESC, p.id DESC LIMIT %d" % LIMIT)
_LONG = ("SELECT t.term, t.hits FROM suggest_term t WHERE t.hits > 0 AND t.id IN (SELECT "
         "k.term_id FROM suggest_key k WHERE k.skey >= {p} AND k.skey < {p}) "
         "ORDER BY t.hits DESC, t.id DESC LIMIT %d" % LIMIT)
_HOT = ("SELECT h.keyword, h.{q}count{q}, t.hits FROM search_keyword h "
        "LEFT JOIN suggest_term t ON t.term = h.keyword "
        "WHERE h.hidden = 0 AND h.{q}count{q} >= %d ORDER BY h.{q}count{q} DESC LIMIT 500"
        % HOT_MIN)


def suggest(q):
    """Up to LIMIT completions of `q` (characters, pinyin or initials), most found first (the
    public listings that have the word, plus its count as a visible hot word), then by the
    word; [] for an empty prefix. `q` is checked by the caller (services.goods.suggestions:
    at most MAX_QUERY_CHARS)."""
    prefix = key_of(q or "")
    if not prefix:
        return []
    if len(prefix) <= PREFIX_CHARS:
        scores = dict(run(_SHORT, (prefix,)))
    else:
        scores = dict(run(_LONG, (prefix, prefix + _TOP)))
    for word, count, hits in run(_HOT):  # at most 500 visible words (services.hotwords)
        if any(k.startswith(prefix) for k in keys_of(word)):
            scores[word] = (hits or 0) + count
    return sorted(scores, key=lambda term: (-scores[term], term))[:LIMIT]


# -- filling in bulk -------------------------------------------------------------------------
def rebuild(batch=2000, atomic=True):
    """Every table of suggestions filled again from the public listings (of owners who are not
    blocked) and the hot words: after the migration or a bulk load. Returns the terms' count.
    `atomic=False` inside a migration on MySQL (its DDL has committed the migration's
    transaction, so a savepoint would fail)."""
    counts, per_gid, last = {}, [], 0
    blocked = User.select(User.openid).where(User.state.in_([BLOCKED, DELETED]))
    while True:
        rows = list(Goods.select(Goods.gid, Goods.goods_name, Goods.goods_title)
                    .where(Goods.gid > last, Goods.state == APPROVED, Goods.deleted == False,  # noqa: E712
                           Goods.hidden == False, Goods.sale_state == ON_SALE,  # noqa: E712
                           Goods.openid.not_in(blocked))
                    .order_by(Goods.gid).limit(batch))
        if not rows:
            break
        for g in rows:
            terms = listing_terms(g.goods_name, g.goods_title)
            if terms:
                per_gid.append({"gid": g.gid, "terms": " ".join(terms)})
                for t in terms:
                    counts[t] = counts.get(t, 0) + 1
        last = rows[-1].gid
    for word, in SearchKeyword.select(SearchKeyword.keyword).tuples():
        if 2 <= len(word) <= MAX_TERM_CHARS and key_of(word):
            counts.setdefault(word, 0)
    if atomic:
        with write_txn():
            _fill(counts, per_gid, batch)
    else:
        _fill(counts, per_gid, batch)
    return len(counts)


def _fill(counts, per_gid, batch):
    """(rebuild) Empty the suggestion tables and write them from `counts` and `per_gid`."""
    for model in (SuggestKey, SuggestPrefix, SuggestTerm, GoodsSuggest):
        model.delete().execute()
    terms = sorted(counts)
    for i in range(0, len(terms), batch):
        SuggestTerm.insert_many([{"term": t, "hits": counts[t]} for t in terms[i:i + batch]]) \
            .execute()
    ids = dict(SuggestTerm.select(SuggestTerm.term, SuggestTerm.id).tuples())
    keys = [{"skey": k, "term_id": ids[t]} for t in terms for k in keys_of(t)]
    for i in range(0, len(keys), batch):
        SuggestKey.insert_many(keys[i:i + batch]).execute()
    short = [{"prefix": p, "term_id": ids[t], "hits": counts[t]} for t in terms
             for p in prefixes_of(t)]
    for i in range(0, len(short), batch):
        SuggestPrefix.insert_many(short[i:i + batch]).execute()
    for i in range(0, len(per_gid), batch):
        GoodsSuggest.insert_many(per_gid[i:i + batch]).execute()
