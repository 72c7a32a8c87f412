"""Safety prompts in chat (issue 25): does a message look like one of the usual frauds of trade
between strangers (payment or a deposit before meeting, moving the talk to another app, a link)?

A pure matcher, no database and no I/O: `Matcher(kinds)` is built once from config
`safety.kinds` (kind -> words, patterns, advice) and `match(text)` answers the first kind that
matches, or None. Evasions are undone before matching (`normalise`): full-width letters and
digits (NFKC), case, and spaces, punctuation, symbols and invisible characters between the
characters ("加 微 信", "Ｖ.x", "１３８ １２３４ ５６７８"). Nothing here blocks or changes a
message; the chat only tells the recipient (realtime/safety_notices.py). The sensitive-word
filter of issue 26 is another module: this one only prompts, it never refuses.
"""
import re
import unicodedata

# what is dropped between characters: separators, punctuation, symbols, controls and format
# characters (zero-width spaces), by Unicode category
_DROPPED = ("Z", "P", "S", "C")


def plain(text):
    """NFKC (full-width letters and digits become ASCII) and case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def squeeze(text):
    """plain() without anything but letters, digits and marks: "v.x" -> "vx"."""
    return "".join(c for c in plain(text) if unicodedata.category(c)[0] not in _DROPPED)


def normalise(text):
    """The two forms a message is matched in: (plain, squeezed)."""
    p = plain(text)
    return p, "".join(c for c in p if unicodedata.category(c)[0] not in _DROPPED)


class Matcher:
    """The kinds of config `safety.kinds`, compiled once: {kind: {"words": [...], "patterns":
    [...], "advice": "..."}}. Words are matched in the squeezed form (so they are squeezed the
    same way); patterns (regular expressions) in either form (a link needs its dots, a phone
    number written with spaces needs them gone)."""

    def __init__(self, kinds):
        self.kinds = []
        for kind, spec in kinds.items():
            words = sorted({squeeze(w) for w in spec.get("words", ()) if squeeze(w)},
                           key=len, reverse=True)
            parts = [re.escape(w) for w in words]
            word_re = re.compile("|".join(parts)) if parts else None
            patterns = [re.compile(p) for p in spec.get("patterns", ())]
            pattern_re = re.compile("|".join("(?:%s)" % p.pattern for p in patterns)) \
                if patterns else None
            self.kinds.append((kind, word_re, pattern_re))

    def match(self, text):
        """The first kind (in config order) whose words or patterns the text matches, or None."""
        if not text:
            return None
        p, s = normalise(text)
        for kind, word_re, pattern_re in self.kinds:
            if word_re is not None and word_re.search(s):
                return kind
            if pattern_re is not None and (pattern_re.search(p) or pattern_re.search(s)):
                return kind
        return None
