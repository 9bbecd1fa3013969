"""Schema migrations (Alembic, pipeline/events/migrations): new databases, databases from before Alembic,
repeated upgrades, databases newer than the code, parallel openers."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from pipeline.core.errors import OutputError
from pipeline.events import migrations
from pipeline.events.schema import Base
from pipeline.events.store import DB_NAME, SCHEMA_VERSION, EventStore

# The tables as the first version of the store created them on SQLite (schema_version step 1), verbatim.
SCHEMA_STEP_1 = """
CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at DATETIME NOT NULL, PRIMARY KEY (version));
CREATE TABLE events (
    event_id VARCHAR(32) NOT NULL, site_id VARCHAR(64) NOT NULL, source VARCHAR(8) NOT NULL,
    camera_id VARCHAR(64) NOT NULL, post_id VARCHAR(64), rule_id VARCHAR(64) NOT NULL, article VARCHAR(32) NOT NULL,
    severity VARCHAR(8) NOT NULL, state VARCHAR(8) NOT NULL, start_s FLOAT NOT NULL, end_s FLOAT,
    wall_start DATETIME, wall_end DATETIME, track_ids JSON NOT NULL, score FLOAT NOT NULL, details JSON NOT NULL,
    recording TEXT, created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL, PRIMARY KEY (event_id));
CREATE INDEX ix_events_post_id ON events (post_id);
CREATE INDEX ix_events_site_id ON events (site_id);
CREATE INDEX ix_events_camera_id ON events (camera_id);
CREATE INDEX ix_events_wall_start ON events (wall_start);
CREATE INDEX ix_events_rule_id ON events (rule_id);
CREATE TABLE presence (
    id INTEGER NOT NULL, site_id VARCHAR(64) NOT NULL, source VARCHAR(8) NOT NULL, camera_id VARCHAR(64) NOT NULL,
    post_id VARCHAR(64) NOT NULL, state VARCHAR(8) NOT NULL, start_s FLOAT NOT NULL, end_s FLOAT NOT NULL,
    wall_start DATETIME, wall_end DATETIME, recording TEXT, PRIMARY KEY (id));
CREATE INDEX ix_presence_post_time ON presence (post_id, wall_start);
CREATE TABLE outages (
    id INTEGER NOT NULL, site_id VARCHAR(64) NOT NULL, camera_id VARCHAR(64) NOT NULL, start DATETIME NOT NULL,
    "end" DATETIME, reason TEXT NOT NULL, PRIMARY KEY (id));
CREATE INDEX ix_outages_camera_id ON outages (camera_id);
CREATE TABLE camera_state (
    camera_id VARCHAR(64) NOT NULL, site_id VARCHAR(64) NOT NULL, state VARCHAR(16) NOT NULL, fps FLOAT NOT NULL,
    drop_rate FLOAT NOT NULL, latency_s FLOAT NOT NULL, updated_at DATETIME NOT NULL, PRIMARY KEY (camera_id));
CREATE TABLE analyses (
    id INTEGER NOT NULL, path TEXT NOT NULL, sha256 VARCHAR(64) NOT NULL, config_version VARCHAR(64) NOT NULL,
    camera_id VARCHAR(64) NOT NULL, status VARCHAR(12) NOT NULL, error TEXT NOT NULL, video_s FLOAT NOT NULL,
    wall_s FLOAT NOT NULL, at DATETIME NOT NULL, PRIMARY KEY (id));
CREATE INDEX ix_analyses_sha256 ON analyses (sha256);
CREATE TABLE users (
    username VARCHAR(64) NOT NULL, password_hash TEXT NOT NULL, role VARCHAR(12) NOT NULL,
    created_at DATETIME NOT NULL, PRIMARY KEY (username));
CREATE TABLE outbox (
    id INTEGER NOT NULL, sink VARCHAR(64) NOT NULL, event_id VARCHAR(32) NOT NULL, state VARCHAR(8) NOT NULL,
    payload JSON NOT NULL, attempts INTEGER NOT NULL, next_at DATETIME NOT NULL, delivered_at DATETIME,
    last_error TEXT NOT NULL, PRIMARY KEY (id));
CREATE INDEX ix_outbox_sink ON outbox (sink);
CREATE INDEX ix_outbox_pending ON outbox (delivered_at, next_at);
CREATE TABLE clips (
    event_id VARCHAR(32) NOT NULL, clip_path TEXT, snapshot_path TEXT, status VARCHAR(12) NOT NULL, duration_s FLOAT,
    updated_at DATETIME NOT NULL, PRIMARY KEY (event_id),
    FOREIGN KEY(event_id) REFERENCES events (event_id) ON DELETE CASCADE);
