"""Safety prompts in chat: does a message look like one of the usual frauds of trade
between strangers (payment or a deposit before meeting, moving the talk to another app, a link)?

A pure matcher, no database and no I/O: `Matcher(kinds)` is built once from config
`safety.kinds` (kind -> words, patterns, advice) and `match(text)` answers the kind of the
first match, or None. Evasions are undone before matching (`normalise`): full-width letters and
digits (NFKC), case, and spaces, punctuation, symbols and invisible characters between the
characters ("加 微 信", "Ｖ.x", "１３８ １２３４ ５６７８"). Nothing here blocks or changes a
message; the chat only tells the recipient (realtime/safety_notices.py). The sensitive-word
filter (services/word_filter.py) is another module: this one only prompts, it never refuses.
"""
import re
import unicodedata

# what is dropped between characters: anything but letters and digits (Unicode's \W: spaces,
# punctuation, symbols, emoji, zero-width and other invisible characters) and the underscore
_DROPPED = re.compile(r"[\W_]+")


def plain(text):
    """NFKC (full-width letters and digits become ASCII) and case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def squeeze(text):
    """plain() without anything but letters and digits: "v.x" -> "vx"."""
    return _DROPPED.sub("", plain(text))


def normalise(text):
    """The two forms a message is matched in: (plain, squeezed)."""
    p = plain(text)
    return p, _DROPPED.sub("", p)


class Matcher:
    """The kinds of config `safety.kinds`, compiled once into two expressions: {kind: {"words":
    [...], "patterns": [...], "advice": "..."}}. Words are matched in the squeezed form (so they
    are squeezed the same way), patterns (regular expressions) in either form (a link needs its
    dots, a phone number written with spaces needs them gone). Two searches a message, whatever
    the number of kinds and words."""

    def __init__(self, kinds):
        self.names = list(kinds)
        squeezed, plain_parts = [], []
        for i, spec in enumerate(kinds.values()):
            words = sorted({squeeze(w) for w in spec.get("words", ()) if squeeze(w)},
                           key=len, reverse=True)
            patterns = ["(?:%s)" % re.compile(p).pattern for p in spec.get("patterns", ())]
            alternatives = [re.escape(w) for w in words] + patterns
            if alternatives:
                squeezed.append("(?P<k%d>%s)" % (i, "|".join(alternatives)))
            if patterns:
                plain_parts.append("(?P<k%d>%s)" % (i, "|".join(patterns)))
        self.squeezed = re.compile("|".join(squeezed)) if squeezed else None
        self.plain = re.compile("|".join(plain_parts)) if plain_parts else None

    def match(self, text):
        """The kind of the first match in the text (either form; plain first), or None."""
        if not text:
            return None
        p, s = normalise(text)
        for regex, form in ((self.plain, p), (self.squeezed, s)):
            found = regex.search(form) if regex is not None else None
            if found is not None:
                return self.names[int(found.lastgroup[1:])]
        return None
