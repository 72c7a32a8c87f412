"""Search tokens stored compactly: `x`/`p` + the token itself for ASCII letters and digits and
for Chinese (a one-character word padded to three characters: `x书_`), `h` + hex only for other
words (search/tokens.py `encode`). m0010 stored every token as hex: twice the bytes, so at
100k listings goods_search was 144 MB against a 64 MiB buffer pool. The tokens change, so every
public listing is indexed again (the queries of the code that runs this use the new form).

Also: the lists' index (state, deleted, hidden, gid) gains `openid`, so a page of a public list
(owner not blocked) is found in the index alone; at 100k listings a deep page of the approved
list read ~500 whole rows for the owner check."""
from playhouse.migrate import migrate


def up(database, migrator):
    """Empty the search index and fill it again from the public listings; widen the lists'
    index (last: on MySQL DDL commits the transaction, and a savepoint after it would fail)."""
    reindex(database)
    migrate(
        migrator.add_index("goods", ("state", "deleted", "hidden", "gid", "openid"), False),
        migrator.drop_index("goods", "goods_state_deleted_hidden_gid"),
    )


def reindex(database):
    """Every public listing indexed again in the current token form; returns how many."""
    from models.goods import Goods
    from models.search import GoodsSearch
    from search import index as search_index
    with database.bind_ctx([Goods, GoodsSearch]):
        with database.atomic():
            GoodsSearch.delete().execute()  # on SQLite the triggers empty goods_fts alike
        return search_index.backfill()
