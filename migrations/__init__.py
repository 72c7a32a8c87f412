"""Versioned schema migrations: numbered modules mNNNN_name.py, each with up(database, migrator).

`python main.py migrate` applies the pending ones in order and records each in schema_migration;
`serve` refuses to start while any is pending. A migration is frozen once it has landed: a later
change to the schema is a new module using playhouse.migrate operations, never an edit.

Numbers are reserved when a piece of work is handed out, before anyone knows whether it will
change the schema, so a reserved number whose work needed no migration stays unused. That is why
there is no m0002 (never committed: `git log -- migrations` goes from m0001 straight to
m0003) and no m0007. A gap is harmless (`discover` orders by number, `applied` records the
numbers run) and is never filled later: a database already past it would skip the newcomer.
"""
import importlib
import pkgutil
import re

from peewee import CharField, DateTimeField, IntegerField, Model
from playhouse.migrate import SchemaMigrator

from models import utcnow


class SchemaMigration(Model):
    version = IntegerField(primary_key=True)
    name = CharField(max_length=100)
    applied_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "schema_migration"


def discover():
    """[(version, name, module)] of every migration module, in order."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        m = re.match(r"m(\d{4})_(\w+)$", info.name)
        if m:
            module = importlib.import_module("%s.%s" % (__name__, info.name))
            found.append((int(m.group(1)), m.group(2), module))
    return sorted(found, key=lambda x: x[0])


def applied(database):
    """Versions already applied to this database."""
    with SchemaMigration.bind_ctx(database):
        if not SchemaMigration.table_exists():
            return set()
        return {row.version for row in SchemaMigration.select()}


def pending(database):
    """[(version, name)] not yet applied."""
    done = applied(database)
    return [(v, n) for v, n, _ in discover() if v not in done]


def migrate(database, log=print):
    """Apply every pending migration; returns the names applied."""
    done = applied(database)
    names = []
    with SchemaMigration.bind_ctx(database):
        SchemaMigration.create_table(safe=True)
        for version, name, module in discover():
            if version in done:
                continue
            with database.atomic():
                module.up(database, SchemaMigrator.from_database(database))
                SchemaMigration.create(version=version, name=name)
            log("applied migration %04d_%s" % (version, name))
            names.append(name)
    return names
