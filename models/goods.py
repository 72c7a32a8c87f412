"""Listings, their images, favourites and the search log behind the hot words."""
import threading

from peewee import (AutoField, BooleanField, CharField, DateField, DateTimeField, DecimalField,
                    IntegerField, TextField)

from models import BaseModel, db, is_mysql, utcnow
from models.account import VIEWER_JOIN, VIEWER_SQL, UserBlock
from models.user import BLOCKED, User

# Goods.state
PENDING, APPROVED, REJECTED = 0, 1, 2
# Goods.sale_state (m0014): only ON_SALE listings are in the public lists and search; the others
# stay readable in detail, favourites, chats and reports
ON_SALE, RESERVED, SOLD, EXPIRED = 0, 1, 2, 3
# Image.flag
GOODS_PHOTO, STUDENT_ID, BANNER, CHAT_IMAGE = 0, 1, 2, 3  # CHAT_IMAGE: private, in a chat


class Goods(BaseModel):
    gid = AutoField()
    openid = CharField(max_length=64)
    goods_name = CharField(max_length=100)
    goods_title = CharField(max_length=200)
    goods_dec = TextField()
    goods_price_new = DecimalField(max_digits=12, decimal_places=2)
    goods_price_old = DecimalField(max_digits=12, decimal_places=2)
    goods_xueyuan = CharField(max_length=100, default="")
    goods_address = CharField(max_length=200, default="")
    state = IntegerField(default=PENDING)
    reason = TextField(default="")
    issue_time = DateTimeField(default=utcnow)
    open_sum = IntegerField(default=0)
    deleted = BooleanField(default=False)
    hidden = BooleanField(default=False)
    hold_reason = CharField(max_length=255, default="")  # why content security held it
    sale_state = IntegerField(default=ON_SALE)       # m0014: on sale / reserved / sold / expired
    touched_at = DateTimeField(default=utcnow)       # the owner's last publish, edit, renewal
    reminded_at = DateTimeField(null=True)           # "still selling?" sent for this period
    price_alert_day = DateField(null=True)           # China day of the last price-drop alert

    class Meta:
        table_name = "goods"
        indexes = ((("state", "deleted", "hidden", "sale_state", "gid", "openid"), False),  # m0014
                   (("openid", "deleted", "gid"), False),
                   (("sale_state", "touched_at"), False),
                   (("issue_time",), False))  # m0017: the dashboard's listings per day

    @classmethod
    def live(cls, *fields):
        """Listings not taken down (deleted rows stay for the comments and chats citing them)."""
        return cls.select(*fields).where(cls.deleted == False)  # noqa: E712

    @classmethod
    def shown(cls, viewer=None):
        """Listings anyone may read (detail, favourites, comments, chat cards): approved, not
        deleted, not hidden, owner not blocked; reserved, sold and expired ones included. With
        `viewer`: also not of an owner the viewer blocks. The detail reads one listing by plain
        SQL and asks is_shown() of its row: the same rule."""
        blocked = User.select(User.openid).where(User.state == BLOCKED)
        query = cls.live().where(cls.state == APPROVED, cls.hidden == False,  # noqa: E712
                                 cls.openid.not_in(blocked))
        return query.where(UserBlock.not_blocked_by(viewer, cls.openid)) if viewer else query

    @staticmethod
    def is_shown(state, deleted, hidden, owner_state):
        """shown() for one row already read (its state, deleted, hidden and the owner's state)."""
        return state == APPROVED and not deleted and not hidden and owner_state != BLOCKED

    @classmethod
    def readable_by(cls, viewer, admin=False):
        """What the detail call shows this viewer: shown(), plus their own live listings (any
        review state); an admin reads every live listing."""
        if admin:
            return cls.live()
        if not viewer:
            return cls.shown()
        return cls.live().where(cls.gid.in_(cls.shown().select(cls.gid)) | (cls.openid == viewer))

    @classmethod
    def public(cls, viewer=None):
        """Listings of the public lists and search: shown() and on sale."""
        return cls.shown(viewer).where(cls.sale_state == ON_SALE)


class Image(BaseModel):
    id = AutoField()
    openid = CharField(max_length=64)
    flag = IntegerField(default=GOODS_PHOTO)
    url = CharField(max_length=128)
    thumb = CharField(max_length=128, default="")
    gid = IntegerField(null=True)
    created_at = DateTimeField(default=utcnow)
    hidden = BooleanField(default=False)  # a risky image waits for a moderator

    class Meta:
        table_name = "image"
        indexes = ((("gid", "id"), False), (("openid", "flag"), False))


class Favourite(BaseModel):
    id = AutoField()
    openid = CharField(max_length=64)
    gid = IntegerField()
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "favourite"
        indexes = ((("openid", "gid"), True),)


