"""Want-to-buy posts: wanted_post and its match keys wanted_key. Frozen: the
models below are this migration's own copies."""
from peewee import (AutoField, CharField, DateField, DateTimeField, DecimalField, IntegerField,
                    Model)

from models import is_mysql


class WantedPost(Model):
    id = AutoField()
    openid = CharField(max_length=64)
    keywords = CharField(max_length=100)
    max_price = DecimalField(max_digits=12, decimal_places=2, null=True)
    place = CharField(max_length=100, default="")
    state = IntegerField(default=0)
    hold_reason = CharField(max_length=255, default="")
    reason = CharField(max_length=500, default="")
    created_at = DateTimeField()
    expires_at = DateTimeField()
    notified_on = DateField(null=True)
    matches = IntegerField(default=0)

    class Meta:
        table_name = "wanted_post"
        indexes = ((("openid", "state"), False), (("state", "expires_at"), False))


class WantedKey(Model):
    id = AutoField()
    key = CharField(max_length=84)
    wanted_id = IntegerField()

    class Meta:
        table_name = "wanted_key"
        indexes = ((("key", "wanted_id"), True), (("wanted_id",), False))


def up(database, migrator):
    """Create wanted_post and wanted_key."""
    settings = ["ENGINE=InnoDB", "DEFAULT CHARSET=utf8mb4", "COLLATE=utf8mb4_unicode_ci"]
    for model in (WantedPost, WantedKey):
        with model.bind_ctx(database):
            model._meta.table_settings = settings if is_mysql(database) else []
            model.create_table(safe=False)
