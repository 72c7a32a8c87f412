"""Suggestions as you type (search/suggest.py): the candidate terms, their lookup keys, and the
terms each public listing gave (so a change of the listing moves only its own counts)."""
from peewee import AutoField, CharField, IntegerField, TextField

from models import BaseModel


class SuggestTerm(BaseModel):
    """A completion: a word of public listings' names and titles (`hits`: how many public
    listings have it now), or a hot word (search_keyword, joined when answering)."""
    id = AutoField()
    term = CharField(max_length=64, unique=True)
    hits = IntegerField(default=0)

    class Meta:
        table_name = "suggest_term"


class SuggestKey(BaseModel):
    """A key a term is found by: the term itself, its pinyin, its pinyin initials (binary
    collation on MariaDB, so a prefix is a range of the index: m0021)."""
    id = AutoField()
    skey = CharField(max_length=64)
    term_id = IntegerField()

    class Meta:
        table_name = "suggest_key"
        indexes = ((("skey", "term_id"), True), (("term_id",), False))


class SuggestPrefix(BaseModel):
    """The first 1..PREFIX_CHARS characters of each key of a term, with the term's `hits`
    copied: a short prefix (thousands of keys start with `s`) is read in the order of its index
    (prefix, hits), 10 rows, instead of ranking every key it starts (binary on MariaDB)."""
    id = AutoField()
    prefix = CharField(max_length=8)
    term_id = IntegerField()
    hits = IntegerField(default=0)

    class Meta:
        table_name = "suggest_prefix"
        indexes = ((("prefix", "term_id"), True), (("prefix", "hits"), False),
                   (("term_id",), False))


class GoodsSuggest(BaseModel):
    """The terms a public listing counts in (space-joined), while it counts."""
    gid = IntegerField(primary_key=True)
    terms = TextField()

    class Meta:
        table_name = "goods_suggest"