CREATE TABLE reviews (
    id INTEGER NOT NULL, event_id VARCHAR(32) NOT NULL, verdict VARCHAR(12) NOT NULL, reason VARCHAR(32) NOT NULL,
    reviewer VARCHAR(64) NOT NULL, note TEXT NOT NULL, at DATETIME NOT NULL, PRIMARY KEY (id),
    FOREIGN KEY(event_id) REFERENCES events (event_id) ON DELETE CASCADE);
CREATE INDEX ix_reviews_event_id ON reviews (event_id);
"""

ROWS = """
INSERT INTO events (event_id, site_id, source, camera_id, post_id, rule_id, article, severity, state, start_s,
    end_s, wall_start, wall_end, track_ids, score, details, recording, created_at, updated_at) VALUES ('e1', 'default', 'batch', 'cam1', 'P1', 'post.unattended', 'a20', 'medium', 'end',
    10.0, 40.0, '2026-11-26 09:00:00', '2026-11-26 09:00:30', '[3]', 0.9, '{"duration_s": 30.0}', 'cam1.mp4',
    '2026-11-26 09:00:00', '2026-11-26 09:00:31');
INSERT INTO clips VALUES ('e1', 'clips/e1.mp4', NULL, 'ready', 30.0, '2026-11-26 09:01:00');
INSERT INTO reviews (event_id, verdict, reason, reviewer, note, at)
    VALUES ('e1', 'confirmed', '', 'ann', 'seen', '2026-11-26 10:00:00');
INSERT INTO users (username, password_hash, role, created_at) VALUES ('ann', 'hash', 'admin', '2026-11-25 08:00:00');
INSERT INTO outbox (sink, event_id, state, payload, attempts, next_at, last_error)
    VALUES ('hook', 'e1', 'end', '{"a": 1}', 2, '2026-11-26 09:02:00', 'timeout');
