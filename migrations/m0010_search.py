"""The full-text search index (models/search.py): goods_search with a FULLTEXT index on MySQL,
goods_search plus an FTS5 table kept in step by triggers on SQLite; then every public listing
indexed. Frozen DDL; the back-fill uses the segmenter of the code that runs it (a later change
of the tokens comes with its own re-index migration)."""
MYSQL = [
    """CREATE TABLE goods_search (
        gid INTEGER NOT NULL PRIMARY KEY,
        words MEDIUMTEXT NOT NULL,
        pinyin MEDIUMTEXT NOT NULL,
        FULLTEXT KEY goods_search_fulltext (words, pinyin)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
]

SQLITE = [
    """CREATE TABLE goods_search (
        gid INTEGER NOT NULL PRIMARY KEY,
        words TEXT NOT NULL,
        pinyin TEXT NOT NULL)""",
    # The tokens are pre-segmented and ASCII (x/p + hex): unicode61 only splits on the spaces.
    """CREATE VIRTUAL TABLE goods_fts USING fts5(words, pinyin, content='goods_search',
        content_rowid='gid', tokenize='unicode61 remove_diacritics 0')""",
    """CREATE TRIGGER goods_search_ai AFTER INSERT ON goods_search BEGIN
        INSERT INTO goods_fts(rowid, words, pinyin) VALUES (new.gid, new.words, new.pinyin);
    END""",
    """CREATE TRIGGER goods_search_ad AFTER DELETE ON goods_search BEGIN
        INSERT INTO goods_fts(goods_fts, rowid, words, pinyin)
            VALUES ('delete', old.gid, old.words, old.pinyin);
    END""",
    """CREATE TRIGGER goods_search_au AFTER UPDATE ON goods_search BEGIN
        INSERT INTO goods_fts(goods_fts, rowid, words, pinyin)
            VALUES ('delete', old.gid, old.words, old.pinyin);
        INSERT INTO goods_fts(rowid, words, pinyin) VALUES (new.gid, new.words, new.pinyin);
    END""",
]


def up(database, migrator):
    """Create the index and fill it from the public listings."""
    from models import is_mysql
    from models.goods import Goods
    from models.search import GoodsSearch
    from search import index as search_index
    for statement in MYSQL if is_mysql(database) else SQLITE:
        database.execute_sql(statement)
    with database.bind_ctx([Goods, GoodsSearch]):
        search_index.backfill()
