"""Accounts beyond the profile: the token epoch that ends every login of an openid, and the
blocks users set between themselves (m0013)."""
from peewee import AutoField, CharField, DateTimeField, IntegerField

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
