"""`counterwatch batch` end to end on real clips: parallel, idempotent, resumable; bad files named and skipped.

The recordings folder is built in tmp_path from the dev footage (copied at test
time, named by the cameras' filename_pattern) plus a file of random bytes, a
truncated copy of a real clip, and a recording of another day.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pipeline.cli import main
from pipeline.events.schema import AnalysisRow, EventRow, PresenceRow
from pipeline.events.store import EventStore

DAY = "2026-11-26"
CLIPS = {
    "cam1_20261126_090000.mov": "dev/office_cctv_unattended_seat/pgplarosa/resized_cctv_full_fast_cut.mov",
    "cam2_20261126_093000.mp4": "dev/service_counter/bernardas78__PoseDet/ALDI.mp4",
}
CONFIG = """
site:
  id: hall1
  name: 示范客服大厅
  opening_hours:
    - {days: [mon, tue, wed, thu, fri, sat, sun], start: "08:30", end: "17:30"}
cameras:
  - id: cam1
    filename_pattern: cam1_%Y%m%d_%H%M%S
    posts:
      - {id: P1, name: 1号窗口, seat: [[0.0, 0.3], [0.5, 0.3], [0.5, 1.0], [0.0, 1.0]]}
      - {id: P2, name: 2号窗口, seat: [[0.5, 0.3], [1.0, 0.3], [1.0, 1.0], [0.5, 1.0]]}
  - id: cam2
    filename_pattern: cam2_%Y%m%d_%H%M%S
    posts:
      - {id: P3, name: 3号窗口, seat: [[0.0, 0.0], [1.0, 0.0], [1.0, 0.6], [0.0, 0.6]]}
rules:
  post.unattended: {min_duration_s: 3, clear_after_s: 2}
