"""Schema migrations of the event store: Alembic, run from code (no alembic.ini, no CLI).

`upgrade(engine)` brings a database to the newest revision; the store calls it when it opens.
The revisions are in `versions/`, one file each. Their ids are sequence numbers ("0001", "0002", ...)
and the store's schema version is that number. A new revision copies the last one, numbers itself
one up and names the previous id as `down_revision`; a revision that has shipped is never edited.
The history is one line (tests/events/test_migrations.py checks it): two branches that each add
the same number are merged by renumbering the later one.
Each revision looks before it changes (a table or column only where it is missing), so a database
that already has part of a step is completed, not broken.

Databases made before Alembic have no `alembic_version` table but a `schema_version` table listing
the hand-written steps applied, numbered as the revisions are: such a database is stamped at the
last step of the unbroken run from 1 and upgraded from there. The `schema_version` table is left
as it was; nothing reads it once the database is stamped.

The whole upgrade is one transaction under a lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory
lock), so processes that open the same new database at once create it once; within a process, one
upgrade runs at a time. A database already at the head revision is only read.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from pipeline.core.errors import OutputError

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
VERSION_TABLE = "alembic_version"
LEGACY_TABLE = "schema_version"  # the hand-written migrations' marker: one row per step applied
_PG_LOCK = 0x63770001  # advisory lock key of schema upgrades (any constant, the same in every process)
# Alembic runs env.py through the module-wide `alembic.context`: one upgrade at a time in a process
_RUNNING = threading.Lock()


@functools.cache
def script() -> ScriptDirectory:
    return ScriptDirectory(str(HERE))


def head() -> str:
    rev = script().get_current_head()
    assert rev is not None, f"{HERE}: no revisions"
    return rev


def version_of(revision: str | None) -> int:
    """The schema version number of a revision id ("0004" -> 4; no revision -> 0)."""
    return 0 if revision is None else int(revision)


def known_revisions() -> list[str]:
    """Every revision id, oldest first."""
    return [s.revision for s in reversed(list(script().walk_revisions()))]


def database_name(engine: Engine) -> str:
    """The database file (SQLite) or the URL without its password."""
    if engine.dialect.name == "sqlite":
        return engine.url.database or ":memory:"
    return engine.url.render_as_string(hide_password=True)


def current(conn: Connection) -> str | None:
    """The revision the database is at (read directly: MigrationContext logs each time it is made)."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    rows = list(conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
    if len(rows) > 1:
        raise OutputError(f"{database_name(conn.engine)}: {VERSION_TABLE} names several revisions "
                          f"({', '.join(rows)}); the schema history of counterwatch has one line")
    return rows[0] if rows else None


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; for one from before Alembic not yet stamped, the step it reached."""
    with engine.connect() as conn:
        rev = current(conn)
        return rev if rev is not None else _legacy_revision(conn)


def _config(conn: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["connection"] = conn  # env.py runs the revisions on this connection
    return cfg


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        # pysqlite begins no transaction for DDL: take the write lock now, so the DDL and the
        # version stamp commit together and a second process waits, then finds the work done
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})


def _legacy_revision(conn: Connection) -> str | None:
    """The revision a database made by the hand-written migrations stands at (None: not such a database)."""
    if not inspect(conn).has_table(LEGACY_TABLE):
        return None
    applied = {int(v) for v in conn.execute(text(f"SELECT version FROM {LEGACY_TABLE}")).scalars()}
    revs = known_revisions()
    n = 0
    while n < len(revs) and version_of(revs[n]) in applied:  # steps 1..n all applied
        n += 1
    return revs[n - 1] if n else None


def _check_known(rev: str | None, engine: Engine) -> None:
    if rev is not None and rev not in known_revisions():
        raise OutputError(
            f"{database_name(engine)}: the database is at schema revision {rev}, which this version of counterwatch "
            f"does not know (the newest it knows is {head()}); a newer counterwatch wrote it: run that version, "
            "or point this one at another database")


def upgrade(engine: Engine) -> str:
    """Bring the database to the head revision; returns it. Does nothing on a database already there."""
    with engine.connect() as conn:
        rev = current(conn)
    _check_known(rev, engine)
    if rev == head():
        return rev
    alembic_log = logging.getLogger("alembic")
    with _RUNNING, engine.connect() as conn, conn.begin():
        _lock(conn)
        rev = current(conn)  # again under the lock: another process may have done it meanwhile
        _check_known(rev, engine)
        if rev == head():
            return rev
        cfg = _config(conn)
        level = alembic_log.level
        alembic_log.setLevel(logging.WARNING)  # one line of ours below instead of Alembic's per step
        try:
            if rev is None:
                rev = _legacy_revision(conn)
                if rev is not None:
                    log.info("%s: database from before Alembic at step %s: stamped", database_name(engine), rev)
                    command.stamp(cfg, rev)
            command.upgrade(cfg, "head")
        finally:
            alembic_log.setLevel(level)
        log.info("%s: schema upgraded from %s to %s", database_name(engine), rev or "nothing", head())
    return head()
