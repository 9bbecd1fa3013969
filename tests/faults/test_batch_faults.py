"""Batch faults: kill -9 mid-run then resume, a re-analysis after a zone edit, a missing model then restored.

Reviews are the audit trail: no re-analysis may delete one. An installation error (here a
missing model) is not a failure of the recording: it is not remembered, the run exits
non-zero, and the next run analyses the file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults.helpers import (
    FAULT_CONFIG,
    PROJECT,
    add_reviews,
    assert_clean,
    cli,
    db,
    kill_when,
    looped,
    open_events,
)

DAY = "2026-11-26"
CONFIG = FAULT_CONFIG


@pytest.fixture(scope="module")
def site(tmp_path_factory, demo_clip, models_dir):
    root = tmp_path_factory.mktemp("faults-batch")
    rec = root / "recordings" / DAY
    rec.mkdir(parents=True)
    looped(demo_clip, rec / "cam5_20261126_100000.mov", 3)
    (root / "site.yaml").write_text(CONFIG, encoding="utf-8")
    return root


def _args(site: Path, data: Path, cfg: str = "site.yaml") -> list[str]:
    return ["batch", "--date", DAY, "--recordings", str(site / "recordings"), "--config", str(site / cfg),
            "--data", str(data), "--fps", "1", "--workers", "1", "--no-progress"]


def test_kill9_batch_then_resume_keeps_reviews(site, tmp_path):
    data = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", *_args(site, data)], cwd=PROJECT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env=os.environ.copy())
    kill_when(proc, data, lambda d: open_events(d) > 0)  # the worker process dies with the batch
    reviews = add_reviews(data)
    res = cli(*_args(site, data))
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "1 analysed" in res.stdout
    keys = assert_clean(data, reviews)
    assert keys
    res = cli(*_args(site, data))  # done: skipped, nothing changes
    assert res.returncode == 0 and "1 skipped" in res.stdout
    assert assert_clean(data, reviews) == keys


def test_zone_edit_reanalysis_keeps_reviews(site, tmp_path):
    data = tmp_path / "data"
    res = cli(*_args(site, data))
    assert res.returncode == 0, res.stdout[-2000:]
    reviews = add_reviews(data)
    before = {r[0]: r[1:] for r in db(data).execute("select event_id, camera_id, post_id, rule_id from events")}
    # a zone edit changes the config version: the recording is analysed again
    edited = CONFIG.replace("[0.96, 0.45], [0.96, 0.76]", "[0.95, 0.45], [0.95, 0.76]")
    (site / "edited.yaml").write_text(edited, encoding="utf-8")
    res = cli(*_args(site, data, "edited.yaml"))
    assert res.returncode == 0, res.stdout[-2000:]
    assert "1 analysed" in res.stdout
    assert_clean(data, reviews)
    con = db(data)
    after = {r[0]: r[1:] for r in con.execute("select event_id, camera_id, post_id, rule_id from events")}
    assert set(before) <= set(after)  # nothing deleted
    kept = {r[0] for r in con.execute("select event_id from events where superseded_at is null")}
    assert kept & set(reviews), "no reviewed incident was found again under its id"


def test_missing_model_is_not_a_failed_recording(site, tmp_path, models_dir):
    data = tmp_path / "data"
    empty = tmp_path / "no-models"
    empty.mkdir()
    res = cli(*_args(site, data), env={"COUNTERWATCH_MODELS_DIR": str(empty)})
    assert res.returncode != 0
    assert "installation error" in res.stdout
    assert "yolov8n_fp32_640.onnx" in res.stdout + res.stderr
    assert db(data).execute("select count(*) from analyses").fetchone()[0] == 0  # not remembered
    res = cli(*_args(site, data), env={"COUNTERWATCH_MODELS_DIR": str(models_dir)})  # model restored
    assert res.returncode == 0, res.stdout[-2000:]
    assert "1 analysed, 0 skipped" in res.stdout
    assert db(data).execute("select status from analyses").fetchall() == [("done",)]
