"""End-to-end `counterwatch analyze` on real footage, and bad input handling."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
DEMO_CFG = PROJECT / "configs" / "demo.yaml"


def cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=PROJECT, env={**os.environ, **(env or {})})


def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=codec_name,pix_fmt:format=duration", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, demo_clip, models_dir):
    out = tmp_path_factory.mktemp("demo")
    res = cli("analyze", str(demo_clip), "--config", str(DEMO_CFG), "--out", str(out), "--camera", "cam5",
              "--start", "2026-11-26T10:02:58", "--no-progress")
    assert res.returncode == 0, res.stderr[-3000:]
    return out, res


def test_analyze_writes_events_db_and_h264_clips(demo_run):
    out, res = demo_run
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert events, res.stdout
    for key in ("event_id", "rule_id", "article", "camera_id", "post_id", "start_s", "end_s", "severity",
                "clip", "snapshot", "details"):
        assert key in events[0]
    rules = {e["rule_id"] for e in events}
    # station 4 stays vacant for the whole clip
    assert any(e["rule_id"] == "post.unattended" and e["post_id"] == "P4" for e in events), rules
    assert "rule" in res.stdout and "total:" in res.stdout  # the summary table
    db = sqlite3.connect(out / "counterwatch.db")
    assert db.execute("select count(*) from events").fetchone()[0] >= len(events)
    ev = next(e for e in events if e["rule_id"] == "post.unattended")
    clip = out / ev["clip"]
    probe = ffprobe(clip)
    assert probe["streams"][0]["codec_name"] == "h264"
    assert probe["streams"][0]["pix_fmt"] == "yuv420p"
    # pre-roll (3 s, but the event starts 5 s into the clip) + event + post-roll (3 s, cut by the end of file)
    expected = min(3.0, ev["start_s"]) + (ev["end_s"] - ev["start_s"])
    assert expected - 1.0 <= float(probe["format"]["duration"]) <= expected + 3.0 + 1.0
    assert (out / ev["snapshot"]).stat().st_size > 10_000
    status = db.execute("select status from clips where event_id=?", (ev["event_id"],)).fetchone()[0]
    assert status in ("ready", "partial")
    presence = db.execute("select count(*) from presence where post_id='P1'").fetchone()[0]
    assert presence >= 1


def test_bad_config_field_is_one_line_error(tmp_path, demo_clip):
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEMO_CFG.read_text().replace("pre_roll_s: 3", "pre_roll: 3"))
    res = cli("analyze", str(demo_clip), "--config", str(bad), "--out", str(tmp_path / "o"))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert f"{bad}: analysis field 'pre_roll'" in res.stderr.strip().splitlines()[-1]


def test_missing_model_names_file_and_fix(tmp_path, demo_clip):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(DEMO_CFG.read_text().replace("counterwatch_phone.onnx", "no_such_model.onnx"))
    res = cli("analyze", str(demo_clip), "--config", str(cfg), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "no_such_model.onnx" in res.stderr and "models fetch" in res.stderr


def test_unwritable_output_folder(tmp_path, demo_clip):
    target = tmp_path / "file-not-dir"
    target.write_text("x")
    res = cli("analyze", str(demo_clip), "--config", str(DEMO_CFG), "--out", str(target / "sub"))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert str(target / "sub") in res.stderr


def test_broken_files_are_named_and_the_rest_goes_on(tmp_path, demo_clip, models_dir):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(os.urandom(50_000))
    truncated = tmp_path / "truncated.mov"
    truncated.write_bytes(demo_clip.read_bytes()[:150_000])
    good = tmp_path / "cam5_20261126_100258.mov"
    shutil.copyfile(demo_clip, good)
    out = tmp_path / "out"
    res = cli("analyze", str(garbage), str(truncated), str(good), "--config", str(DEMO_CFG), "--out", str(out),
              "--no-progress", "--fps", "1")
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert "garbage.mp4" in res.stderr
    assert f"{good}:" in res.stdout  # the good file was analysed after the broken ones
    assert (out / "events.jsonl").read_text().strip()


def test_sigkill_mid_run_keeps_printed_events(tmp_path, demo_clip, models_dir):
    out = tmp_path / "out"
    clips = []
    for i in range(3):  # a longer run so there is time to kill it mid-way
        p = tmp_path / f"cam5_20261126_10{i}000.mov"
        shutil.copyfile(demo_clip, p)
        clips.append(str(p))
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "analyze", *clips, "--config", str(DEMO_CFG),
                             "--out", str(out), "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, cwd=PROJECT)
    printed: list[str] = []
    deadline = time.time() + 300
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("event "):
            printed.append(line.split()[1])
            if len(printed) >= 3:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert len(printed) >= 3, "the run ended before three events were printed"
    db = sqlite3.connect(out / "counterwatch.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {r[0] for r in db.execute("select event_id from events")}
    assert set(printed) <= stored
