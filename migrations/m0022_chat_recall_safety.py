"""Issue 25: chat_message.recalled_at (a recalled message shows a placeholder; its content is
kept for moderators) and chat_safety_notice (one safety notice per recipient, sender and China
day, in every process). Frozen: the model below is this migration's own copy."""
from peewee import AutoField, CharField, DateTimeField, Model
from playhouse.migrate import migrate

from models import is_mysql


class SafetyNotice(Model):
    id = AutoField()
    recipient = CharField(max_length=64)
    sender = CharField(max_length=64)
    day = CharField(max_length=10)
    kind = CharField(max_length=32)
    created_at = DateTimeField()

    class Meta:
        table_name = "chat_safety_notice"
        indexes = ((("recipient", "sender", "day"), True), (("day", "kind"), False))


def up(database, migrator):
    """Add chat_message.recalled_at (NULL: not recalled) and create chat_safety_notice."""
    migrate(migrator.add_column("chat_message", "recalled_at", DateTimeField(null=True)))
    with SafetyNotice.bind_ctx(database):
        SafetyNotice._meta.table_settings = (
            ["ENGINE=InnoDB", "DEFAULT CHARSET=utf8mb4", "COLLATE=utf8mb4_unicode_ci"]
            if is_mysql(database) else [])
        SafetyNotice.create_table(safe=False)
