"""Soak: `counterwatch run` on a long looped recording for COUNTERWATCH_SOAK_S seconds (600 in CI).

Memory (RSS), open files and threads of the run process are printed after the warm-up
and at the end and must stay flat; the run must find as many incidents as `analyze`
of the same file. The recording is the demo clip looped to the soak's length, so the
live run plays it once (stopped just after its end, before a second pass could start
an incident) and analyze reads the very same frames.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.faults.helpers import FAULT_CONFIG, cli, looped
from tests.live.helpers import free_port, start_run, stop_run, wait_healthy

SOAK_S = float(os.environ.get("COUNTERWATCH_SOAK_S", "600"))
CLIP_S = 17.0  # the demo clip

CONFIG = FAULT_CONFIG.replace('start: "08:30", end: "17:30"', 'start: "00:00", end: "24:00"').replace(
    "post.unattended: {min_duration_s: 4, clear_after_s: 2}",
    "post.unattended: {min_duration_s: 4, clear_after_s: 2, active: always}")


def _proc_stats(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    field = {line.split(":")[0]: line.split(":")[1].strip() for line in status.splitlines() if ":" in line}
    return {"rss_mb": int(field["VmRSS"].split()[0]) / 1024, "threads": int(field["Threads"]),
            "open_files": len(os.listdir(f"/proc/{pid}/fd"))}


def _incidents(db: Path) -> Counter:
    con = sqlite3.connect(db)
    return Counter(r for r in con.execute("select post_id, rule_id from events where superseded_at is null"))


@pytest.mark.timeout(int(SOAK_S) + 900)
def test_soak_run_is_flat_and_finds_what_analyze_finds(tmp_path, demo_clip, models_dir):
    loops = max(2, round(SOAK_S / CLIP_S))
    clip = looped(demo_clip, tmp_path / "cam5_20261126_100000.mov", loops)
    cfg = tmp_path / "site.yaml"
    cfg.write_text(CONFIG.replace("filename_pattern: cam5_%Y%m%d_%H%M%S",
                                  f"filename_pattern: cam5_%Y%m%d_%H%M%S\n    source: {clip}"), encoding="utf-8")
    data, port, log = tmp_path / "live", free_port(), tmp_path / "run.log"
    proc = start_run(cfg, data, port, log, "--max-lag-s", "30")
    t0 = time.monotonic()
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, log, timeout_s=120)
        duration = loops * CLIP_S
        time.sleep(min(30.0, duration / 10))  # warm-up: models loaded, first clips written
        start = _proc_stats(proc.pid)
        print(f"soak start ({time.monotonic() - t0:.0f} s): {start}")
        while time.monotonic() - t0 < duration + 2.0:
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(1.0)
        end = _proc_stats(proc.pid)
        print(f"soak end   ({time.monotonic() - t0:.0f} s): {end}")
    finally:
        rc = stop_run(proc)
    assert rc == 0, log.read_text()[-3000:]
    assert end["rss_mb"] <= start["rss_mb"] * 1.25 + 40, (start, end)
    # up to one clip writer (a pipe and a stderr file) per open incident may come and go: 4 posts here
    assert end["open_files"] <= start["open_files"] + 12, (start, end)
    assert end["threads"] <= start["threads"] + 4, (start, end)
    ref = tmp_path / "analyzed"
    res = cli("analyze", str(clip), "--out", str(ref), "--config", str(cfg), "--camera", "cam5", "--no-progress",
              timeout=SOAK_S + 600)
    assert res.returncode == 0, res.stderr[-2000:]
    live, analysed = _incidents(data / "counterwatch.db"), _incidents(ref / "counterwatch.db")
    print(f"incidents: live {sum(live.values())} {dict(live)}; analyze {sum(analysed.values())} {dict(analysed)}")
    assert analysed, "analyze found no incident: the soak compares nothing"
    assert live == analysed
