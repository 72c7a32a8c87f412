"""Hot words: what people search for and find, counted so that nobody can poison them.

A word counts once per searcher (the user, or the address when anonymous) a day, only when the
search found something (the handler decides), at most PER_SEARCHER_DAY words per searcher a day.
The table keeps at most MAX_WORDS visible words (the least counted, oldest go first) and forgets
words nobody searched for FORGET_DAYS. Moderators hide a word (audited); a hidden word stays
hidden, however often it is searched. Kept apart from the search itself, which may change.
"""
import datetime
import ipaddress

from peewee import IntegrityError, fn

from models import utcnow, write_txn
from models.goods import SearchCounted, SearchKeyword
from search import suggest
from services import validate
from services.clock import CHINA
from errors import NotFound
from models.admin import record

MAX_KEYWORD_CHARS = 32  # longer words are searched but not counted
MAX_WORDS = 500         # visible hot words kept
PER_SEARCHER_DAY = 30   # words one searcher can count in a day
FORGET_DAYS = 90        # a word nobody searched for this long is dropped
_pruned = {"day": None}  # the day this process last pruned (once a day is enough)


def today():
    """The day in China time (the users' day)."""
    return datetime.datetime.now(CHINA).date()


def searcher(openid, address):
    """The key a search counts under: the user when known, else the address (an IPv6 client's
    /64, which one client can rotate through)."""
    if openid:
        return "u:" + openid
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ("a:" + str(address))[:80]
    if ip.version == 6:
        if ip.ipv4_mapped:
            return "a:" + str(ip.ipv4_mapped)
        return "a:" + str(ipaddress.ip_network("%s/64" % ip, strict=False))
    return "a:" + str(ip)


def count(words, who, day=None):
    """Count a search that found something: each word once per searcher and day. Returns the
    words counted now."""
    day = day or today()
    _prune(day)
    counted = []
    for word in dict.fromkeys(w.lower() for w in words):
        if len(word) > MAX_KEYWORD_CHARS:
            continue
        if SearchCounted.select().where(SearchCounted.who == who,
                                        SearchCounted.day == day).count() >= PER_SEARCHER_DAY:
            break
        try:
            with write_txn():
                SearchCounted.create(keyword=word, who=who, day=day)
        except IntegrityError:  # this searcher counted it today already
            continue
        _bump(word)
        counted.append(word)
    return counted


def _bump(word):
    bump = dict(count=SearchKeyword.count + 1, last_at=utcnow())
    if SearchKeyword.update(**bump).where(SearchKeyword.keyword == word).execute():
        return
    try:
        with write_txn():
            SearchKeyword.create(keyword=word, count=1, last_at=utcnow())
            suggest.hot_word(word)  # its keys: shown as a suggestion while visible and counted
    except IntegrityError:  # a concurrent first search of the same word
        SearchKeyword.update(**bump).where(SearchKeyword.keyword == word).execute()
        return
    cap_words()


def cap_words(limit=None):
    """Keep at most `limit` (MAX_WORDS) visible words: drop the least counted, then oldest."""
    limit = MAX_WORDS if limit is None else limit
    visible = SearchKeyword.select().where(SearchKeyword.hidden == False)  # noqa: E712
    extra = visible.count() - limit
    if extra > 0:
        ids = [r.id for r in visible.order_by(SearchKeyword.count, SearchKeyword.last_at,
                                              SearchKeyword.id).limit(extra)]
        SearchKeyword.delete().where(SearchKeyword.id.in_(ids)).execute()


def _prune(day):
    """Once a day: forget past days' counts and words nobody searched for FORGET_DAYS."""
    if _pruned["day"] == day:
        return
    SearchCounted.delete().where(SearchCounted.day < day).execute()
    stale = utcnow() - datetime.timedelta(days=FORGET_DAYS)
    SearchKeyword.delete().where(SearchKeyword.last_at < stale,
                                 SearchKeyword.hidden == False).execute()  # noqa: E712
    _pruned["day"] = day


def hot_words(limit):
    """/goods/hotWords: the most counted visible words, most frequent first."""
    query = (SearchKeyword.select(SearchKeyword.keyword)
             .where(SearchKeyword.hidden == False)  # noqa: E712
             .order_by(SearchKeyword.count.desc(), SearchKeyword.last_at.desc()).limit(limit))
    return [row.keyword for row in query]


def for_moderators(limit=100):
    """The admin page: {"top": [{keyword, count, last_at}], "hidden": [...]}."""
    def rows(query):
        return [{"keyword": r.keyword, "count": r.count, "last_at": r.last_at} for r in query]
    order = (SearchKeyword.count.desc(), SearchKeyword.last_at.desc())
    top = SearchKeyword.select().where(SearchKeyword.hidden == False)  # noqa: E712
    hidden = SearchKeyword.select().where(SearchKeyword.hidden == True)  # noqa: E712
    return {"top": rows(top.order_by(*order).limit(limit)),
            "hidden": rows(hidden.order_by(SearchKeyword.keyword).limit(1000)),
            "words": top.count(), "searchers_today": SearchCounted.select(
                fn.COUNT(fn.DISTINCT(SearchCounted.who))).where(
                    SearchCounted.day == today()).scalar() or 0}


def set_hidden(actor, word, hidden):
    """Hide a word from the hot words (or show it again); audited. A word not yet searched can
    be hidden in advance."""
    word = validate.text(word, "word", MAX_KEYWORD_CHARS).lower()
    with write_txn():
        changed = SearchKeyword.update(hidden=bool(hidden)).where(
            SearchKeyword.keyword == word).execute()
        if not changed:
            if not hidden:
                raise NotFound("no such hot word")
            SearchKeyword.create(keyword=word, count=0, last_at=utcnow(), hidden=True)
        record(actor, "hotword.hide" if hidden else "hotword.show", "hotword:" + word)
    return {"keyword": word, "hidden": bool(hidden)}