"""

IGNORED_TABLES = {migrations.LEGACY_TABLE}  # left in place in databases from before Alembic


def _schema_diff(store: EventStore) -> list:
    """What differs between the database and the models of pipeline.events.schema (empty: nothing)."""
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "compare_type": True, "compare_server_default": True,
            "include_name": lambda name, kind, _parent: not (kind == "table" and name in IGNORED_TABLES)})
        return compare_metadata(ctx, Base.metadata)


def _version_table(path) -> list[str]:
    con = sqlite3.connect(path)
    try:
        return [r[0] for r in con.execute("SELECT version_num FROM alembic_version")]
    finally:
        con.close()


def _schema_sql(path) -> list[tuple[str, str]]:
    con = sqlite3.connect(path)
    try:
        return sorted(con.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"))
    finally:
        con.close()


def _legacy_db(tmp_path, ddl: str, steps: list[int]) -> None:
    con = sqlite3.connect(tmp_path / DB_NAME)
    con.executescript(ddl)
    con.executescript(ROWS)
    con.executemany("INSERT INTO schema_version VALUES (?, '2026-11-25 08:00:00')", [(v,) for v in steps])
    con.commit()
    con.close()


def test_revisions_are_one_numbered_line():
    script = ScriptDirectory(str(migrations.HERE))
    assert len(script.get_heads()) == 1
    revs = migrations.known_revisions()
    assert revs == [f"{n:04d}" for n in range(1, len(revs) + 1)]
    for prev, rev in zip([None, *revs], revs, strict=False):
        assert script.get_revision(rev).down_revision == prev
    assert SCHEMA_VERSION == len(revs) == migrations.version_of(migrations.head())


def test_fresh_database_ends_at_head_with_the_models_schema(tmp_path):
    store = EventStore.for_dir(tmp_path)
    assert _version_table(tmp_path / DB_NAME) == [migrations.head()]
    assert store.schema_version() == SCHEMA_VERSION
    assert _schema_diff(store) == []
    assert migrations.LEGACY_TABLE not in inspect(store.engine).get_table_names()
    store.close()


def test_database_of_the_first_schema_upgrades_in_place(tmp_path):
    _legacy_db(tmp_path, SCHEMA_STEP_1, [1])
    store = EventStore.for_dir(tmp_path)
    assert _version_table(tmp_path / DB_NAME) == [migrations.head()]
    assert _schema_diff(store) == []
    got = store.get_event("e1")
    assert (got["state"], got["end_s"], got["clip"], got["verdict"]) == ("end", 40.0, "clips/e1.mp4", "confirmed")
    assert [r["note"] for r in store.reviews("e1")] == ["seen"]
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT username, disabled FROM users")).all() == [("ann", False)]
        assert conn.execute(text("SELECT attempts, last_error, dead_at FROM outbox")).all() == [(2, "timeout", None)]
    with pytest.raises(IntegrityError), store.engine.begin() as conn:  # revision 2: a review keeps its event
        conn.execute(text("DELETE FROM events WHERE event_id = 'e1'"))
    store.close()


def test_database_of_the_hand_written_migrations_is_stamped_not_changed(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / DB_NAME}")  # what the last hand-written code made
    Base.metadata.create_all(engine)
    engine.dispose()
    _legacy_db(tmp_path, "CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at DATETIME NOT NULL, "
                         "PRIMARY KEY (version));", [1, 2, 3, 4])
    before = _schema_sql(tmp_path / DB_NAME)
    assert EventStore(f"sqlite:///{tmp_path / DB_NAME}", create=False).schema_version() == 4  # read, not stamped
    assert "alembic_version" not in {name for name, _sql in _schema_sql(tmp_path / DB_NAME)}
    store = EventStore.for_dir(tmp_path)
    assert _version_table(tmp_path / DB_NAME) == ["0004"]
    after = [row for row in _schema_sql(tmp_path / DB_NAME) if row[0] != "alembic_version"]
    assert after == before  # stamped: no table or column touched
    assert store.get_event("e1")["verdict"] == "confirmed"
    store.close()


def test_hand_written_steps_with_a_gap_resume_after_the_unbroken_run(tmp_path):
    # steps 1, 2 and 4 applied, 3 missing (a branch merged out of order): stamped at 2, then 3 and 4 run
    _legacy_db(tmp_path, SCHEMA_STEP_1 + "ALTER TABLE events ADD COLUMN superseded_at DATETIME;"
               "ALTER TABLE outbox ADD COLUMN dead_at DATETIME;"
               "CREATE TABLE upright_reference (site_id VARCHAR(64) NOT NULL, camera_id VARCHAR(64) NOT NULL, "
               "post_id VARCHAR(64) NOT NULL, angle_deg FLOAT, n_samples INTEGER NOT NULL, samples JSON NOT NULL, "
               "updated_at DATETIME NOT NULL, PRIMARY KEY (site_id, camera_id, post_id));", [1, 2, 4])
    store = EventStore.for_dir(tmp_path)
    assert store.schema_version() == SCHEMA_VERSION
    names = inspect(store.engine).get_table_names()
    assert "web_sessions" in names and "upright_reference" in names
    assert "disabled" in {c["name"] for c in inspect(store.engine).get_columns("users")}
    store.close()


def test_upgrading_twice_changes_nothing(tmp_path, monkeypatch):
    EventStore.for_dir(tmp_path).close()
    before = _schema_sql(tmp_path / DB_NAME)

    def no_upgrade(*_a, **_k):
        raise AssertionError("a database at head was upgraded again")

    monkeypatch.setattr(migrations.command, "upgrade", no_upgrade)
    monkeypatch.setattr(migrations.command, "stamp", no_upgrade)
    store = EventStore.for_dir(tmp_path)
    assert store.migrate() == SCHEMA_VERSION
    assert _schema_sql(tmp_path / DB_NAME) == before
    assert _version_table(tmp_path / DB_NAME) == [migrations.head()]
    store.close()


def test_database_newer_than_the_code_is_refused_naming_the_file(tmp_path):
    EventStore.for_dir(tmp_path).close()
    con = sqlite3.connect(tmp_path / DB_NAME)
    con.execute("UPDATE alembic_version SET version_num = '0999'")
    con.commit()
    con.close()
    with pytest.raises(OutputError) as err:
        EventStore.for_dir(tmp_path)
    msg = str(err.value)
    assert str(tmp_path / DB_NAME) in msg and "0999" in msg and migrations.head() in msg


def test_parallel_openers_of_new_databases_create_each_once(tmp_path):
    # four openers at once: two on one new database, two on another (Alembic's context is process-wide)
    urls = [f"sqlite:///{tmp_path / name}" for name in ("a.db", "b.db")]
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def open_store(url: str) -> None:
        try:
            start.wait()
            EventStore(url).close()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=open_store, args=(urls[i % 2],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    for name in ("a.db", "b.db"):
        assert _version_table(tmp_path / name) == [migrations.head()]
