"""Finding listings: a page of a search (the bounded plan of cached candidates, or the full plan)
and a page of a list with the newer clients' filters and sort. The candidates of recent searches
are kept in this process (`candidate_cache`), cleared whenever the index changes
(search/index.py)."""
import functools

from models import db, is_mysql
from models import search as search_sql
from models.goods import Goods
from models.search import listed, matching, narrow, page, sort_keys
from process.caches import CandidateCache
from search.tokens import boolean_query, fts5_query, query_groups

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
