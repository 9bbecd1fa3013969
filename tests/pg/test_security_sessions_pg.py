"""Server-side sessions and migration 3 on PostgreSQL: the same revocation as on SQLite."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from pipeline.events.store import SCHEMA_VERSION, EventStore
from pipeline.web.app import create_app
from pipeline.web.auth import SESSION_COOKIE, add_user, remove_user

pytestmark = pytest.mark.postgres
PASSWORD = "correct-horse-1"


def test_sessions_and_migration_3_on_postgres(pg_url, tmp_path):
    store = EventStore(pg_url)
    with store.engine.begin() as c:  # a database from before migration 3
        c.execute(text("DELETE FROM users"))
        c.execute(text("DROP TABLE IF EXISTS web_sessions"))
        c.execute(text("ALTER TABLE users DROP COLUMN IF EXISTS disabled"))
        c.execute(text("UPDATE alembic_version SET version_num = '0002'"))
    store.close()
    store = EventStore(pg_url)
    assert store.schema_version() == SCHEMA_VERSION
    add_user(store, "pgann", "admin", PASSWORD)
    app = create_app(tmp_path, db_url=pg_url)
    with TestClient(app) as c:
        r = c.post("/api/login", json={"username": "pgann", "password": PASSWORD})
        assert r.status_code == 200
        thief = TestClient(app)
        thief.cookies.set(SESSION_COOKIE, c.cookies[SESSION_COOKIE])
        assert thief.get("/api/me").status_code == 200
        assert c.post("/logout", headers={"X-CSRF-Token": r.json()["csrf_token"]},
                      follow_redirects=False).status_code == 303
        assert thief.get("/api/me").status_code == 401
        r = c.post("/api/login", json={"username": "pgann", "password": PASSWORD})
        thief.cookies.set(SESSION_COOKIE, c.cookies[SESSION_COOKIE])
        assert remove_user(store, "pgann") == 1
        assert thief.get("/api/me").status_code == 401
    store.close()
