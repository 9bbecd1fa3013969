"""A zone save reaches the cameras of a running `counterwatch run`: through the in-process
notification at once, and through the config-file watch for hand edits (or a `serve`
process next to the run). Real frames, real detector: who is staff of post P1 follows
the new seat polygon."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
import yaml

from pipeline.events.store import EventStore
from pipeline.settings import load_config
from pipeline.web.auth import add_user
from tests.live.helpers import DESK, free_port, site_config, start_run, stop_run, wait_healthy

PASSWORD = "zone-admin-password"
WHOLE = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
CORNER = [[0.0, 0.0], [0.06, 0.0], [0.06, 0.06], [0.0, 0.06]]


class Frames:
    """What the camera thread saw: per analysed frame, people found and people who are staff of P1."""

    def __init__(self):
        self.rows: list[tuple[int, int]] = []
        self.cond = threading.Condition()

    def __call__(self, cam_id, frame, res):
        with self.cond:
            self.rows.append((len(res.facts.persons), sum(p.post_id == "P1" for p in res.facts.persons)))
            self.cond.notify_all()

    def wait_more(self, n: int, timeout_s: float = 60) -> list[tuple[int, int]]:
        with self.cond:
            start = len(self.rows)
            assert self.cond.wait_for(lambda: len(self.rows) >= start + n, timeout_s), "camera stalled"
            return self.rows[start : start + n]


def _admin(data: Path) -> None:
    store = EventStore.for_dir(data)
    add_user(store, "ann", "admin", PASSWORD)
    store.close()


def _seat(cfg_path: Path, seat) -> None:
    raw = yaml.safe_load(cfg_path.read_text())
    raw["cameras"][0]["posts"][0]["seat"] = seat
    cfg_path.write_text(yaml.safe_dump(raw))


@pytest.mark.models
@pytest.mark.data
@pytest.mark.timeout(300)
def test_save_and_hand_edit_reach_the_running_camera(tmp_path, data_dir, models_dir, caplog):
    from fastapi.testclient import TestClient

    from pipeline.live.runner import LiveRunner
    from pipeline.web.app import create_app

    data = tmp_path / "data"
    cfg_path = site_config(tmp_path / "site.yaml", str(data_dir / DESK), min_duration_s=600)
    _seat(cfg_path, WHOLE)
    _admin(data)
    store = EventStore.for_dir(data)
    frames = Frames()
    runner = LiveRunner(
        load_config(cfg_path), data, store, config_dir=tmp_path, pool_size=1, on_frame=frames, config_path=cfg_path
    )
    app = create_app(data, config_path=cfg_path)
    app.state.live_runner = runner  # as `counterwatch run` wires them
    runner.start()
    try:
        with TestClient(app) as c:
            csrf = c.post("/api/login", json={"username": "ann", "password": PASSWORD}).json()["csrf_token"]
            before = frames.wait_more(6)
            assert sum(n for n, _ in before) > 0, "the clip shows people"
            assert all(p1 == n for n, p1 in before), before  # the whole frame is P1's seat
            z = c.get("/api/zones/desk").json()
            z["posts"][0]["seat"] = CORNER
            body = {"posts": z["posts"], "waiting": [], "staff_area": [], "base_sha256": z["sha256"]}
            with caplog.at_level(logging.INFO, logger="pipeline.live"):
                r = c.put("/api/zones/desk", json=body, headers={"X-CSRF-Token": csrf})
                assert r.status_code == 200, r.text
                assert r.json()["reloaded"] == ["desk"]
                frames.wait_more(2)  # a frame in flight during the save may still use the old seat
                after = frames.wait_more(6)
            assert sum(n for n, _ in after) > 0 and all(p1 == 0 for _, p1 in after), after
            assert "camera desk: zones reloaded" in caplog.text
            assert runner.workers["desk"].camera.posts[0].seat == CORNER

            # a save that changes nothing for the cameras reloads none
            z = c.get("/api/zones/desk").json()
            body = {"posts": z["posts"], "waiting": [], "staff_area": [], "base_sha256": z["sha256"]}
            assert c.put("/api/zones/desk", json=body, headers={"X-CSRF-Token": csrf}).json()["reloaded"] == []

        # a hand edit of the file: the watch hands it to the cameras
        assert runner.watcher is not None
        runner.watcher.check()  # take the saves above as seen
        told = []
        runner.config_listeners.append(told.append)
        _seat(cfg_path, WHOLE)
        assert runner.watcher.check() is True
        assert len(told) == 1 and told[0].camera("desk").posts[0].seat == WHOLE
        frames.wait_more(2)
        back = frames.wait_more(6)
        assert sum(n for n, _ in back) > 0 and all(p1 == n for n, p1 in back), back

        # an invalid hand edit is refused with a log line; the running zones stay
        _seat(cfg_path, [[0.1, 0.1], [0.3, 0.3], [0.3, 0.1], [0.1, 0.3]])  # a bow tie
        with caplog.at_level(logging.ERROR, logger="pipeline.live"):
            assert runner.watcher.check() is False
        assert "config changed but is not valid" in caplog.text and "cross" in caplog.text
        assert runner.workers["desk"].camera.posts[0].seat == WHOLE
        still = frames.wait_more(4)
        assert all(p1 == n for n, p1 in still), still
    finally:
        runner.stop()
        store.close()


@pytest.mark.models
@pytest.mark.data
@pytest.mark.timeout(180)
def test_counterwatch_run_reloads_after_a_save(tmp_path, data_dir, models_dir):
    """The command line wires the app to its cameras: the save answers which cameras took it."""
    import httpx

    data = tmp_path / "data"
    cfg_path = site_config(tmp_path / "site.yaml", str(data_dir / DESK), min_duration_s=600)
    _admin(data)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "run.log"
    proc = start_run(cfg_path, data, port, log)
    try:
        wait_healthy(base, proc, log)
        with httpx.Client(base_url=base, timeout=20) as c:
            csrf = c.post("/api/login", json={"username": "ann", "password": PASSWORD}).json()["csrf_token"]
            z = c.get("/api/zones/desk").json()
            z["posts"][0]["seat"] = [[0.1, 0.1], [0.3, 0.1], [0.3, 0.3], [0.1, 0.3]]
            body = {"posts": z["posts"], "waiting": [], "staff_area": [], "base_sha256": z["sha256"]}
            r = c.put("/api/zones/desk", json=body, headers={"X-CSRF-Token": csrf})
            assert r.status_code == 200 and r.json()["reloaded"] == ["desk"], r.text
        deadline = time.time() + 30
        while "zones reloaded" not in log.read_text() and time.time() < deadline:
            time.sleep(0.5)
        assert "camera desk: zones reloaded" in log.read_text(), log.read_text()[-2000:]
    finally:
        assert stop_run(proc) == 0, log.read_text()[-2000:]
