"""Live faults, in process on a real clip played as a camera: a backward wall-clock step, a camera
worker that raises, a sink that raises, a store that refuses a clip result.

Rule time follows a monotonic clock: a step of the wall clock one hour back (NTP, a
manual change) must not freeze the rules. A worker error restarts the camera with
backoff and is counted; a failing sink or clip callback never drops the event.
"""

from __future__ import annotations

import threading
import time

import pytest

from pipeline.events.store import EventStore
from pipeline.live.runner import LiveRunner
from pipeline.settings import load_config
from tests.live.helpers import DESK, site_config


def _runner(tmp_path, data_dir, on_frame=None, **kw) -> tuple[LiveRunner, EventStore]:
    cfg = load_config(site_config(tmp_path / "site.yaml", str(data_dir / DESK), min_duration_s=4))
    store = EventStore.for_dir(tmp_path / "data")
    return LiveRunner(cfg, tmp_path / "data", store, pool_size=1, on_frame=on_frame, **kw), store


def _wait(cond, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.timeout(240)
def test_backward_clock_step_does_not_freeze_rules(tmp_path, data_dir, models_dir, monkeypatch):
    seen: list[tuple[float, list[str]]] = []
    lock = threading.Lock()

    def on_frame(cam, frame, res):
        with lock:
            seen.append((frame.timestamp_s, [e.state for e in res.events]))

    runner, store = _runner(tmp_path, data_dir, on_frame)
    runner.start()
    try:
        _wait(lambda: len(seen) >= 4, 120, "the first analysed frames")
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() - 3600.0)  # the wall clock steps one hour back
        with lock:
            stepped_at = len(seen)
        # the unattended corner post must still start an event (4 s of frames) after the step
        _wait(lambda: any("start" in s for _, s in seen[stepped_at:]), 120, "an event after the clock step")
        with lock:
            ts = [t for t, _ in seen]
        assert all(b > a for a, b in zip(ts, ts[1:], strict=False)), "frame times went backwards"
    finally:
        runner.stop()
        monkeypatch.undo()
    ev = store.list_events(camera_id="desk")
    assert ev, "the event was not stored"
    # the stored wall time follows the wall clock as it is now (one hour back), for display and schedules
    import datetime as dt

    started = dt.datetime.fromisoformat(ev[0]["wall_start"])
    assert abs((dt.datetime.now() - dt.timedelta(hours=1) - started).total_seconds()) < 300
    store.close()


@pytest.mark.timeout(240)
def test_worker_error_restarts_the_camera_and_is_counted(tmp_path, data_dir, models_dir):
    calls = {"n": 0}

    def on_frame(cam, frame, res):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("injected fault in the frame loop")

    runner, store = _runner(tmp_path, data_dir, on_frame)
    runner.start()
    try:
        w = runner.workers["desk"]
        w.restart_initial_s = 0.2
        _wait(lambda: w.restarts == 1 and calls["n"] > 6, 120, "the camera to come back after the error")
        assert w.alive
        assert runner.worker_restarts() == {"desk": 1}
    finally:
        runner.stop()
        store.close()


class _FlakySink:
    """A chain sink that raises (not an OutputError) on its first event, then records."""

    stage, retry = "jsonl", True

    def __init__(self):
        self.calls, self.got = 0, []

    def on_frame(self, frame, result):
        pass

    def on_event(self, ev, made):
        self.calls += 1
        if self.calls == 1:
            raise ValueError("injected sink fault")
        self.got.append((ev.event_id, ev.state, made.evidence.get("clip")))

    def close(self, t):
        pass


class _Evidence:
    """Stands for the evidence sink: tells the later sinks the clip path of each event."""

    stage, retry = "evidence", False

    def on_frame(self, frame, result):
        pass

    def on_event(self, ev, made):
        made.evidence = {"clip": f"clips/{ev.event_id}.mp4"}

    def close(self, t):
        pass


def test_failing_sink_does_not_drop_the_event():
    from pipeline.core.types import Event
    from pipeline.events.chain import SinkChain

    flaky = _FlakySink()
    chain = SinkChain([_Evidence(), flaky], camera_id="c1")
    ev = Event(event_id="e1", rule_id="post.unattended", article="第二十条", source_id="c1", post_id="P1",
               track_ids=(), state="start", severity="medium", start_s=1.0, end_s=None)
    chain.event(ev)  # fails: held back
    assert flaky.got == []
    chain.event(ev.with_(state="update", end_s=2.0))  # the start goes first, then this one
    chain.event(ev.with_(state="end", end_s=3.0))
    # in order, and the held-back start still carries what the evidence sink made for it
    assert flaky.got == [("e1", "start", "clips/e1.mp4"), ("e1", "update", "clips/e1.mp4"),
                         ("e1", "end", "clips/e1.mp4")]


def test_a_sink_chain_refuses_sinks_out_of_order():
    import pytest

    from pipeline.events.chain import SinkChain

    with pytest.raises(ValueError, match="out of order"):
        SinkChain([_FlakySink(), _Evidence()], camera_id="c1")


def test_a_sink_without_retry_stops_the_chain():
    import pytest

    from pipeline.core.types import Event
    from pipeline.events.chain import SinkChain

    class Broken(_Evidence):
        def on_event(self, ev, made):
            raise RuntimeError("evidence broke")

    chain = SinkChain([Broken()], camera_id="c1")
    ev = Event(event_id="e1", rule_id="post.unattended", article="第二十条", source_id="c1", post_id="P1",
               track_ids=(), state="start", severity="medium", start_s=1.0, end_s=None)
    with pytest.raises(RuntimeError, match="evidence broke"):  # the worker restarts the camera on it
        chain.event(ev)


def test_failing_clip_result_write_is_retried(tmp_path, data_dir, models_dir):
    """The store refuses the clip result once: the clip row still ends ready, not pending for ever."""
    runner, store = _runner(tmp_path, data_dir)
    real = store.set_evidence
    state = {"failed": 0}

    def flaky(event_id, **kw):
        if kw.get("status") in ("ready", "partial") and not state["failed"]:
            state["failed"] += 1
            raise RuntimeError("injected store fault")
        return real(event_id, **kw)

    store.set_evidence = flaky
    runner.start()
    try:
        _wait(lambda: store.count_events() > 0, 120, "an event")
    finally:
        runner.stop()  # the clip is finished at the stop: its result is refused once, then retried
    assert state["failed"] == 1
    with store.session() as s:
        from sqlalchemy import select

        from pipeline.events.schema import ClipRow

        statuses = [r.status for r in s.scalars(select(ClipRow))]
    store.close()
    assert statuses and "pending" not in statuses, statuses
