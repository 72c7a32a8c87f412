"""Hot words that can't be poisoned: a moderator can hide one (search_keyword.hidden), and a
word counts once per searcher a day (search_counted). Frozen: the model below is this
migration's own copy."""
from peewee import AutoField, BooleanField, CharField, DateField, Model
from playhouse.migrate import migrate

from models import is_mysql


class SearchCounted(Model):
    id = AutoField()
    keyword = CharField(max_length=64)
    who = CharField(max_length=80)
    day = DateField()

    class Meta:
        table_name = "search_counted"
        indexes = ((("keyword", "who", "day"), True), (("who", "day"), False),
                   (("day",), False))


def up(database, migrator):
    """Create search_counted; add search_keyword.hidden."""
    settings = ["ENGINE=InnoDB", "DEFAULT CHARSET=utf8mb4", "COLLATE=utf8mb4_unicode_ci"]
    with SearchCounted.bind_ctx(database):
        SearchCounted._meta.table_settings = settings if is_mysql(database) else []
        SearchCounted.create_table(safe=False)
    migrate(migrator.add_column("search_keyword", "hidden", BooleanField(default=False)))
