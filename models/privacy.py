"""Privacy: each student's consents to the privacy policy, and the data archives
they asked for (m0019). The IP region of an account's latest request is on its user row."""
from peewee import AutoField, BigIntegerField, CharField, DateTimeField, IntegerField

from models import BaseModel, utcnow

ACCEPT, WITHDRAW = "accept", "withdraw"  # Consent.action
PREPARING, READY = "preparing", "ready"  # DataExport.state


class Consent(BaseModel):
    """One line per consent or withdrawal (the history is kept: the latest line is in force)."""
    id = AutoField()
    openid = CharField(max_length=64)
    version = CharField(max_length=32)  # the policy version accepted ("" for a withdrawal)
    action = CharField(max_length=16)   # ACCEPT or WITHDRAW
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "consent"
        indexes = ((("openid", "id"), False),)

    @classmethod
    def latest(cls, openid):
        """The line in force for `openid`, or None (never asked: the published client)."""
        return cls.select().where(cls.openid == openid).order_by(cls.id.desc()).first()


class DataExport(BaseModel):
    """A student's archive of their own data: found by openid only; `name` (random, unguessable)
    is its file name in privacy.export_dir, never served as a static file."""
    id = AutoField()
    openid = CharField(max_length=64)
    user_id = IntegerField()  # the account's row: a later account of the same openid is another
    name = CharField(max_length=64, unique=True)
    state = CharField(max_length=16, default=PREPARING)
    size = BigIntegerField(default=0)
    requested_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()

    class Meta:
        table_name = "data_export"
        indexes = ((("openid", "requested_at"), False), (("expires_at",), False))
