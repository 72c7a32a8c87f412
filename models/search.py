"""The search index and its queries.

`goods_search` holds one row per public listing: its text segmented into tokens
(services/search.py) in `words`, and the pinyin of its Chinese words in `pinyin`, each token
encoded as ASCII (`x`/`p` + hex of its UTF-8) and space-joined. Both engines index those
columns with their plain tokenizer, so they see the same tokens:
- MySQL/MariaDB: a FULLTEXT index on (words, pinyin), queried with MATCH … AGAINST in boolean
  mode (its relevance ranks);
- SQLite: an FTS5 table `goods_fts` with goods_search as its external content (kept in step by
  triggers on goods_search), queried with MATCH and ranked by bm25().
The DDL is in models/migrations/m0010_search.py.
"""
from peewee import SQL, AutoField, IntegerField, NodeList, TextField, fn

from models import BaseModel, is_mysql
from models.goods import Goods

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
    """`query` (on Goods) narrowed to the listings whose index row matches the engine query
    `expr`, best first: first those that also match `exact_expr` (no pinyin), when given, then by
    relevance (bm25 on SQLite, MATCH relevance on MySQL), ties newest first."""
    if is_mysql():
        query = query.join(GoodsSearch, on=(GoodsSearch.gid == Goods.gid)).where(_match(expr))
        order = [_match(expr).desc()]
        if exact_expr:
            order.insert(0, (_match(exact_expr) > 0).desc())
    else:
        query = query.join(GoodsFts, on=(GoodsFts.rowid == Goods.gid)).where(_match(expr))
        order = [SQL("bm25(goods_fts, %s, %s)" % FTS5_WEIGHTS)]
        if exact_expr:
            exact = (GoodsFts.select(GoodsFts.rowid).where(_match(exact_expr)))
            order.insert(0, Goods.gid.in_(exact).desc())
    return query.order_by(*order, Goods.gid.desc())


SORTS = {
    "newest": (),
    "priceAsc": (Goods.goods_price_new.asc(),),
    "priceDesc": (Goods.goods_price_new.desc(),),
    "views": (Goods.open_sum.desc(),),
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


def sorted_by(query, sort):
    """`query` in a list order (newest, priceAsc, priceDesc, views); ties newest first."""
    return query.order_by(*SORTS.get(sort or "newest", ()), Goods.gid.desc())


def listed(query, filters, page_num, size):
    """A page of a list (getSimpleGoods, getSimFrGoods, …): filtered, sorted, newest by default."""
    query = narrow(query, filters)
    return sorted_by(query, (filters or {}).get("sort")).paginate(page_num + 1, size)
