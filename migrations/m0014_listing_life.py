"""A listing's life: `sale_state` (0 on sale, 1 reserved, 2 sold, 3 expired),
`touched_at` (the owner's last publish, edit, state change or renewal: expiry counts from it,
filled from issue_time), `reminded_at` (the "still selling?" reminder of the current period,
cleared by a touch) and `price_alert_day` (the China day of the last price-drop alert: one a
day per listing). The lists' index gains sale_state before gid, so a public page is still found
in the index alone."""
import datetime

from peewee import DateField, DateTimeField, IntegerField
from playhouse.migrate import migrate


def up(database, migrator):
    """Add the columns, fill touched_at, then swap the lists' index (last: DDL commits on MySQL)."""
    migrate(
        migrator.add_column("goods", "sale_state", IntegerField(default=0)),
        migrator.add_column("goods", "touched_at",
                            DateTimeField(default=datetime.datetime(2000, 1, 1))),
        migrator.add_column("goods", "reminded_at", DateTimeField(null=True)),
        migrator.add_column("goods", "price_alert_day", DateField(null=True)),
    )
    database.execute_sql("UPDATE goods SET touched_at = issue_time")
    migrate(
        migrator.add_index("goods", ("state", "deleted", "hidden", "sale_state", "gid", "openid"),
                           False),
        migrator.drop_index("goods", "goods_state_deleted_hidden_gid_openid"),
        migrator.add_index("goods", ("sale_state", "touched_at"), False),
    )