class SearchKeyword(BaseModel):
    id = AutoField()
    keyword = CharField(max_length=64, unique=True)
    count = IntegerField(default=0)
    last_at = DateTimeField(default=utcnow)
    hidden = BooleanField(default=False)  # a moderator took it off the hot words (m0008)

    class Meta:
        table_name = "search_keyword"
        indexes = ((("count",), False),)


class SearchCounted(BaseModel):
    """Who (a user, or an address when anonymous) counted which hot word on which day (m0008):
    one count per searcher and word a day. Rows of past days are pruned."""
    id = AutoField()
    keyword = CharField(max_length=64)
    who = CharField(max_length=80)
    day = DateField()

    class Meta:
        table_name = "search_counted"
        indexes = ((("keyword", "who", "day"), True), (("who", "day"), False),
                   (("day",), False))


# -- statements of the hot reads, built once ---------------------------------------------------
# The approved list, the detail and search pages run these as plain SQL (Peewee composing the
# same query on every call was ~30-50 % of their cost). Templates: {q} quotes a name, {p} is
# the driver's placeholder; `statement()` fills them once per database kind.
# public: approved, live, visible, the owner not blocked: FROM goods g PUBLIC_JOIN WHERE PUBLIC_SQL
# (an anti-join: MariaDB materialised `openid NOT IN (SELECT …)` on every execution, ~0.5 ms)
PUBLIC_JOIN = "LEFT JOIN {q}user{q} bu ON bu.openid = g.openid AND bu.state = %d" % BLOCKED
PUBLIC_SQL = ("g.state = %d AND g.deleted = 0 AND g.hidden = 0 AND g.sale_state = %d "
              "AND bu.id IS NULL" % (APPROVED, ON_SALE))
# a list item's columns: gid, name, title, description, prices, first visible photo (thumb or url)
SUMMARY_SQL = ("g.gid, g.goods_name, g.goods_title, g.goods_dec, g.goods_price_new, "
               "g.goods_price_old, (SELECT CASE WHEN i.thumb <> '' THEN i.thumb ELSE i.url END "
               "FROM {q}image{q} i WHERE i.gid = g.gid AND i.flag = %d AND i.hidden = 0 "
               "ORDER BY i.gid, i.id LIMIT 1)" % GOODS_PHOTO)  # on the (gid, id) index
# a deferred join: the page's gids from the (state, deleted, hidden, gid, openid) index alone
# (the owner check included), then whole rows for those ten only
APPROVED_PAGE_SQL = ("SELECT " + SUMMARY_SQL + " FROM (SELECT g.gid FROM {q}goods{q} g " +
                     PUBLIC_JOIN + " WHERE " + PUBLIC_SQL +
                     " ORDER BY g.gid DESC LIMIT {p} OFFSET {p}) t "
                     "JOIN {q}goods{q} g ON g.gid = t.gid ORDER BY g.gid DESC")
# the same page for a viewer who blocks someone: their owners' listings out, in the same query
# (the viewer's openid is the first parameter), so the page is as full as anyone's
APPROVED_PAGE_FOR_SQL = ("SELECT " + SUMMARY_SQL + " FROM (SELECT g.gid FROM {q}goods{q} g " +
                         PUBLIC_JOIN + " " + VIEWER_JOIN + " WHERE " + PUBLIC_SQL + " AND " +
                         VIEWER_SQL + " ORDER BY g.gid DESC LIMIT {p} OFFSET {p}) t "
                         "JOIN {q}goods{q} g ON g.gid = t.gid ORDER BY g.gid DESC")
DETAIL_SQL = ("SELECT g.gid, g.openid, g.goods_name, g.goods_title, g.goods_dec, "
              "g.goods_price_new, g.goods_price_old, g.goods_xueyuan, g.goods_address, g.state, "
              "g.issue_time, g.open_sum, g.hidden, u.state, u.wxname, g.sale_state, u.ip_region "
              "FROM {q}goods{q} g "
              "LEFT JOIN {q}user{q} u ON u.openid = g.openid WHERE g.gid = {p} AND g.deleted = 0")
PHOTOS_SQL = ("SELECT url FROM {q}image{q} WHERE gid = {p} AND flag = %d AND hidden = 0 "
              "ORDER BY id" % GOODS_PHOTO)

_statements = {}
_statements_lock = threading.Lock()


def statement(template):
    """`template` with its names quoted and placeholders for the bound database (cached)."""
    key = (is_mysql(), template)
    sql = _statements.get(key)
    if sql is None:
        q, p = ("`", "%s") if key[0] else ('"', "?")
        sql = template.replace("{q}", q).replace("{p}", p)
        with _statements_lock:
            if len(_statements) > 2000:  # templates with a varying part: keep it bounded
                _statements.clear()
            _statements[key] = sql
    return sql


def run(template, params=()):
    """All rows (tuples) of a statement template with these parameters."""
    return db.execute_sql(statement(template), params).fetchall()


def issue_time(value):
    """A listing's issue_time as read by plain SQL (SQLite returns text) as a datetime."""
    return Goods.issue_time.python_value(value)
