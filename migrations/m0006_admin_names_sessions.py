"""Admin names: one spelling (NFKC, case-folded), compared exactly (utf8mb4_bin on MySQL, where
utf8mb4_unicode_ci made `rôot` and `ＲＯＯＴ` sign in as `root`); admin.session_epoch, raised to end
an admin's sessions server-side. admin_openid.openid is compared exactly too (openids are
case-sensitive)."""
import unicodedata

from peewee import IntegerField
from playhouse.migrate import MySQLMigrator, migrate


def _normalise(name):
    """Frozen copy of services.admins.normalise_name as of this migration."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold()).strip()


def up(database, migrator):
    """Refuse if two names become one; add session_epoch; binary collation; normalise names."""
    rows = list(database.execute_sql("SELECT id, username FROM admin ORDER BY id"))
    seen = {}
    for id_, name in rows:
        other = seen.setdefault(_normalise(name), name)
        if other != name:
            raise RuntimeError(
                "admin names %r and %r are the same name once normalised: delete one "
                "(DELETE FROM admin WHERE id = %d) and run migrate again" % (other, name, id_))
    migrate(migrator.add_column("admin", "session_epoch", IntegerField(default=0)))
    if isinstance(migrator, MySQLMigrator):
        database.execute_sql("ALTER TABLE `admin` MODIFY `username` VARCHAR(64) "
                             "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL")
        database.execute_sql("ALTER TABLE `admin_openid` MODIFY `openid` VARCHAR(64) "
                             "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL")
    for id_, name in rows:
        if _normalise(name) != name:
            database.execute_sql("UPDATE admin SET username = %s WHERE id = %s"
                                 % (database.param, database.param), (_normalise(name), id_))
