"""Search tokens stored compactly: `x`/`p` + the token itself for ASCII letters and digits and
for Chinese (a one-character word padded to three characters: `x书_`), `h` + hex only for other
words (services/search.py `encode`). m0010 stored every token as hex: twice the bytes, so at
100k listings goods_search was 144 MB against a 64 MiB buffer pool. The tokens change, so every
public listing is indexed again (the queries of the code that runs this use the new form)."""


def up(database, migrator):
    """Empty the index and fill it again from the public listings."""
    from models.goods import Goods
    from models.search import GoodsSearch
    from services import search
    with database.bind_ctx([Goods, GoodsSearch]):
        with database.atomic():
            GoodsSearch.delete().execute()  # on SQLite the triggers empty goods_fts alike
        search.backfill()
