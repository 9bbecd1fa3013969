"""Shared checks of the fault suite: what a data folder must look like after any crash and re-run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
DEMO_CFG = PROJECT / "configs" / "demo.yaml"
# The demo camera's posts with the detector alone (no pose, no phone pass): the fault tests
# need real incidents on real footage, not every model, and run on small CI machines.
FAULT_CONFIG = """
site:
  id: hall1
  opening_hours:
    - {days: [mon, tue, wed, thu, fri, sat, sun], start: "08:30", end: "17:30"}
models:
  detector: {type: yolo_onnx, model: yolov8n_fp32_640.onnx, conf_threshold: 0.3}
  pose: {type: none}
  phone_cascade: {enabled: false}
  post_crops: false
analysis: {fps: 1, pre_roll_s: 2, post_roll_s: 2}
cameras:
  - id: cam5
    filename_pattern: cam5_%Y%m%d_%H%M%S
    posts:
      - {id: P1, seat: [[0.79, 0.45], [0.96, 0.45], [0.96, 0.76], [0.79, 0.76]]}
      - {id: P2, seat: [[0.665, 0.22], [0.78, 0.22], [0.78, 0.43], [0.665, 0.43]]}
      - {id: P3, seat: [[0.57, 0.06], [0.66, 0.06], [0.66, 0.31], [0.57, 0.31]]}
      - {id: P4, seat: [[0.43, 0.04], [0.55, 0.04], [0.55, 0.22], [0.43, 0.22]]}
rules:
  post.unattended: {min_duration_s: 4, clear_after_s: 2}
"""


def cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=PROJECT, env={**os.environ, **(env or {})})


def looped(src: Path, dst: Path, times: int) -> Path:
    """A longer recording: the clip played `times` times (stream copy, no re-encode)."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", str(times - 1), "-i", str(src), "-c", "copy",
                    str(dst)], check=True)
    return dst


def db(data: Path) -> sqlite3.Connection:
    return sqlite3.connect(data / "counterwatch.db", timeout=30)


def kill_when(proc: subprocess.Popen, data: Path, ready, timeout_s: float = 300) -> None:
    """SIGKILL the process group of `proc` as soon as `ready(data)` holds."""
    deadline = time.time() + timeout_s
    try:
        while time.time() < deadline and proc.poll() is None:
            try:
                if (data / "counterwatch.db").exists() and ready(data):
                    break
            except sqlite3.Error:
                pass
            time.sleep(0.2)
        assert proc.poll() is None, "the run ended before it could be killed"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=60)


def open_events(data: Path) -> int:
    return db(data).execute("select count(*) from events where state in ('start', 'update')").fetchone()[0]


def part_files(data: Path) -> list[Path]:
    return sorted((data / "clips").glob("*.part.mp4"))  # pathlib's * matches dot files too


def add_reviews(data: Path) -> dict[str, int]:
    """A verdict on every stored event (two on the first one); returns reviews per event."""
    con = db(data)
    ids = [r[0] for r in con.execute("select event_id from events order by start_s")]
    for i, eid in enumerate(ids):
        for n in range(2 if i == 0 else 1):
            con.execute("insert into reviews (event_id, verdict, reason, reviewer, note, at) values "
                        "(?, ?, '', 'sup', '', '2026-11-26 18:00:00')", (eid, "confirmed" if n == 0 else "dismissed"))
    con.commit()
    return dict(con.execute("select event_id, count(*) from reviews group by event_id").fetchall())


def assert_clean(data: Path, reviews: dict[str, int] | None = None) -> list[tuple]:
    """No open event, no orphan file, no clip row without its file, no duplicate, every review kept.

    Returns the current (not superseded) events as (camera, post, rule, start_s) keys.
    """
    con = db(data)
    assert open_events(data) == 0
    assert part_files(data) == []
    for eid, clip, status in con.execute("select event_id, clip_path, status from clips"):
        assert status != "pending", eid
        if clip is not None:
            assert (data / clip).is_file(), (eid, clip, status)
    keys = [tuple(r) for r in con.execute("select camera_id, post_id, rule_id, round(start_s, 1) from events "
                                          "where superseded_at is null")]
    dup = [k for k, n in Counter(keys).items() if n > 1]
    assert not dup, dup
    if reviews is not None:
        now = dict(con.execute("select event_id, count(*) from reviews group by event_id").fetchall())
        assert now == reviews  # no review lost, none moved
        stored = {r[0] for r in con.execute("select event_id from events")}
        assert set(reviews) <= stored
    current = {r[0] for r in con.execute("select event_id from events where superseded_at is null "
                                         "and state in ('end', 'interrupted')")}
    lines = [json.loads(x)["event_id"] for x in (data / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(lines) == len(set(lines)), "duplicate lines in events.jsonl"
    assert set(lines) == current
    return sorted(keys)
