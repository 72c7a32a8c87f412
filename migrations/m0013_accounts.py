"""Account deletion and blocking between users: session_epoch (a user token's `ep`
must equal its openid's epoch: deletion raises it, so every token of the account ends at once)
and user_block. Frozen: the models below are this migration's own copies."""
from peewee import AutoField, CharField, DateTimeField, IntegerField, Model

from models import is_mysql


class SessionEpoch(Model):
    openid = CharField(max_length=64, primary_key=True)
    epoch = IntegerField(default=0)
    updated_at = DateTimeField()

    class Meta:
        table_name = "session_epoch"


class UserBlock(Model):
    id = AutoField()
    blocker = CharField(max_length=64)
    blocked = CharField(max_length=64)
    created_at = DateTimeField()

    class Meta:
        table_name = "user_block"
        indexes = ((("blocker", "blocked"), True), (("blocked",), False))


def up(database, migrator):
    """Create session_epoch and user_block."""
    settings = ["ENGINE=InnoDB", "DEFAULT CHARSET=utf8mb4", "COLLATE=utf8mb4_unicode_ci"]
    for model in (SessionEpoch, UserBlock):
        with model.bind_ctx(database):
            model._meta.table_settings = settings if is_mysql(database) else []
            model.create_table(safe=False)