"""


def _counts(data: Path) -> dict[str, int]:
    store = EventStore.for_dir(data)
    try:
        with store.session() as s:
            return {
                "events": s.scalar(select(func.count()).select_from(EventRow).where(
                    EventRow.source == "batch", EventRow.superseded_at.is_(None))),
                "presence": s.scalar(select(func.count()).select_from(PresenceRow)),
                "done": s.scalar(select(func.count()).select_from(AnalysisRow).where(AnalysisRow.status == "done")),
                "failed": s.scalar(select(func.count()).select_from(AnalysisRow)
                                   .where(AnalysisRow.status == "failed")),
            }
    finally:
        store.close()


def _event_keys(data: Path) -> list[tuple]:
    store = EventStore.for_dir(data)
    try:
        with store.session() as s:
            rows = s.execute(select(EventRow.camera_id, EventRow.rule_id, EventRow.post_id, EventRow.start_s,
                                    EventRow.end_s, EventRow.wall_start, EventRow.source)
                             .where(EventRow.superseded_at.is_(None)))  # superseded ones are kept, not current
            return sorted((c, r, p, round(a, 1), round(b or -1, 1), w, src) for c, r, p, a, b, w, src in rows)
    finally:
        store.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory, data_dir, models_dir):
    root = tmp_path_factory.mktemp("batch")
    rec = root / "recordings" / DAY
    rec.mkdir(parents=True)
    for name, src in CLIPS.items():
        shutil.copyfile(data_dir / src, rec / name)
    (rec / "cam1_20261126_120000.mp4").write_bytes(bytes(range(256)) * 250)  # not a video at all (a fixed pattern: random bytes sometimes parse as a container)
    aldi = (data_dir / CLIPS["cam2_20261126_093000.mp4"]).read_bytes()
    (rec / "cam2_20261126_150000.mp4").write_bytes(aldi[: len(aldi) // 12])  # truncated mid-file
    other = root / "recordings" / "2026-11-25"
    other.mkdir()
    (other / "cam1_20261125_090000.mp4").write_bytes(b"another day")
    cfg = root / "site.yaml"
    cfg.write_text(CONFIG, encoding="utf-8")
    os.environ["COUNTERWATCH_MODELS_DIR"] = str(models_dir)
    return root


def _batch(site: Path, data: Path, *extra: str) -> int:
    return main(["batch", "--date", DAY, "--recordings", str(site / "recordings"), "--config",
                 str(site / "site.yaml"), "--data", str(data), "--fps", "1", "--no-progress", *extra])


@pytest.fixture(scope="module")
def first_run(site):
    import io
    from contextlib import redirect_stdout

    data = site / "data"
    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = _batch(site, data, "--workers", "2")
    return data, rc, buf.getvalue()


def test_batch_analyses_the_day_and_names_bad_files(site, first_run):
    data, rc, out = first_run
    print(out)
    assert rc == 1  # a file failed: cron sees it
    assert "4 recording(s): 2 analysed, 0 skipped (already done), 2 failed" in out
    assert f"FAILED {site / 'recordings' / DAY / 'cam1_20261126_120000.mp4'}" in out
    assert "cannot be opened as video" in out
    assert "cam2_20261126_150000.mp4" in out and "truncated" in out
    assert "cam1_20261125_090000" not in out  # another day's recording is not touched
    assert "x real time" in out
    counts = _counts(data)
    assert counts["done"] == 2 and counts["failed"] == 2
    assert counts["events"] > 0 and counts["presence"] > 0
    keys = _event_keys(data)
    assert {k[6] for k in keys} == {"batch"}
    assert {k[5].date() for k in keys} == {dt.date(2026, 11, 26)}  # wall clock from the file names
    assert {k[0] for k in keys} <= {"cam1", "cam2"}


def test_batch_rerun_changes_nothing(site, first_run):
    data, _, _ = first_run
    before, keys = _counts(data), _event_keys(data)
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = _batch(site, data, "--workers", "2")
    out = buf.getvalue()
    assert rc == 0
    assert "0 analysed, 4 skipped (already done), 0 failed" in out
    assert "nothing new to analyse" in out
    assert _counts(data) == before
    assert _event_keys(data) == keys


def test_interrupted_run_is_redone_without_duplicates(site, first_run):
    """A file left `running` (the batch was killed) is analysed again; its partial rows are reconciled.

    The half-written event of the killed run is either found again (same id, closed) or
    superseded: never deleted, never left open, never counted twice.
    """
    data, _, _ = first_run
    before = _counts(data)
    target = str(site / "recordings" / DAY / "cam1_20261126_090000.mov")
    store = EventStore.for_dir(data)
    with store.session() as s, s.begin():
        row = s.scalars(select(AnalysisRow).where(AnalysisRow.path.like("%cam1_20261126_090000.mov"))).one()
        row.status = "running"
        s.add(EventRow(event_id="stale000partial", site_id="hall1", source="batch", camera_id="cam1", post_id="P1",
                       rule_id="post.unattended", article="第二十条", severity="medium", state="start",
                       start_s=1.0, recording=target, wall_start=dt.datetime(2026, 11, 26, 9, 0, 1)))
    store.close()
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = _batch(site, data, "--workers", "1")
    out = buf.getvalue()
    assert rc == 0, out
    assert "1 analysed, 3 skipped" in out
    assert _counts(data) == before
    store = EventStore.for_dir(data)
    try:
        stale = store.get_event("stale000partial")
    finally:
        store.close()
    assert stale is not None and stale["state"] != "start"
    assert stale["superseded"] or stale["state"] == "end"
    lines = (data / "events.jsonl").read_text(encoding="utf-8").splitlines()
    ids = [json.loads(line)["event_id"] for line in lines]
    assert len(ids) == len(set(ids)) == before["events"]  # rewritten from the database: no stale line


def _all_ids(data: Path) -> set[str]:
    store = EventStore.for_dir(data)
    try:
        with store.session() as s:
            return set(s.scalars(select(EventRow.event_id)))
    finally:
        store.close()


def test_ray_executor_gives_the_same_events(site, first_run, tmp_path):
    if os.environ.get("COUNTERWATCH_REQUIRE_MODELS") == "1":
        import ray  # noqa: F401  (CI installs the ray extra: a missing install fails, never skips)
    else:
        pytest.importorskip("ray", reason="Ray is an optional extra: pip install counterwatch[ray]")
    data, _, _ = first_run
    ray_data = tmp_path / "ray-data"
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = _batch(site, ray_data, "--workers", "2", "--executor", "ray")
    out = buf.getvalue()
    assert rc == 1, out
    assert "2 analysed" in out and "2 failed" in out
    strip = [k[:6] for k in _event_keys(data)]
    assert [k[:6] for k in _event_keys(ray_data)] == strip


def test_nightly_reports_the_analysed_day(site, first_run):
    """nightly = batch (nothing new here) + the report of the real analysed clips into OUT/DATE/."""
    data, _, _ = first_run
    before = _counts(data)
    out = site / "reports"
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = main(["nightly", "--date", DAY, "--recordings", str(site / "recordings"), "--config",
                   str(site / "site.yaml"), "--data", str(data), "--out", str(out), "--fps", "1", "--no-progress",
                   "--no-pdf"])
    text = buf.getvalue()
    assert rc == 0, text
    assert _counts(data) == before
    html = (out / DAY / "report.html").read_text(encoding="utf-8")
    assert (out / DAY / "report.xlsx").is_file()
    assert "1号窗口" in html and "3号窗口" in html and "第五十一条" in html
    assert f"{before['events']} event(s) from batch" in text
