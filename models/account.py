"""Accounts beyond the profile: the token epoch that ends every login of an openid, and the
blocks users set between themselves (m0013)."""
from peewee import SQL, AutoField, CharField, DateTimeField, IntegerField, fn

from models import BaseModel, utcnow


class SessionEpoch(BaseModel):
    """A user token is valid only while its `ep` claim (0 when absent) equals this openid's
    epoch (0 when there is no row). Kept by openid, not by user row, so it outlives an account's
    deletion: a token of the deleted account never becomes one of the fresh account."""
    openid = CharField(max_length=64, primary_key=True)
    epoch = IntegerField(default=0)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "session_epoch"


class UserBlock(BaseModel):
    """`blocker` no longer sees `blocked`'s listings and comments; their chats are refused."""
    id = AutoField()
    blocker = CharField(max_length=64)
    blocked = CharField(max_length=64)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "user_block"
        indexes = ((("blocker", "blocked"), True), (("blocked",), False))

    @classmethod
    def not_blocked_by(cls, viewer, column):
        """A condition: the openid in `column` is nobody `viewer` blocks (an anti-join on the
        (blocker, blocked) key: one index probe a row). Always true without a viewer. Every
        read that hides the people a viewer blocks (listings, comments, replies, the inbox)
        filters with this, in SQL, so a page is full and the rule lives here."""
        if not viewer:
            return SQL("1 = 1")
        block = cls.alias("vb")
        return ~fn.EXISTS(block.select(SQL("1")).where(block.blocker == viewer,
                                                       block.blocked == column))

    @classmethod
    def blockers_of(cls, openid):
        """The openids who block `openid` (a subquery): nobody is told about someone they
        block (price drops, want-to-buy matches)."""
        return cls.select(cls.blocker).where(cls.blocked == openid)


# The same anti-join for the hot reads written as plain SQL (models/goods.py): FROM goods g
# VIEWER_JOIN WHERE … VIEWER_SQL, with the viewer's openid bound to the join's placeholder.
VIEWER_JOIN = "LEFT JOIN {q}user_block{q} vb ON vb.blocker = {p} AND vb.blocked = g.openid"
VIEWER_SQL = "vb.id IS NULL"
