"""Keeping the search index in step: one listing indexed again (`reindex`) or taken out
(`remove`), every public listing indexed (`backfill`, after a migration or a bulk load), and the
start-up check (segmenter loaded, MySQL's full-text settings). Change points call `reindex(gid)`
(or `remove(gid)`) inside or right after their transaction; both also keep the suggestions'
terms in step (search/suggest.py) and clear this process's candidate cache (search/query.py)."""
import logging

from models import db, is_mysql
from models.goods import APPROVED, ON_SALE, Goods
from models.search import GoodsSearch
from search import suggest
from search.query import candidate_cache
from search.tokens import MAX_TOKEN_CHARS, MIN_TOKEN_CHARS, index_row, pinyin_of, segmenter

log = logging.getLogger("market.search")


# -- keeping the index in step ---------------------------------------------------------------
def _public_row(goods):
    return goods.state == APPROVED and not goods.deleted and not goods.hidden \
        and goods.sale_state == ON_SALE


def reindex(gid):
    """Bring one listing's index row in step with it: indexed while approved, live, visible and
    on sale,
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
    suggest.update(gid)


def remove(gid):
    """Take one listing out of the index (deleted, taken down, hidden)."""
    candidate_cache.clear()
    GoodsSearch.delete().where(GoodsSearch.gid == gid).execute()
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
    segmenter()
    pinyin_of("预热")
    if is_mysql() and not _checked:
        _checked = True
        rows = db.execute_sql("SHOW VARIABLES LIKE 'innodb_ft_%%_token_size'").fetchall()
        problems = fulltext_problems(dict(rows))
        if problems:
            log.warning("search: this MySQL server's full-text settings hide words from search: "
                        "%s; see docs/deploy.md, \"Search\"", "; ".join(problems))
        return problems
    return []
