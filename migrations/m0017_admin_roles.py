"""Admin roles: admin.role, `owner` (manages accounts) or `moderator`; every account
that exists now becomes an owner (they could all do everything before). The dashboard's trends
count listings and reports per day, so goods.issue_time and report.created_at get an index each
(chat_message.send_time has one since m0012)."""
from peewee import CharField
from playhouse.migrate import migrate


def up(database, migrator):
    """Add admin.role (existing rows: owner) and the two day-count indexes."""
    migrate(migrator.add_column("admin", "role", CharField(max_length=16, default="owner")),
            migrator.add_index("goods", ("issue_time",), False),
            migrator.add_index("report", ("created_at",), False))
    database.execute_sql("UPDATE admin SET role = 'owner'")
