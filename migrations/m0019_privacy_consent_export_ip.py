"""Privacy: consent (each student's consents to the privacy policy and
withdrawals), data_export (the archives students asked for), and on user the region of the
account's latest request (ip_region, shown publicly), its raw address (last_ip, admins only)
and when it was recorded (ip_seen_at). Frozen: the models below are this migration's copies."""
from peewee import AutoField, BigIntegerField, CharField, DateTimeField, IntegerField, Model
from playhouse.migrate import migrate

from models import is_mysql


class Consent(Model):
    id = AutoField()
    openid = CharField(max_length=64)
    version = CharField(max_length=32)
    action = CharField(max_length=16)
    created_at = DateTimeField()

    class Meta:
        table_name = "consent"
        indexes = ((("openid", "id"), False),)


class DataExport(Model):
    id = AutoField()
    openid = CharField(max_length=64)
    user_id = IntegerField()  # the account's row: a later account of the same openid is another
    name = CharField(max_length=64, unique=True)
    state = CharField(max_length=16, default="preparing")
    size = BigIntegerField(default=0)
    requested_at = DateTimeField()
    expires_at = DateTimeField()

    class Meta:
        table_name = "data_export"
        indexes = ((("openid", "requested_at"), False), (("expires_at",), False))


def up(database, migrator):
    """Create consent and data_export; add user.ip_region, last_ip, ip_seen_at."""
    settings = ["ENGINE=InnoDB", "DEFAULT CHARSET=utf8mb4", "COLLATE=utf8mb4_unicode_ci"]
    for model in (Consent, DataExport):
        with model.bind_ctx(database):
            model._meta.table_settings = settings if is_mysql(database) else []
            model.create_table(safe=False)
    migrate(migrator.add_column("user", "ip_region", CharField(max_length=32, default="")),
            migrator.add_column("user", "last_ip", CharField(max_length=45, default="")),
            migrator.add_column("user", "ip_seen_at", DateTimeField(null=True)))
