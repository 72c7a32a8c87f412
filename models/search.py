"""The search index and its queries.

`goods_search` holds one row per public listing: its text segmented into tokens
(search/tokens.py) in `words`, and the pinyin of its Chinese words in `pinyin`, each token
encoded as ASCII (`x`/`p` + hex of its UTF-8) and space-joined. Both engines index those
columns with their plain tokenizer, so they see the same tokens:
- MySQL/MariaDB: a FULLTEXT index on (words, pinyin), queried with MATCH … AGAINST in boolean
  mode (its relevance ranks);
- SQLite: an FTS5 table `goods_fts` with goods_search as its external content (kept in step by
  triggers on goods_search), queried with MATCH and ranked by bm25().
The DDL is in migrations/m0010_search.py.
"""
from peewee import SQL, AutoField, IntegerField, NodeList, TextField, fn

from models import BaseModel, is_mysql
from models.account import VIEWER_JOIN, VIEWER_SQL
from models.goods import PUBLIC_JOIN, PUBLIC_SQL, SUMMARY_SQL, Goods, run

# bm25() weights of the FTS5 columns (words, pinyin): a pinyin hit counts less.
FTS5_WEIGHTS = (1.0, 0.4)


class GoodsSearch(BaseModel):
    gid = IntegerField(primary_key=True)
    words = TextField()
    pinyin = TextField()

    class Meta:
        table_name = "goods_search"


class GoodsFts(BaseModel):
    """SQLite only: the FTS5 virtual table over goods_search (not in MODELS: triggers fill it)."""
    rowid = AutoField(column_name="rowid")
    words = TextField()
    pinyin = TextField()

    class Meta:
        table_name = "goods_fts"


def _match(expr):
    """The engine's full-text condition (and, on MySQL, its relevance) for an engine query."""
    if is_mysql():
        return NodeList((fn.MATCH(GoodsSearch.words, GoodsSearch.pinyin),
                         fn.AGAINST(NodeList((expr, SQL("IN BOOLEAN MODE"))))))
    return SQL("goods_fts MATCH ?", [expr])


def matching(query, expr, exact_expr=None):
    """(query, keys): `query` (on Goods) narrowed to the listings whose index row matches the
    engine query `expr`, and its relevance order as [(expression, descending)]: first those that
    also match `exact_expr` (no pinyin), when given, then by relevance (bm25 on SQLite, MATCH
    relevance on MySQL)."""
    if is_mysql():
        query = query.join(GoodsSearch, on=(GoodsSearch.gid == Goods.gid)).where(_match(expr))
        keys = [(_match(expr), True)]
        if exact_expr:
            keys.insert(0, (_match(exact_expr) > 0, True))
    else:
        query = query.join(GoodsFts, on=(GoodsFts.rowid == Goods.gid)).where(_match(expr))
        keys = [(SQL("bm25(goods_fts, %s, %s)" % FTS5_WEIGHTS), False)]
        if exact_expr:
            exact = GoodsFts.select(GoodsFts.rowid).where(_match(exact_expr))
            keys.insert(0, (Goods.gid.in_(exact), True))
    return query, keys


def page(query, keys, page_num, size):
    """One page of `query` in the order of `keys`, ties newest first, as a deferred join: the
    engine sorts only (gid, keys) and reads whole rows for the page alone (sorting whole rows
    with their TEXT columns made MariaDB spill a temporary table to disk)."""
    columns = [expr.alias("k%d" % i) for i, (expr, _) in enumerate(keys)]
    inner = (query.select(Goods.gid, *columns)
             .order_by(*[SQL("k%d%s" % (i, " DESC" if desc else "")) for i, (_, desc)
                         in enumerate(keys)], Goods.gid.desc())
             .paginate(page_num + 1, size).alias("top"))
    order = [getattr(inner.c, "k%d" % i).desc() if desc else getattr(inner.c, "k%d" % i)
             for i, (_, desc) in enumerate(keys)]
    return (Goods.select().join(inner, on=(Goods.gid == inner.c.gid))
            .order_by(*order, Goods.gid.desc()))


SORTS = {  # the list orders as keys for page(): [(expression, descending)]
    "newest": [],
    "priceAsc": [(Goods.goods_price_new, False)],
    "priceDesc": [(Goods.goods_price_new, True)],
    "views": [(Goods.open_sum, True)],
}


def narrow(query, filters):
    """`query` (on Goods) with the newer clients' filters: price range, free only, 学院, place."""
    if not filters:
        return query
    if filters.get("priceMin") is not None:
        query = query.where(Goods.goods_price_new >= filters["priceMin"])
    if filters.get("priceMax") is not None:
        query = query.where(Goods.goods_price_new <= filters["priceMax"])
    if filters.get("free"):
        query = query.where(Goods.goods_price_new == 0, Goods.goods_price_old == 0)
    if filters.get("goodsXueyuan"):
        query = query.where(Goods.goods_xueyuan == filters["goodsXueyuan"])
    if filters.get("goodsAddress"):
        query = query.where(Goods.goods_address == filters["goodsAddress"])
    return query


