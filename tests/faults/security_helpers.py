"""Shared pieces of the security fault tests: a data folder with one user per role and real
events, and the web app served by a real uvicorn server in a thread (so parallel requests
really run in parallel, as they do in production)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipeline.events.store import EventStore
from tests.web.conftest import DEMO_CONFIG, PASSWORD, USERS, seed_events


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def sec_template(tmp_path_factory) -> Path:
    """Users (argon2, slow on purpose) and seeded events, built once."""
    from pipeline.web.auth import add_user

    root = tmp_path_factory.mktemp("sec")
    store = EventStore.for_dir(root)
    seed_events(store)
    for name, role in USERS.items():
        add_user(store, name, role, PASSWORD)
    store.close()
    return root


@pytest.fixture
def sec_dir(tmp_path, sec_template) -> Path:
    d = tmp_path / "data"
    shutil.copytree(sec_template, d)
    shutil.copy(DEMO_CONFIG, d / "site.yaml")
    return d


@contextlib.contextmanager
def serve(app, port: int | None = None) -> Iterator[str]:
    """Run `app` under uvicorn in a thread; yields the base URL and stops the server afterwards."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not th.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        th.join(timeout=15)


def api_login(base: str, name: str, password: str = PASSWORD) -> tuple[httpx.Client, str]:
    """A client holding a fresh session of `name`, and the session's CSRF token."""
    c = httpx.Client(base_url=base, timeout=30)
    r = c.post("/api/login", json={"username": name, "password": password})
    assert r.status_code == 200, r.text
    return c, r.json()["csrf_token"]
