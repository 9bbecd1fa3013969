"""A truncated or corrupt recording: `analyze` exits non-zero with one `error:` line naming the file,
and no native FFmpeg/OpenCV line leaks onto stderr."""

from __future__ import annotations

import os
import re

import pytest

from tests.faults.helpers import FAULT_CONFIG, cli

SUMMARY = re.compile(r"^\d+ of \d+ file\(s\) failed: ")
OUR_LOG = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (DEBUG|INFO|WARNING|ERROR) pipeline\.")  # our logging format


@pytest.mark.parametrize("kind", ["truncated", "corrupt"])
def test_bad_file_fails_with_one_error_line(tmp_path, demo_clip, models_dir, kind):
    cfg = tmp_path / "site.yaml"
    cfg.write_text(FAULT_CONFIG, encoding="utf-8")
    bad = tmp_path / f"cam5_20261126_100000_{kind}.mov"
    raw = demo_clip.read_bytes()
    bad.write_bytes(raw[: len(raw) // 3] if kind == "truncated" else os.urandom(60_000))
    res = cli("analyze", str(bad), "--config", str(cfg), "--out", str(tmp_path / "out"), "--no-progress")
    assert res.returncode != 0
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    errors = [x for x in lines if x.startswith("error: ")]
    assert len(errors) == 1 and str(bad) in errors[0], res.stderr
    native = [x for x in lines if not (x.startswith("error: ") or SUMMARY.match(x) or OUR_LOG.match(x))]
    assert native == [], res.stderr  # e.g. "[mov,mp4,m4a,...] moov atom not found", "[ WARN:0@1.2] ..."
