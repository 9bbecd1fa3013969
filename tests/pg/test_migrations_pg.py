"""Schema migrations on PostgreSQL: a new database and one from before Alembic, each in its own database."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from pipeline.core.errors import OutputError
from pipeline.events import migrations
from pipeline.events.schema import Base
from pipeline.events.store import SCHEMA_VERSION, EventStore

pytestmark = pytest.mark.postgres


@pytest.fixture
def own_db(pg_url, request):
    """A database of its own on the test server (the other PostgreSQL tests share theirs)."""
    name = "cw_" + request.node.name.lower()[:40]
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _diff(store: EventStore) -> list:
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "compare_type": True, "compare_server_default": True,
            "include_name": lambda name, kind, _p: not (kind == "table" and name == migrations.LEGACY_TABLE)})
        return compare_metadata(ctx, Base.metadata)


def test_new_postgres_database_ends_at_head_with_the_models_schema(own_db):
    store = EventStore(own_db)
    assert store.schema_version() == SCHEMA_VERSION
    assert _diff(store) == []
    store.close()
    store = EventStore(own_db)  # the second opening only reads
    assert store.migrate() == SCHEMA_VERSION
    with store.engine.connect() as c:
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [migrations.head()]
    with store.engine.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    store.close()
    with pytest.raises(OutputError, match="0999"):
        EventStore(own_db)


def test_postgres_database_of_the_first_schema_upgrades_in_place(own_db):
    engine = create_engine(own_db)
    Base.metadata.create_all(engine)
    with engine.begin() as c:  # back to the tables of step 1, as the first store made them
        c.execute(text("DROP TABLE web_sessions"))
        c.execute(text("DROP TABLE upright_reference"))
        c.execute(text("ALTER TABLE users DROP COLUMN disabled"))
        c.execute(text("ALTER TABLE events DROP COLUMN superseded_at"))
        c.execute(text("ALTER TABLE outbox DROP COLUMN dead_at"))
        c.execute(text("ALTER TABLE reviews DROP CONSTRAINT reviews_event_id_fkey"))
        c.execute(text("ALTER TABLE reviews ADD CONSTRAINT reviews_event_id_fkey FOREIGN KEY (event_id) "
                       "REFERENCES events (event_id) ON DELETE CASCADE"))
        c.execute(text("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"))
        c.execute(text("INSERT INTO schema_version VALUES (1, now())"))
        c.execute(text("INSERT INTO events (event_id, site_id, source, camera_id, rule_id, article, severity, state, "
                       "start_s, track_ids, score, details, created_at, updated_at) VALUES ('e1', 'default', 'live', "
                       "'cam1', 'post.unattended', 'a20', 'medium', 'end', 1.0, '[]', 1.0, '{}', now(), now())"))
        c.execute(text("INSERT INTO reviews (event_id, verdict, reason, reviewer, note, at) "
                       "VALUES ('e1', 'confirmed', '', 'ann', '', now())"))
        c.execute(text("INSERT INTO users VALUES ('ann', 'hash', 'admin', now())"))
    engine.dispose()
    store = EventStore(own_db)
    assert store.schema_version() == SCHEMA_VERSION
    assert _diff(store) == []
    assert store.get_event("e1")["verdict"] == "confirmed"
    assert "web_sessions" in inspect(store.engine).get_table_names()
    with store.engine.connect() as c:
        assert c.execute(text("SELECT disabled FROM users")).scalars().all() == [False]
    with pytest.raises(IntegrityError), store.engine.begin() as c:  # revision 2: a review keeps its event
        c.execute(text("DELETE FROM events"))
    store.close()


def test_postgres_database_of_the_hand_written_migrations_is_stamped(own_db):
    engine = create_engine(own_db)
    Base.metadata.create_all(engine)
    with engine.begin() as c:
        c.execute(text("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"))
        c.execute(text("INSERT INTO schema_version VALUES (1, now()), (2, now()), (3, now()), (4, now())"))
    engine.dispose()
    store = EventStore(own_db)
    with store.engine.connect() as c:
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == ["0004"]
    assert _diff(store) == []
    store.close()
