"""Server-side sessions: a copied cookie dies with logout, a password reset, `users disable` and
`users remove`; idle sessions end; migration 3 upgrades a database made before it."""

from __future__ import annotations

import datetime as dt
import io
import sqlite3
import sys

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update

from pipeline.cli import main
from pipeline.events.schema import SessionRow
from pipeline.events.store import SCHEMA_VERSION, EventStore
from pipeline.web.app import create_app
from pipeline.web.auth import SESSION_COOKIE
from tests.faults import security_helpers as sh
from tests.web.conftest import PASSWORD

sec_template, sec_dir = sh.sec_template, sh.sec_dir  # fixtures


@pytest.fixture
def app(sec_dir):
    return create_app(sec_dir, config_path=sec_dir / "site.yaml")


def _login(app, name: str) -> tuple[TestClient, str, str]:
    c = TestClient(app)
    r = c.post("/api/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c, c.cookies[SESSION_COOKIE], r.json()["csrf_token"]


def _thief(app, cookie: str) -> TestClient:
    """Another client that holds a copy of someone's session cookie."""
    c = TestClient(app)
    c.cookies.set(SESSION_COOKIE, cookie)
    return c


def test_copied_cookie_is_refused_after_logout(app):
    c, cookie, csrf = _login(app, "sam")
    thief = _thief(app, cookie)
    assert thief.get("/api/me").json()["username"] == "sam"
    assert app.state.auth.sessions_of("sam") == 1
    r = c.post("/logout", headers={"X-CSRF-Token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert thief.get("/api/me").status_code == 401
    assert thief.get("/api/events").status_code == 401
    assert app.state.auth.sessions_of("sam") == 0
    # other sessions of the same user are separate: logging out one leaves the other
    c1, _, csrf1 = _login(app, "sam")
    c2, _, _ = _login(app, "sam")
    c1.post("/logout", headers={"X-CSRF-Token": csrf1}, follow_redirects=False)
    assert c1.get("/api/me").status_code == 401 and c2.get("/api/me").status_code == 200


def test_the_cookie_is_a_random_token_not_a_readable_payload(app, sec_dir):
    _, cookie, _ = _login(app, "vic")
    assert "vic" not in cookie and len(cookie) >= 40
    db = (sec_dir / "counterwatch.db").read_bytes() + (sec_dir / "counterwatch.db-wal").read_bytes()
    assert cookie.encode() not in db  # only its hash is stored


@pytest.mark.parametrize("command", [["disable"], ["remove"], ["add", "--role", "viewer", "--password-stdin",
                                                                  "--replace"]])
def test_cli_disable_remove_and_password_reset_end_sessions(app, sec_dir, monkeypatch, capsys, command):
    _, cookie, _ = _login(app, "vic")
    thief = _thief(app, cookie)
    assert thief.get("/api/me").status_code == 200
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-new-password-1\n"))
    assert main(["users", command[0], "vic", *command[1:], "--data", str(sec_dir)]) == 0
    out = capsys.readouterr().out
    assert thief.get("/api/me").status_code == 401
    r = TestClient(app).post("/api/login", json={"username": "vic", "password": PASSWORD})
    assert r.status_code == 401
    if command[0] == "disable":
        assert "1 session(s) ended" in out
        # even the right password is refused while disabled; `enable` lets the user back in
        assert main(["users", "list", "--data", str(sec_dir)]) == 0
        line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("vic\t"))
        assert line.endswith("\tdisabled")
        assert main(["users", "enable", "vic", "--data", str(sec_dir)]) == 0
        _login(app, "vic")
    if command[0] == "add":
        r = TestClient(app).post("/api/login", json={"username": "vic", "password": "a-new-password-1"})
        assert r.status_code == 200


def test_unknown_user_commands_are_one_line_errors(sec_dir, capsys):
    assert main(["users", "disable", "nobody", "--data", str(sec_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "error: user 'nobody': no such user"


def test_idle_and_old_sessions_end(app):
    c, cookie, _ = _login(app, "ann")
    store = app.state.store
    assert c.get("/api/me").status_code == 200
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with store.session() as s, s.begin():  # nothing from this session for longer than the idle time
        s.execute(update(SessionRow).values(last_seen=now - dt.timedelta(seconds=app.state.auth.idle_s + 5)))
    assert c.get("/api/me").status_code == 401
    assert app.state.auth.sessions_of("ann") == 0  # the dead row is removed too
    c, cookie, _ = _login(app, "ann")
    with store.session() as s, s.begin():  # used a minute ago, but logged in more than 12 h ago
        s.execute(update(SessionRow).values(created_at=now - dt.timedelta(hours=13)))
    assert c.get("/api/me").status_code == 401


def test_active_session_is_kept_alive(app):
    c, cookie, _ = _login(app, "ann")
    old = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=app.state.auth.idle_s - 30)
    with app.state.store.session() as s, s.begin():
        s.execute(update(SessionRow).values(last_seen=old))
    assert c.get("/api/me").status_code == 200  # a request within the idle time moves last_seen on
    with app.state.store.session() as s:
        assert s.query(SessionRow).one().last_seen > old


def test_migration_3_upgrades_a_version_2_database(tmp_path):
    store = EventStore.for_dir(tmp_path)
    from pipeline.web.auth import add_user

    add_user(store, "ann", "admin", PASSWORD)
    store.close()
    con = sqlite3.connect(tmp_path / "counterwatch.db")  # make it look like a database from before sessions
    con.executescript("DROP TABLE web_sessions; ALTER TABLE users DROP COLUMN disabled;"
                      "UPDATE alembic_version SET version_num = '0002';")
    con.commit()
    con.close()
    store = EventStore.for_dir(tmp_path)
    assert store.schema_version() == SCHEMA_VERSION >= 3
    app = create_app(tmp_path)
    _, cookie, _ = _login(app, "ann")
    assert _thief(app, cookie).get("/api/me").json() == {"username": "ann", "role": "admin"}
    # applying it again changes nothing
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0002'"))
    assert store.migrate() == SCHEMA_VERSION
    assert _thief(app, cookie).get("/api/me").status_code == 200


def test_open_websocket_and_sse_streams_end_when_the_session_is_revoked(sec_dir, monkeypatch):
    import httpx
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    from pipeline.alerts.bus import AlertBus
    from pipeline.web import live_api

    monkeypatch.setattr(live_api, "REVALIDATE_S", 0.3)
    monkeypatch.setattr(live_api, "HEARTBEAT_S", 0.3)
    app = create_app(sec_dir, alert_bus=AlertBus())
    with sh.serve(app) as base:
        owner, csrf = sh.api_login(base, "vic")
        cookie = owner.cookies.get(SESSION_COOKIE)
        hdr = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
        with connect(base.replace("http", "ws") + "/ws/events", additional_headers=hdr, open_timeout=10) as ws, \
                httpx.Client(base_url=base, timeout=30, headers=hdr) as thief, \
                thief.stream("GET", "/api/events/stream") as sse:
            ws.send('{"ping": 1}')
            assert ws.recv(timeout=10) == '{"pong":1}'
            lines = sse.iter_lines()
            assert next(lines) == ": connected"
            assert owner.post("/logout", headers={"X-CSRF-Token": csrf}).status_code in (200, 303)
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(timeout=10)
            assert closed.value.rcvd.code == 1008 and closed.value.rcvd.reason == "session ended"
            rest = list(lines)  # the stream ends (it does not wait for the next alert for ever)
            assert "event: logout" in rest
