"""Migrations from empty on both databases, the schema matching the models, utf8mb4 on MariaDB."""
import os
import subprocess
import sys
import uuid

import pytest

from models import bind, open_database, is_mysql
import migrations
from tests.tables import MODELS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(params=["sqlite", "mariadb"])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        return "sqlite:///" + str(tmp_path / "empty.db")
    server = request.getfixturevalue("mariadb")
    return server.create_database("mig_" + uuid.uuid4().hex[:8])


def test_migrate_from_empty_then_nothing_pending(empty_url):
    database = bind(open_database(empty_url, 2))
    with database.connection_context():
        assert migrations.pending(database)
        applied = migrations.migrate(database, log=lambda *a: None)
        assert applied and not migrations.pending(database)
        assert migrations.migrate(database, log=lambda *a: None) == []
        for model in MODELS:
            columns = {c.name for c in database.get_columns(model._meta.table_name)}
            assert columns == {f.column_name for f in model._meta.sorted_fields}, model
        if is_mysql(database):
            for model in MODELS:
                ddl = database.execute_sql("SHOW CREATE TABLE `%s`" % model._meta.table_name)
                assert "utf8mb4" in ddl.fetchone()[1]
    database.close_all()


def test_serve_refuses_pending_migrations_and_migrate_command_applies(tmp_path):
    env = dict(os.environ, MARKET_DATABASE_URL="sqlite:///" + str(tmp_path / "m.db"))
    config = tmp_path / "c.yaml"
    config.write_text("")
    run = lambda *args: subprocess.run([sys.executable, os.path.join(ROOT, "main.py"),
                                        "--config", str(config)] + list(args),
                                       capture_output=True, text=True, env=env, timeout=60)
    refused = run("serve", "--port", "0")
    assert refused.returncode == 2 and "migrate" in refused.stderr
    done = run("migrate")
    assert done.returncode == 0, done.stderr
    assert "schema is current" in done.stdout
    assert run("migrate").stdout.startswith("migrations: 0 applied")
