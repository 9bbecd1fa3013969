import datetime as dt
import json

from pipeline.core.types import Event
from pipeline.events.chain import Made
from pipeline.events.sinks import JsonlSink, PresenceRecorder
from pipeline.events.store import SCHEMA_VERSION, EventStore
from tests.builders import facts, post_facts


def ev(state="start", end=None, **kw):
    base = dict(event_id="e1", rule_id="post.unattended", article="第二十条", source_id="cam1", post_id="P1",
                track_ids=(), state=state, severity="medium", start_s=10.0, end_s=end,
                details={"duration_s": 5.0}, wall_start=dt.datetime(2026, 11, 26, 9, 0).timestamp())
    base.update(kw)
    return Event(**base)


def test_event_lifecycle_clip_and_review(tmp_path):
    store = EventStore.for_dir(tmp_path)
    assert store.schema_version() == SCHEMA_VERSION
    store.record_event(ev())
    got = store.get_event("e1")
    assert got["state"] == "start" and got["clip_status"] == "pending" and got["end_s"] is None
    assert got["wall_start"] == "2026-11-26T09:00:00"
    store.record_event(ev("end", 40.0, severity="high"))
    got = store.get_event("e1")
    assert (got["state"], got["end_s"], got["severity"]) == ("end", 40.0, "high")
    assert got["wall_end"] == "2026-11-26T09:00:30"
    store.set_evidence("e1", clip="clips/e1.mp4", status="ready", duration_s=36.0)
    assert store.get_event("e1")["clip"] == "clips/e1.mp4"
    store.add_review("e1", "dismissed", "false_alarm", "ann", "reflection")
    store.add_review("e1", "confirmed", "corrected", "bob")
    assert store.get_event("e1")["verdict"] == "confirmed"
    assert [r["reviewer"] for r in store.reviews("e1")] == ["ann", "bob"]  # audit log keeps both


def test_reopen_keeps_data_and_marks_unfinished_clips_partial(tmp_path):
    s1 = EventStore.for_dir(tmp_path)
    s1.record_event(ev())
    s1.record_event(ev(event_id="e2"))
    s1.set_evidence("e2", status="ready")
    s1.close()
    s2 = EventStore.for_dir(tmp_path)  # a second open runs no migration again
    assert s2.count_events() == 2
    assert s2.mark_unfinished_clips_partial() == 1
    assert s2.get_event("e1")["clip_status"] == "partial"
    assert s2.get_event("e2")["clip_status"] == "ready"


def test_jsonl_has_only_finished_events(tmp_path):
    sink = JsonlSink(tmp_path / "events.jsonl")
    sink.on_event(ev(), Made(None, None, evidence={"clip": "clips/e1.mp4"}))
    sink.on_event(ev("end", 40.0), Made(None, None, evidence={"clip": "clips/e1.mp4"}))
    sink.close()
    lines = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert len(lines) == 1 and lines[0]["end_s"] == 40.0 and lines[0]["clip"] == "clips/e1.mp4"
    assert lines[0]["article"] == "第二十条" and lines[0]["article_en"].startswith("Article 20: ")


def test_presence_intervals_with_outage(tmp_path):
    store = EventStore.for_dir(tmp_path)
    t0 = dt.datetime(2026, 11, 26, 9, 0)
    rec = PresenceRecorder(store, camera_id="cam1", site_id="s", source="batch",
                           wall_at=lambda t: t0 + dt.timedelta(seconds=t))
    for t in range(0, 10):
        rec.observe(facts(t, posts=post_facts(staff=(1,) if t < 5 else ())))
    for t in range(10, 14):
        rec.observe(facts(t, posts={}, online=False))
    rec.flush(14)
    with store.session() as s:
        rows = s.execute(__import__("sqlalchemy").text(
            "select state, start_s, end_s from presence order by start_s")).all()
    assert [r[0] for r in rows] == ["present", "absent", "unknown"]
    assert rows[0][1:] == (0.0, 5.0) and rows[1][1:] == (5.0, 10.0) and rows[2][1:] == (10.0, 14.0)
