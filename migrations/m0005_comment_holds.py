"""Comments and replies held by a content check carry the reason, so moderators can find and
release them (a comment hidden by a take-down has none)."""
from peewee import CharField
from playhouse.migrate import migrate


def up(database, migrator):
    """Add comment.hold_reason and reply.hold_reason."""
    migrate(
        migrator.add_column("comment", "hold_reason", CharField(max_length=255, default="")),
        migrator.add_column("reply", "hold_reason", CharField(max_length=255, default="")),
    )
