"""kill -9 of `analyze` at several points, then a re-run over the same data folder.

After the re-run: no open event, no orphan .part.mp4, no clip row pointing at a missing
file, no duplicate incident, every review kept, and the same incidents as a clean
analysis of the same file. A further re-run (no crash) changes nothing.
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
    kill_when,
    looped,
    open_events,
    part_files,
)


@pytest.fixture(scope="module")
def case(tmp_path_factory, demo_clip, models_dir) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("faults-analyze")
    (root / "site.yaml").write_text(FAULT_CONFIG, encoding="utf-8")
    clip = looped(demo_clip, root / "cam5_20261126_100000.mov", 3)
    return clip, ["--config", str(root / "site.yaml"), "--camera", "cam5", "--no-progress"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, case):
    clip, args = case
    out = tmp_path_factory.mktemp("reference")
    res = cli("analyze", str(clip), "--out", str(out), *args)
    assert res.returncode == 0, res.stderr[-2000:]
    keys = assert_clean(out)
    assert keys, "the clean run found no incident"
    return keys


def _an_event_open(data) -> bool:
    return open_events(data) > 0


def _clip_being_written(data) -> bool:
    return open_events(data) > 0 and bool(part_files(data))


@pytest.mark.parametrize("point", [_an_event_open, _clip_being_written], ids=["event-open", "clip-writing"])
def test_kill9_analyze_then_rerun(tmp_path, case, reference, point):
    clip, args = case
    out = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "analyze", str(clip), "--out", str(out), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=PROJECT,
                            start_new_session=True, env=os.environ.copy())
    kill_when(proc, out, point)
    assert open_events(out) > 0  # the crash really left an incident open
    reviews = add_reviews(out)  # a supervisor reviews what the crashed run stored
    res = cli("analyze", str(clip), "--out", str(out), *args)
    assert res.returncode == 0, res.stderr[-2000:]
    keys = assert_clean(out, reviews)
    assert keys == reference  # the same incidents as a clean run, each once
    if point is _an_event_open:
        again = cli("analyze", str(clip), "--out", str(out), *args)
        assert again.returncode == 0, again.stderr[-2000:]
        assert assert_clean(out, reviews) == keys
