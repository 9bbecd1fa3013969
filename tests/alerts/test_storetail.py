"""Events written into the store by another process reach the alert bus of `serve`."""

import datetime as dt

from pipeline.alerts.bus import AlertBus
from pipeline.alerts.storetail import StoreTail
from pipeline.core.types import Event
from pipeline.events.store import EventStore


def ev(eid, state="start", end=None):
    return Event(event_id=eid, rule_id="post.unattended", article="第二十条", source_id="cam5", post_id="P3",
                 track_ids=(), state=state, severity="medium", start_s=0.0, end_s=end,
                 wall_start=dt.datetime(2026, 11, 26, 9, 0).timestamp())


def test_new_and_changed_events_are_published_once(tmp_path):
    writer = EventStore.for_dir(tmp_path)
    writer.record_event(ev("old"))  # before serve started: not replayed
    reader = EventStore.for_dir(tmp_path)
    bus = AlertBus()
    sub = bus.subscribe()
    tail = StoreTail(reader, bus)
    assert tail.poll() == 0
    writer.record_event(ev("e1"))
    writer.set_evidence("e1", clip="clips/e1.mp4", snapshot="snapshots/e1.jpg", status="ready")
    assert tail.poll() == 1
    alert = sub.get(timeout_s=1)
    assert (alert["event_id"], alert["state"], alert["article"]) == ("e1", "start", "第二十条")
    assert alert["article_en"].startswith("Article 20") and alert["clip_url"].endswith("/media/clips/e1.mp4")
    assert tail.poll() == 0  # the overlap window never repeats an alert
    writer.record_event(ev("e1", "end", 30.0))
    assert tail.poll() == 1
    assert sub.get(timeout_s=1)["state"] == "end"
    assert sub.get(timeout_s=0.1) is None
