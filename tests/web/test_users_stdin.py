"""`counterwatch users add` without a terminal: a clear one-line error, and --password-stdin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def _users(*args: str, stdin: str | None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "users", *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        start_new_session=True,
    )


def test_users_add_without_a_terminal_says_what_to_do(tmp_path):
    data = str(tmp_path / "data")
    for stdin in (None, "", "typed-password\n"):  # no stdin, an empty one, a piped one without the flag
        r = _users("add", "ann", "--role", "admin", "--data", data, stdin=stdin)
        assert r.returncode == 2, (stdin, r.stdout, r.stderr)
        err = r.stderr.strip()
        assert "Traceback" not in r.stderr and len(err.splitlines()) == 1, r.stderr
        assert err.startswith("error: ") and "no terminal" in err and "--password-stdin" in err, err
    r = _users("list", "--data", data, stdin=None)
    assert r.returncode == 0 and "no users" in r.stdout


def test_password_stdin_adds_and_resets_a_user(tmp_path):
    from pipeline.events.store import EventStore
    from pipeline.web.auth import verify_user

    data = tmp_path / "data"
    r = _users("add", "ann", "--role", "admin", "--password-stdin", "--data", str(data), stdin="first-password-1\n")
    assert r.returncode == 0 and "'ann' added with role admin" in r.stdout, r.stderr
    r = _users(
        "add",
        "ann",
        "--role",
        "viewer",
        "--password-stdin",
        "--replace",
        "--data",
        str(data),
        stdin="second password 2\r\nignored line\n",
    )
    assert r.returncode == 0, r.stderr
    r = _users("add", "bob", "--role", "viewer", "--password-stdin", "--data", str(data), stdin="")
    assert r.returncode == 2 and "no password on stdin" in r.stderr and "Traceback" not in r.stderr
    store = EventStore.for_dir(data)
    try:
        assert verify_user(store, "ann", "first-password-1") is None
        user = verify_user(store, "ann", "second password 2")  # spaces kept, the line ending is not
        assert user is not None and user["role"] == "viewer"
        assert verify_user(store, "bob", "") is None
    finally:
        store.close()
