"""Admin audit log: the value before and after each action (a block remembers the state to restore)."""
from peewee import CharField
from playhouse.migrate import migrate


def up(database, migrator):
    """Add admin_action.old_value and new_value (empty for earlier rows)."""
    migrate(
        migrator.add_column("admin_action", "old_value", CharField(max_length=32, default="")),
        migrator.add_column("admin_action", "new_value", CharField(max_length=32, default="")),
    )
