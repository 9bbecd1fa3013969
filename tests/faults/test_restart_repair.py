"""What a start does with what a crash left: open events closed as interrupted, orphan .part files
removed, clip rows without their file cleared; a clip still being written (another run's) is left alone."""

from __future__ import annotations

from pipeline.core.types import Event
from pipeline.events.store import EventStore


def _event(store: EventStore, eid: str, camera: str, *, state: str = "start", recording: str | None = None) -> None:
    store.record_event(Event(event_id=eid, rule_id="post.unattended", article="第二十条", source_id=camera,
                             post_id="P1", track_ids=(), state=state, severity="medium", start_s=5.0,
                             end_s=None if state != "end" else 9.0), source="live", recording=recording)


def test_live_start_repairs_only_its_cameras(tmp_path):
    store = EventStore.for_dir(tmp_path)
    clips = tmp_path / "clips"
    clips.mkdir()
    _event(store, "crashed", "cam1")  # left open by a killed run of cam1
    _event(store, "othercam", "cam2")  # cam2 is watched by another process
    _event(store, "fromfile", "cam1", recording="/rec/a.mp4")  # an analyze of a recording, not this run's
    _event(store, "gone", "cam1", state="end")
    store.set_evidence("gone", clip="clips/gone.mp4", status="ready")  # its file was lost
    (clips / ".crashed.k2j3.part.mp4").write_bytes(b"half")
    (clips / ".othercam.x9.part.mp4").write_bytes(b"being written")

    closed = store.close_interrupted(source="live", camera_ids=["cam1"], recorded=False)
    assert closed == ["crashed"]
    fixed = store.repair_evidence(tmp_path)
    assert fixed == {"orphans_removed": 1, "clips_missing": 1}
    assert not (clips / ".crashed.k2j3.part.mp4").exists()
    assert (clips / ".othercam.x9.part.mp4").exists()  # cam2's clip is still pending: not an orphan
    ev = {e["event_id"]: e for e in store.list_events()}
    assert ev["crashed"]["state"] == "interrupted" and ev["crashed"]["clip_status"] == "partial"
    assert ev["othercam"]["state"] == "start" and ev["fromfile"]["state"] == "start"
    assert ev["gone"]["clip"] is None and ev["gone"]["clip_status"] == "missing"
    store.close()
