"""Fixtures for the web app: a data dir seeded with real evidence (an H.264 clip and a
snapshot cut from the real demo footage with ffmpeg), the demo site config, and one
user per role."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.core.types import Event
from pipeline.events.store import EventStore
from pipeline.rules import catalog  # noqa: F401
from pipeline.rules.base import RULES

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / "configs" / "demo.yaml"
PASSWORD = "correct-horse-1"
USERS = {"ann": "admin", "sam": "supervisor", "vic": "viewer"}
DAY = dt.datetime(2026, 11, 26, 9, 0, 0)

# (event_id, rule, post, severity, offset from DAY in s, duration s, details)
SEED_EVENTS = [
    ("ev_unattended", "post.unattended", "P1", "medium", 0, 12.0, {"empty_s": 12.0, "customers_waiting": 2}),
    ("ev_headdown", "posture.head_down", "P2", "high", 3600, 34.0,
     {"head_below_shoulder_s": 34.0, "torso_angle_deg": 41.2}),
    ("ev_phone", "phone.use", "P3", "high", 86400, 8.0, {"phone_conf": 0.42, "customer_count": 1}),
]


def encode_clip(src: Path, dst: Path, start_s: float = 2.0, dur_s: float = 4.0) -> None:
    """A browser-playable H.264 mp4 (yuv420p, faststart) cut from real footage."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", str(start_s), "-t", str(dur_s), "-i", str(src),
                    "-vf", "scale=640:-2", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                    "-movflags", "+faststart", "-an", str(dst)], check=True, timeout=120)


def grab_snapshot(src: Path, dst: Path, at_s: float = 3.0) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", str(at_s), "-i", str(src), "-frames:v", "1",
                    "-vf", "scale=640:-2", str(dst)], check=True, timeout=60)


def seed_events(store: EventStore) -> None:
    for eid, rule, post, sev, off, dur, details in SEED_EVENTS:
        wall = (DAY + dt.timedelta(seconds=off)).timestamp()
        ev = Event(eid, rule, RULES[rule].article, "cam5", post, (1,), "end", sev, 10.0, 10.0 + dur,
                   details=details, wall_start=wall, site_id="demo-hall")
        store.record_event(ev, source="batch")
        store.set_evidence(eid, clip=f"clips/cam5/{eid}.mp4", snapshot=f"snapshots/cam5/{eid}.jpg",
                           status="ready", duration_s=4.0)


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory, demo_clip) -> Path:
    """Evidence, events and users, built once per session (argon2 hashing is slow on purpose)."""
    from pipeline.web.auth import add_user

    root = tmp_path_factory.mktemp("seeded")
    clip = root / "clips/cam5/ev_unattended.mp4"
    encode_clip(demo_clip, clip)
    snap = root / "snapshots/cam5/ev_unattended.jpg"
    grab_snapshot(demo_clip, snap)
    for eid, *_ in SEED_EVENTS[1:]:
        shutil.copy(clip, root / f"clips/cam5/{eid}.mp4")
        shutil.copy(snap, root / f"snapshots/cam5/{eid}.jpg")
    store = EventStore.for_dir(root)
    seed_events(store)
    for name, role in USERS.items():
        add_user(store, name, role, PASSWORD)
    store.close()
    return root


@pytest.fixture
def web_dir(tmp_path, seeded_template) -> Path:
    """A fresh copy of the seeded data dir plus the demo config, for one test."""
    d = tmp_path / "data"
    shutil.copytree(seeded_template, d)
    shutil.copy(DEMO_CONFIG, d / "site.yaml")
    return d


@pytest.fixture
def app(web_dir):
    from pipeline.web.app import create_app

    return create_app(web_dir, config_path=web_dir / "site.yaml")


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture
def login(app):
    """login(name) -> (TestClient with a session, csrf token)."""
    from fastapi.testclient import TestClient

    clients = []

    def do(name: str) -> tuple[object, str]:
        c = TestClient(app)
        clients.append(c)
        r = c.post("/api/login", json={"username": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return c, r.json()["csrf_token"]

    yield do
    for c in clients:
        c.close()
