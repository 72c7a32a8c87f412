"""The local sensitive-word filter: sensitive_word (moderators' additions and
removals over the shipped list) and word_list_version (one row). Frozen: the models below are
this migration's own copies."""
from peewee import AutoField, BooleanField, CharField, DateTimeField, IntegerField, Model

from models import is_mysql


class SensitiveWord(Model):
    id = AutoField()
    word = CharField(max_length=64, unique=True)
    removed = BooleanField(default=False)
    actor = CharField(max_length=64, default="")
    changed_at = DateTimeField()

    class Meta:
        table_name = "sensitive_word"


class WordListVersion(Model):
    id = IntegerField(primary_key=True)
    version = IntegerField(default=0)

    class Meta:
        table_name = "word_list_version"


def up(database, migrator):
    """Create both tables and the version row. On MariaDB the words compare as bytes (utf8mb4_bin:
    the service normalises them, and the default collation would take 'ｑ' and 'q' as one)."""
    mysql = is_mysql(database)
    settings = ["ENGINE=InnoDB", "DEFAULT CHARSET=utf8mb4", "COLLATE=utf8mb4_unicode_ci"]
    for model in (SensitiveWord, WordListVersion):
        with model.bind_ctx(database):
            model._meta.table_settings = settings if mysql else []
            model.create_table(safe=False)
    if mysql:
        database.execute_sql("ALTER TABLE sensitive_word MODIFY word VARCHAR(64) "
                             "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL")
    database.execute_sql("INSERT INTO word_list_version (id, version) VALUES (1, 0)")
