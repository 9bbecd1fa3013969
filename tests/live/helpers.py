"""Shared by the live tests: a `counterwatch run` process on loopback and logged-in clients."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from pipeline.events.store import EventStore
from pipeline.web.auth import add_user

USER, PASSWORD = "watcher", "watcher-password"
DESK = "dev/desk_videos/lintasartasolutions__cctv_region_counter/Office_CCTV.mp4"  # 440x360, 25 fps


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def site_config(path: Path, source: str, *, site_id: str = "hall-live", min_duration_s: float = 8,
                extra: dict | None = None) -> Path:
    """One camera with a post whose seat is an empty corner: post.unattended fires after
    min_duration_s of real frames (late enough for the test's clients to have subscribed)."""
    cfg = {
        "version": 1,
        "site": {"id": site_id, "name": "测试厅", "opening_hours": [
            {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00"}]},
        "models": {"detector": {"type": "yolo_onnx", "model": "yolo11n_int8.onnx"}, "pose": {"type": "none"},
                   "phone_cascade": {"enabled": False}},
        "analysis": {"fps": 2, "pre_roll_s": 1, "post_roll_s": 1},
        "cameras": [{"id": "desk", "name": "前台", "source": source, "stall_timeout_s": 2,
                     "posts": [{"id": "P1", "name": "1号窗口",
                                "seat": [[0.0, 0.0], [0.06, 0.0], [0.06, 0.06], [0.0, 0.06]]}]}],
        "rules": {"post.unattended": {"min_duration_s": min_duration_s, "clear_after_s": 2, "update_every_s": 1,
                                      "active": "always"}},
    }
    cfg.update(extra or {})
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return path


def make_user(data: Path) -> None:
    store = EventStore.for_dir(data)
    add_user(store, USER, "viewer", PASSWORD)
    store.close()


def start_run(config: Path, data: Path, port: int, log: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "pipeline.cli", "run", "--config", str(config), "--data", str(data),
           "--port", str(port), "--workers", "1", *extra]
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)


def wait_healthy(base: str, proc: subprocess.Popen, log: Path, timeout_s: float = 40) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"counterwatch run exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"web app did not come up:\n{log.read_text()[-3000:]}")


def login(base: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=10)
    c.post("/api/login", json={"username": USER, "password": PASSWORD}).raise_for_status()
    return c


def stop_run(proc: subprocess.Popen, timeout_s: float = 40) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # the main process only: its clip encoders must finish
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
            raise
    return proc.returncode
