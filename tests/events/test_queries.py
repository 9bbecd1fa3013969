"""The store's typed queries: latest verdict, one statement per list, superseded events hidden."""

import datetime as dt
from contextlib import contextmanager

import pytest
from sqlalchemy import event, update

from pipeline.core.types import Event
from pipeline.events import queries, serialize
from pipeline.events.schema import EventRow, ReviewRow
from pipeline.events.store import EventStore

WALL = dt.datetime(2026, 11, 26, 9, 0)


def ev(event_id="e1", state="end", start=10.0, end=40.0, **kw):
    base = dict(event_id=event_id, rule_id="post.unattended", article="第二十条", source_id="cam1", post_id="P1",
                track_ids=(3,), state=state, severity="medium", start_s=start, end_s=end,
                details={"duration_s": 5.0}, wall_start=(WALL + dt.timedelta(seconds=start)).timestamp())
    base.update(kw)
    return Event(**base)


@pytest.fixture
def store(tmp_path):
    s = EventStore.for_dir(tmp_path)
    yield s
    s.close()


@contextmanager
def statements(store):
    """The SQL statements run on the store's engine inside the block."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


def supersede(store, event_id):
    with store.session() as s, s.begin():
        s.execute(update(EventRow).where(EventRow.event_id == event_id).values(superseded_at=WALL))


def test_latest_verdict_is_the_newest_review(store):
    store.record_event(ev())
    store.add_review("e1", "confirmed", "correct", "ann")
    store.add_review("e1", "dismissed", "false_alarm", "bob")
    with store.session() as s, s.begin():  # the newest row, though stamped earlier: the id decides
        s.add(ReviewRow(event_id="e1", verdict="confirmed", reason="corrected", reviewer="cy",
                        at=dt.datetime(2000, 1, 1)))
    rec = queries.event(store, "e1")
    assert (rec.verdict, rec.verdict_reason) == ("confirmed", "corrected")
    assert [r.reviewer for r in queries.reviews(store, "e1")] == ["ann", "bob", "cy"]
    assert [r.verdict for r in queries.events(store)] == ["confirmed"]


def test_withdrawn_verdict_reads_as_unreviewed(store):
    store.record_event(ev())
    store.record_event(ev("e2", start=50.0, end=60.0))
    store.add_review("e1", "dismissed", "false_alarm", "ann")
    store.add_review("e1", "withdrawn", "", "ann", "undo")
    store.add_review("e2", "dismissed", "false_alarm", "ann")
    rec = queries.event(store, "e1")
    assert rec.verdict == "withdrawn" and rec.current_verdict is None and rec.current_reason is None
    assert serialize.event_dict(rec)["verdict"] == "withdrawn"
    assert serialize.event_dict(rec, current=True)["verdict"] is None
    assert [r.event_id for r in queries.events(store, queries.EventQuery(verdict="none"))] == ["e1"]
    assert [r.event_id for r in queries.events(store, queries.EventQuery(verdict="dismissed"))] == ["e2"]


@pytest.mark.parametrize("n", [1, 12])
def test_a_list_of_events_is_one_statement(store, n):
    for i in range(n):
        store.record_event(ev(f"e{i:02d}", start=10.0 * i, end=10.0 * i + 5))
        store.set_evidence(f"e{i:02d}", clip=f"clips/e{i:02d}.mp4", status="ready")
        store.add_review(f"e{i:02d}", "confirmed", "correct", "ann")
        store.add_review(f"e{i:02d}", "dismissed", "false_alarm", "bob")
    with statements(store) as seen:
        recs = queries.events(store)
    assert len(seen) == 1
    assert len(recs) == n and {r.verdict for r in recs} == {"dismissed"}
    assert {r.clip_path for r in recs} == {f"clips/e{i:02d}.mp4" for i in range(n)}
    with statements(store) as seen:  # the store's own dict list goes through the same query
        rows = store.list_events()
    assert len(seen) == 1 and [r["verdict"] for r in rows] == ["dismissed"] * n
    with statements(store) as seen:
        store.events_changed_since(None)
    assert len(seen) == 1
    with statements(store) as seen:
        groups = queries.verdict_groups(store, ("rule_id",))
    assert len(seen) == 1 and [(g.key, g.verdict, g.n) for g in groups] == [(("post.unattended",), "dismissed", n)]


def test_superseded_events_are_hidden_unless_asked_for(store):
    store.record_event(ev("e1"))
    store.record_event(ev("e2", start=50.0, end=60.0))
    store.add_review("e2", "confirmed", "correct", "ann")
    supersede(store, "e2")
    assert [r.event_id for r in queries.events(store)] == ["e1"]
    assert queries.count_events(store) == 1
    assert [r.event_id for r in queries.events(store, queries.EventQuery(include_superseded=True))] == ["e2", "e1"]
    assert [r["event_id"] for r in store.list_events()] == ["e1"]
    assert store.count_events() == 1 and store.count_events(include_superseded=True) == 2
    assert sum(g.n for g in queries.verdict_groups(store, ("rule_id",))) == 1  # quality and eval reviews too
    rec = queries.event(store, "e2")  # by id it is still there, with its verdict and the mark
    assert rec.superseded_at is not None and rec.verdict == "confirmed"
    assert store.get_event("e2")["superseded"] is True


def test_order_and_filters(store):
    store.record_event(ev("a", start=10.0, end=20.0))
    store.record_event(ev("b", start=30.0, end=None, state="update", post_id="P2"))
    store.record_event(ev("c", start=50.0, end=60.0, source_id="cam2"))
    assert [r.event_id for r in queries.events(store)] == ["c", "b", "a"]
    assert [r.event_id for r in queries.events(store, order="oldest")] == ["a", "b", "c"]
    assert [r.event_id for r in queries.events(store, queries.EventQuery(open_only=True))] == ["b"]
    assert [r.event_id for r in queries.events(store, queries.EventQuery(states=("end",)))] == ["c", "a"]
    assert [r.event_id for r in queries.events(store, queries.EventQuery(camera_id="cam2"))] == ["c"]
    assert [r.event_id for r in queries.events(store, queries.EventQuery(post_id="P2"))] == ["b"]
    since = WALL + dt.timedelta(seconds=30)
    assert [r.event_id for r in queries.events(store, queries.EventQuery(since=since))] == ["c", "b"]
    assert [r.event_id for r in queries.events(store, queries.EventQuery(until=since))] == ["a"]
    assert [r.event_id for r in queries.events(store, limit=1, offset=1)] == ["b"]


def test_stored_and_running_event_give_the_same_jsonl_line(store):
    running = ev(score=0.8125, details={"duration_s": 30.0, "seen": [1, 2]})
    store.record_event(running)
    store.set_evidence("e1", clip="clips/e1.mp4", snapshot="snapshots/e1.jpg", status="ready")
    stored = serialize.jsonl_dict(serialize.event_dict(queries.event(store, "e1")))
    assert stored == serialize.event_json(running, evidence={"clip": "clips/e1.mp4", "snapshot": "snapshots/e1.jpg"})
    assert serialize.event_from_dict(store.get_event("e1")).wall_start == running.wall_start


def test_presence_outages_and_clips(store):
    store.add_presence([
        {"site_id": "default", "source": "live", "camera_id": "cam1", "post_id": "P1", "state": st,
         "start_s": s, "end_s": e, "wall_start": WALL + dt.timedelta(seconds=s),
         "wall_end": WALL + dt.timedelta(seconds=e)} for st, s, e in (("present", 0, 60), ("absent", 60, 90))])
    got = queries.presence(store, since=WALL, until=WALL + dt.timedelta(seconds=70), source="live")
    assert [(p.state, p.start_s) for p in got] == [("present", 0), ("absent", 60)]
    assert queries.presence(store, since=WALL, until=WALL + dt.timedelta(hours=1), source="batch") == []
    assert [p.state for p in queries.recent_presence(store, "P1")] == ["absent", "present"]
    assert queries.last_presence_start(store, "P1") == WALL + dt.timedelta(seconds=60)
    first = store.open_outage("cam1", WALL, "lost")
    store.close_outage(first, WALL + dt.timedelta(minutes=1))
    store.open_outage("cam1", WALL + dt.timedelta(minutes=5), "lost again")
    store.open_outage("cam1", WALL + dt.timedelta(minutes=10), "never closed either")
    assert [o.reason for o in queries.outages(store)] == ["never closed either", "lost again", "lost"]
    assert [o.reason for o in queries.outages(store, open_only=True, limit=1)] == ["never closed either"]
    assert queries.open_outage_starts(store) == {"cam1": WALL + dt.timedelta(minutes=10)}
    store.record_event(ev("old", start=10.0))
    store.record_event(ev("new", start=90.0, end=95.0))
    store.record_event(ev("pending", start=99.0, end=100.0))
    for eid in ("old", "new"):
        store.set_evidence(eid, clip=f"clips/{eid}.mp4", status="ready")
    assert queries.ready_clips(store, "cam1") == ["clips/new.mp4", "clips/old.mp4"]
    assert queries.posts_seen(store) == [("cam1", "P1")]
