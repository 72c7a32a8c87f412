"""The local sensitive-word list (services/word_filter.py): the moderators' changes to the
shipped default list, and a version every process compares to know when to rebuild."""
from peewee import AutoField, BooleanField, CharField, DateTimeField, IntegerField

from models import BaseModel, utcnow


class SensitiveWord(BaseModel):
    """A word a moderator added (removed False) or took off the list (removed True: also a
    word of the shipped default list). `word` is stored normalised (word_filter.normalise)."""
    id = AutoField()
    word = CharField(max_length=64, unique=True)  # binary collation on MariaDB (m0020)
    removed = BooleanField(default=False)
    actor = CharField(max_length=64, default="")
    changed_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "sensitive_word"


class WordListVersion(BaseModel):
    """One row (id 1): +1 in every transaction that changes the list."""
    id = IntegerField(primary_key=True)
    version = IntegerField(default=0)

    class Meta:
        table_name = "word_list_version"
