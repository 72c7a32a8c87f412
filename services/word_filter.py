"""The local sensitive-word filter: used when WeChat's content check is off, unreachable, slow
or over its quota (wechat/content_check.py decides when); a hit holds the content for a
moderator exactly as WeChat's `review` verdict does.

The list is the shipped default (sensitive_words.txt beside this module, one word a line)
plus the words moderators added, minus the ones they took off (table sensitive_word, audited);
matched with ahocorasick-rs (the Rust aho-corasick crate's automaton) in one pass over the
text, whatever the number of words (pyahocorasick was measured too: its search alone cost ten
times the whole check on a 2,000-character text, bench/README.md table 6). Evasions are
normalised away on both sides: NFKC (full-width `ＱＱ` is `qq`), lower case, and every
character that is not a letter or digit dropped (`毒 品`, `毒.品`, `毒*品` are `毒品`). Every
process keeps its automaton and rebuilds it when the list's version (word_list_version, +1
with every change) is not the one it was built from.
"""
import functools
import os
import re
import unicodedata

import ahocorasick_rs
from peewee import IntegrityError

from models import utcnow, write_txn
from models.admin import record
from models.words import SensitiveWord, WordListVersion
from services import validate
from errors import Invalid, NotFound

DEFAULT_LIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sensitive_words.txt")
MAX_WORD_CHARS = 32
MIN_WORD_CHARS = 2       # one letter or character would hold nearly everything
HELD_NOTE = "local word filter: %s"  # the moderators' note (the review queue shows it)
_DROP = re.compile(r"[\W_]+")


def normalise(text):
    """What is matched: NFKC, lower case, only letters and digits (spaces, punctuation, symbols
    and emoji between characters dropped). The separators go first: Chinese text is full of
    full-width punctuation that NFKC would rewrite, and without it NFKC's quick check usually
    finds nothing to do (5x cheaper on a 2,000-character text)."""
    kept = _DROP.sub("", text or "")
    if not unicodedata.is_normalized("NFKC", kept):
        kept = _DROP.sub("", unicodedata.normalize("NFKC", kept))
    return kept.lower()


class Matcher:
    """An Aho–Corasick automaton of normalised words; `version` is the list's it was built from."""

    def __init__(self, words, version=None):
        self.version = version
        keys = list(dict.fromkeys(k for k in map(normalise, words) if len(k) >= MIN_WORD_CHARS))
        self.size = len(keys)
        self.automaton = ahocorasick_rs.AhoCorasick(keys) if keys else None
        self.patterns = keys

    def find(self, text, limit=5):
        """The list's words found in `text` (normalised; non-overlapping, leftmost first), each
        once, at most `limit`."""
        if self.automaton is None or not text:
            return []
        return list(dict.fromkeys(self.automaton.find_matches_as_strings(normalise(text))))[:limit]


@functools.lru_cache(maxsize=1)
def shipped():
    """The shipped words as a set."""
    return frozenset(default_words())


@functools.lru_cache(maxsize=1)
def default_words():
    """The shipped list: one word a line; blank lines and `#` comments skipped."""
    with open(DEFAULT_LIST, encoding="utf-8") as f:
        return tuple(dict.fromkeys(w for w in (normalise(line.split("#", 1)[0]) for line in f)
                                   if len(w) >= MIN_WORD_CHARS))


def version():
    """The list's version (0 before any change)."""
    row = WordListVersion.select(WordListVersion.version).where(WordListVersion.id == 1).first()
    return row.version if row else 0


def words():
    """The list in force: the shipped words and the added ones, less the removed."""
    changes = {r.word: r.removed for r in SensitiveWord.select(SensitiveWord.word,
                                                               SensitiveWord.removed)}
    listed = [w for w in default_words() if not changes.get(w)]
    return listed + sorted(w for w, removed in changes.items()
                           if not removed and w not in shipped())


def refresh(known_version):
    """A new Matcher when the list changed since `known_version` (None: never built), else None.
    Runs on a database thread (building 10k words takes a few tens of milliseconds)."""
    current = version()
    if current == known_version:
        return None
    with write_txn():  # the words and their version read together
        current = version()
        return Matcher(words(), current)


def _bump():
    if not WordListVersion.update(version=WordListVersion.version + 1).where(
            WordListVersion.id == 1).execute():
        try:
            with write_txn():
                WordListVersion.create(id=1, version=1)
        except IntegrityError:
            WordListVersion.update(version=WordListVersion.version + 1).where(
                WordListVersion.id == 1).execute()


def _word(raw):
    word = normalise(validate.text(raw, "word", MAX_WORD_CHARS))
    if len(word) < MIN_WORD_CHARS:
        raise Invalid("%(field)s needs at least %(n)d letters or characters",
                      field=validate.label("word"), n=MIN_WORD_CHARS)
    return word


def _set(actor, word, removed, reason=""):
    with write_txn():
        row = SensitiveWord.select().where(SensitiveWord.word == word).first()
        if row is None:
            SensitiveWord.create(word=word, removed=removed, actor=actor, changed_at=utcnow())
        else:
            SensitiveWord.update(removed=removed, actor=actor, changed_at=utcnow()).where(
                SensitiveWord.id == row.id).execute()
        _bump()
        record(actor, "word.remove" if removed else "word.add", "word:" + word, reason)


def add(actor, raw):
    """Put a word on the list (audited); the normalised word."""
    word = _word(raw)
    _set(actor, word, False)
    return word


def remove(actor, raw, reason):
    """Take a word off the list, a shipped one included (audited with the reason); NotFound
    when it is not on the list."""
    word = _word(raw)
    if word not in set(words()):
        raise NotFound("no such word on the list")
    _set(actor, word, True, reason)
    return word


def for_moderators(limit=1000):
    """The admin page: the added and the removed words (newest first), and the list's sizes."""
    def rows(removed):
        query = (SensitiveWord.select().where(SensitiveWord.removed == removed)
                 .order_by(SensitiveWord.changed_at.desc(), SensitiveWord.id.desc()).limit(limit))
        return [{"word": r.word, "actor": r.actor, "changed_at": r.changed_at,
                 "shipped": r.word in shipped()} for r in query]
    return {"added": rows(False), "removed": rows(True), "total": len(words()),
            "shipped": len(default_words())}
