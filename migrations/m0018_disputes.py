"""Disputes about a confirmed hand-over: the dispute table, one row per
hand-over. Frozen: the model below is this migration's own copy."""
from peewee import AutoField, CharField, DateTimeField, IntegerField, Model, TextField

from models import is_mysql


class Dispute(Model):
    id = AutoField()
    handover_id = IntegerField(unique=True)
    opener = CharField(max_length=64)
    opener_role = CharField(max_length=8)
    reason = TextField()
    photos = TextField()
    hold_reason = CharField(max_length=255, default="")
    state = IntegerField(default=0)
    fault = CharField(max_length=8, default="")
    decided_by = CharField(max_length=64, default="")
    decision_reason = CharField(max_length=500, default="")
    created_at = DateTimeField()
    decided_at = DateTimeField(null=True)

    class Meta:
        table_name = "dispute"
        indexes = ((("state", "id"), False),)


def up(database, migrator):
    """Create dispute."""
    settings = ["ENGINE=InnoDB", "DEFAULT CHARSET=utf8mb4", "COLLATE=utf8mb4_unicode_ci"]
    with Dispute.bind_ctx(database):
        Dispute._meta.table_settings = settings if is_mysql(database) else []
        Dispute.create_table(safe=False)
