"""Suggestions as you type: suggest_term, suggest_key (binary on MariaDB: a
prefix is an index range), suggest_prefix (short prefixes in the order of their hits) and
goods_suggest; filled from the public listings and the visible
hot words. Frozen: the models below are this migration's own copies."""
from peewee import AutoField, CharField, IntegerField, Model, TextField

from models import is_mysql


class SuggestTerm(Model):
    id = AutoField()
    term = CharField(max_length=64, unique=True)
    hits = IntegerField(default=0)

    class Meta:
        table_name = "suggest_term"


class SuggestKey(Model):
    id = AutoField()
    skey = CharField(max_length=64)
    term_id = IntegerField()

    class Meta:
        table_name = "suggest_key"
        indexes = ((("skey", "term_id"), True), (("term_id",), False))


class SuggestPrefix(Model):
    id = AutoField()
    prefix = CharField(max_length=8)
    term_id = IntegerField()
    hits = IntegerField(default=0)

    class Meta:
        table_name = "suggest_prefix"
        indexes = ((("prefix", "term_id"), True), (("prefix", "hits"), False),
                   (("term_id",), False))


class GoodsSuggest(Model):
    gid = IntegerField(primary_key=True)
    terms = TextField()

    class Meta:
        table_name = "goods_suggest"


def up(database, migrator):
    """Create the three tables, then fill them (search.suggest.rebuild)."""
    mysql = is_mysql(database)
    settings = ["ENGINE=InnoDB", "DEFAULT CHARSET=utf8mb4", "COLLATE=utf8mb4_unicode_ci"]
    for model in (SuggestTerm, SuggestKey, SuggestPrefix, GoodsSuggest):
        with model.bind_ctx(database):
            model._meta.table_settings = settings if mysql else []
            model.create_table(safe=False)
    if mysql:
        database.execute_sql("ALTER TABLE suggest_key MODIFY skey VARCHAR(64) "
                             "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL")
        database.execute_sql("ALTER TABLE suggest_prefix MODIFY prefix VARCHAR(8) "
                             "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL")
    from models.goods import Goods, SearchKeyword
    from models.suggest import (GoodsSuggest as G, SuggestKey as K, SuggestPrefix as P,
                                SuggestTerm as T)
    from models.user import User
    from search import suggest
    with database.bind_ctx([Goods, SearchKeyword, User, G, K, P, T]):
        suggest.rebuild(atomic=not mysql)