def sort_keys(sort):
    """The keys of a list order (newest, priceAsc, priceDesc, views; anything else: newest)."""
    return SORTS.get(sort, [])


def listed(query, filters, page_num, size):
    """A page of a list (getSimpleGoods, getSimFrGoods, …): filtered, sorted, newest by default
    (then exactly the query the lists always made)."""
    keys = sort_keys((filters or {}).get("sort"))
    query = narrow(query, filters)
    if not keys:
        return query.order_by(Goods.gid.desc()).paginate(page_num + 1, size)
    return query.order_by(*[k.desc() if d else k.asc() for k, d in keys],
                          Goods.gid.desc()).paginate(page_num + 1, size)


# -- the bounded plan: the top candidates by relevance, as plain SQL --------------------------
# The engine ranks every match (unavoidable: InnoDB reads each matching row of goods_search,
# ~3k for a common word at 100k listings), but only the `limit` best by (relevance, gid) are
# joined with goods for the public check, and pages are cut from that list. Exactly the full
# plan's order, as long as a page lies within the candidates (deeper pages use the full plan).
_MYSQL_MATCH = "MATCH(words, pinyin) AGAINST({p} IN BOOLEAN MODE)"
_BM25 = "bm25(goods_fts, %s, %s)" % FTS5_WEIGHTS
_PUBLIC_OF_S = "JOIN {q}goods{q} g ON g.gid = s.gid " + PUBLIC_JOIN + " WHERE " + PUBLIC_SQL
_CANDIDATES = {  # (MySQL?, exact first?) -> template with %d for the limit
    (True, False): (
        "SELECT g.gid FROM (SELECT gid, " + _MYSQL_MATCH + " AS r FROM {q}goods_search{q} "
        "WHERE " + _MYSQL_MATCH + " ORDER BY r DESC, gid DESC LIMIT %d) s " + _PUBLIC_OF_S +
        " ORDER BY s.r DESC, g.gid DESC"),
    (True, True): (
        "SELECT g.gid FROM (SELECT gid, " + _MYSQL_MATCH + " > 0 AS e, " + _MYSQL_MATCH + " AS r "
        "FROM {q}goods_search{q} WHERE " + _MYSQL_MATCH + " ORDER BY e DESC, r DESC, gid DESC "
        "LIMIT %d) s " + _PUBLIC_OF_S + " ORDER BY s.e DESC, s.r DESC, g.gid DESC"),
    (False, False): (
        "SELECT g.gid FROM (SELECT rowid AS gid, " + _BM25 + " AS r FROM goods_fts "
        "WHERE goods_fts MATCH {p} ORDER BY r, rowid DESC LIMIT %d) s " + _PUBLIC_OF_S +
        " ORDER BY s.r, g.gid DESC"),
    (False, True): (
        "SELECT g.gid FROM (SELECT rowid AS gid, rowid IN (SELECT rowid FROM goods_fts WHERE "
        "goods_fts MATCH {p}) AS e, " + _BM25 + " AS r FROM goods_fts "
        "WHERE goods_fts MATCH {p} ORDER BY e DESC, r, rowid DESC LIMIT %d) s " + _PUBLIC_OF_S +
        " ORDER BY s.e DESC, s.r, g.gid DESC"),
}


def _for_viewer(template):
    """A template of this module with the viewer's blocks out (models.account.VIEWER_JOIN)."""
    return template.replace(PUBLIC_JOIN + " WHERE " + PUBLIC_SQL,
                            PUBLIC_JOIN + " " + VIEWER_JOIN + " WHERE " + PUBLIC_SQL + " AND " +
                            VIEWER_SQL)


def candidates(expr, exact_expr, limit, viewer=None):
    """The gids of the `limit` best public matches of the engine query `expr`, in the order of
    `matching()` (those also matching `exact_expr` first, when given; then relevance; newest);
    with `viewer`, none of an owner the viewer blocks."""
    mysql = is_mysql()
    template = _CANDIDATES[(mysql, bool(exact_expr))] % limit
    if not exact_expr:
        params = (expr, expr) if mysql else (expr,)
    else:
        params = (exact_expr, expr, expr) if mysql else (exact_expr, expr)
    if viewer:
        template, params = _for_viewer(template), params + (viewer,)
    return [gid for gid, in run(template, params)]


def summary_rows(gids, viewer=None):
    """The list items' columns (models.goods.SUMMARY_SQL) of these gids that are still public
    (and, with `viewer`, not of an owner the viewer blocks), in the order given."""
    if not gids:
        return []
    template = ("SELECT " + SUMMARY_SQL + " FROM {q}goods{q} g " + PUBLIC_JOIN + " WHERE " +
                PUBLIC_SQL + " AND g.gid IN (" + ", ".join(["{p}"] * len(gids)) + ")")
    params = tuple(gids)
    if viewer:
        template, params = _for_viewer(template), (viewer,) + params
    rows = run(template, params)
    order = {gid: i for i, gid in enumerate(gids)}
    return sorted(rows, key=lambda row: order[row[0]])
