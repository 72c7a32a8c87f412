"""Mini-program users, keyed by their WeChat openid."""
from peewee import AutoField, BooleanField, CharField, DateTimeField, IntegerField, TextField

from models import BaseModel, utcnow

# User.state, as /wx/admin/userIsOk reports it.
UNVERIFIED, VERIFIED, REJECTED, PENDING, BLOCKED = 0, 1, 2, 3, 10
DELETED = 20  # a deleted account's placeholder row (services/accounts.py); never logs in again
STATE_NAMES = {UNVERIFIED: "unverified", VERIFIED: "verified", REJECTED: "rejected",
               PENDING: "pending", BLOCKED: "blocked", DELETED: "account deleted"}  # admin pages


class User(BaseModel):
    id = AutoField()
    openid = CharField(max_length=64, unique=True)
    wxname = CharField(max_length=64, default="")
    head_img = CharField(max_length=512, default="")
    sex = IntegerField(default=0)
    uname = CharField(max_length=64, default="")
    qq = CharField(max_length=32, default="")
    wx = CharField(max_length=64, default="")
    school = CharField(max_length=64, default="")
    xuehao = CharField(max_length=32, default="")
    uclass = CharField(max_length=64, default="")
    state = IntegerField(default=UNVERIFIED, index=True)
    reason = TextField(default="")
    registered = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    # the latest request's region (public: "广东", "美国"), raw address (admins only) and when
    # they were recorded (m0019; services/ip_region.py)
    ip_region = CharField(max_length=32, default="")
    last_ip = CharField(max_length=45, default="")
    ip_seen_at = DateTimeField(null=True)

    class Meta:
        table_name = "user"

    @classmethod
    def by_openid(cls, openid):
        """The user with this openid, or None."""
        return cls.get_or_none(cls.openid == openid)

    @classmethod
    def names(cls, openids):
        """{openid: user} for a set of openids, in one query."""
        openids = list(set(openids))
        if not openids:
            return {}
        return {u.openid: u for u in cls.select().where(cls.openid.in_(openids))}
