"""Finding a day's recordings, the config hash of the ledger, and the clear errors of `batch`."""

from __future__ import annotations

import datetime as dt
import os
import sys

import pytest

from pipeline.batch.discover import discover
from pipeline.batch.ledger import config_version
from pipeline.batch.run import _import_ray, run_batch
from pipeline.core.errors import ConfigError, CounterwatchError, SourceError
from pipeline.settings import parse_config

CFG = parse_config("""
cameras:
  - id: cam1
    filename_pattern: cam1_%Y%m%d_%H%M%S
  - id: cam2
  - id: cam3
    enabled: false
    filename_pattern: cam3_%Y%m%d_%H%M%S
""")
DAY = dt.date(2026, 11, 26)


def _touch(path, when: dt.datetime | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    if when is not None:
        os.utime(path, (when.timestamp(), when.timestamp()))


def test_discover_by_pattern_and_by_folder(tmp_path):
    _touch(tmp_path / "a" / "cam1_20261126_090000.mp4")
    _touch(tmp_path / "a" / "cam1_20261126_140000.MOV")
    _touch(tmp_path / "a" / "cam1_20261125_090000.mp4")  # another day
    _touch(tmp_path / "a" / "cam3_20261126_090000.mp4")  # disabled camera
    _touch(tmp_path / "cam2" / "clip.mkv", dt.datetime(2026, 11, 26, 10, 0))  # no pattern: folder + mtime
    _touch(tmp_path / "cam2" / "old.mkv", dt.datetime(2026, 11, 24, 10, 0))
    _touch(tmp_path / "misc" / "stranger.mp4")
    _touch(tmp_path / "a" / "notes.txt")
    found = discover(tmp_path, CFG, DAY)
    got = [(r.camera_id, r.path.name, r.start) for r in found.recordings]
    assert got == [
        ("cam1", "cam1_20261126_090000.mp4", dt.datetime(2026, 11, 26, 9)),
        ("cam1", "cam1_20261126_140000.MOV", dt.datetime(2026, 11, 26, 14)),
        ("cam2", "clip.mkv", dt.datetime(2026, 11, 26, 10)),  # unreadable video: start = mtime
    ]
    assert sorted(p.name for p in found.unmatched) == ["cam3_20261126_090000.mp4", "stranger.mp4"]


def test_missing_recordings_folder_is_named(tmp_path):
    with pytest.raises(SourceError, match="nowhere: recordings folder not found"):
        discover(tmp_path / "nowhere", CFG, DAY)


def test_config_version_tracks_what_shapes_the_analysis():
    a = config_version(CFG)
    assert a == config_version(CFG.model_dump(mode="json", by_alias=True))
    assert a != config_version(CFG, fps=1.0)
    other = parse_config("cameras: [{id: cam1, filename_pattern: 'cam1_%Y%m%d_%H%M%S'}]")
    assert a != config_version(other)


def test_missing_ray_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(CounterwatchError, match=r"pip install counterwatch\[ray\]"):
        _import_ray()


def test_bad_executor_and_fps_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="--executor: unknown executor 'dask'"):
        run_batch(CFG, DAY, tmp_path, tmp_path / "d", executor="dask")
    with pytest.raises(ConfigError, match="--fps"):
        run_batch(CFG, DAY, tmp_path, tmp_path / "d", fps=0)


def test_empty_day_analyses_nothing(tmp_path):
    (tmp_path / "rec").mkdir()
    summary = run_batch(CFG, DAY, tmp_path / "rec", tmp_path / "data", progress=False)
    assert summary.found == 0 and summary.outcomes == []
    assert "nothing new to analyse" in summary.lines()[-1]
