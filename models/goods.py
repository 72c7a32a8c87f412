"""Listings, their images, favourites and the search log behind the hot words."""
from peewee import (AutoField, BooleanField, CharField, DateField, DateTimeField, DecimalField,
                    IntegerField, TextField)

from models import BaseModel, utcnow
from models.user import BLOCKED, User

# Goods.state
PENDING, APPROVED, REJECTED = 0, 1, 2
# Image.flag
GOODS_PHOTO, STUDENT_ID, BANNER = 0, 1, 2


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

    class Meta:
        table_name = "goods"
        indexes = ((("state", "deleted", "hidden", "gid"), False),
                   (("openid", "deleted", "gid"), False))

    @classmethod
    def live(cls, *fields):
        """Listings not taken down (deleted rows stay for the comments and chats citing them)."""
        return cls.select(*fields).where(cls.deleted == False)  # noqa: E712

    @classmethod
    def public(cls):
        """Listings anyone may see: approved, not deleted, not hidden, owner not blocked."""
        blocked = User.select(User.openid).where(User.state == BLOCKED)
        return cls.live().where(cls.state == APPROVED, cls.hidden == False,  # noqa: E712
                                cls.openid.not_in(blocked))


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
