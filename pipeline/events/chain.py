"""The output of one camera: an ordered chain of sinks shared by `analyze`, `batch` and `run`.

A camera's loop hands each analysed frame to `SinkChain.frame(frame, result)` (and an
offline tick to `SinkChain.frame(None, result)`, and the events that end at the close to
`SinkChain.close`). Every sink gets the frame first (`on_frame`), then every event state
of that frame in order (`on_event`). The order is fixed: store -> evidence -> jsonl ->
presence -> alerts (docs/ARCHITECTURE.md). A sink never reaches into another; what an
earlier sink produced for an event reaches the later ones in the `Made` it is handed
(the evidence sink's clip and snapshot paths).

A sink that sets `retry = True` has its failing `on_event` calls held back (bounded) and
retried in order before the next event, so one failing sink stops neither the others nor
the camera and drops no event state. An `OutputError` (the database or disk cannot take
events) always stops the camera with its message.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from pipeline.core.errors import OutputError
from pipeline.core.types import Event, Frame

log = logging.getLogger(__name__)

RETRY_LIMIT = 1000  # held-back sink calls per camera; the oldest is dropped (and logged) beyond this
ORDER = ("store", "evidence", "jsonl", "presence", "alerts")


@dataclass
class Made:
    """One event state as it travels down the chain, with what the sinks before produced for it."""

    frame: Frame | None  # the analysed frame that produced it (None: offline tick, close, retry)
    result: Any  # that frame's FrameResult (facts, persons, objects, zones), or None
    evidence: dict[str, str] = field(default_factory=dict)  # clip/snapshot paths, from the evidence sink

    @property
    def frame_s(self) -> float | None:
        return self.frame.timestamp_s if self.frame is not None else None


class Sink(Protocol):
    stage: str  # one of ORDER
    retry: bool  # failing on_event calls are held back and retried in order

    def on_frame(self, frame: Frame | None, result: Any) -> None: ...

    def on_event(self, event: Event, made: Made) -> None: ...

    def close(self, t: float) -> None: ...


class SinkBase:
    """Defaults for a sink that needs only some of the calls; a subclass names its `stage`."""

    stage: str
    retry = False

    def on_frame(self, frame: Frame | None, result: Any) -> None:
        return None

    def on_event(self, event: Event, made: Made) -> None:
        return None

    def close(self, t: float) -> None:
        return None


class SinkChain:
    """The ordered sinks of one camera; not thread-safe (one per camera thread)."""

    def __init__(self, sinks: list[Sink], *, camera_id: str):
        stages = [s.stage for s in sinks]
        if any(st not in ORDER for st in stages):
            raise ValueError(f"camera {camera_id}: unknown sink stage in {stages}; known: {ORDER}")
        if stages != sorted(stages, key=ORDER.index):
            raise ValueError(f"camera {camera_id}: sinks out of order {stages}; the order is {' -> '.join(ORDER)}")
        self.sinks, self.camera_id = list(sinks), camera_id
        self._retry: deque[tuple[Sink, Event, Made]] = deque()
        self._closed = False

    def frame(self, frame: Frame | None, result: Any) -> list[Made]:
        """One analysed frame (or an offline tick with frame None): on_frame to all, then each event."""
        for sink in self.sinks:
            sink.on_frame(frame, result)
        return [self.event(ev, frame, result) for ev in result.events]

    def event(self, ev: Event, frame: Frame | None = None, result: Any = None) -> Made:
        """One event state down the chain; returns what the sinks made of it."""
        if self._retry:
            self._flush_retry()
        made = Made(frame=frame, result=result)
        for sink in self.sinks:
            if sink.retry and any(q is sink and e.event_id == ev.event_id for q, e, _ in self._retry):
                self._queue_retry(sink, ev, made)  # an earlier state of this event still waits: keep the order
                continue
            try:
                sink.on_event(ev, made)
            except OutputError:
                raise  # the database or disk cannot take events: stop with a clear error
            except Exception:
                if not sink.retry:
                    raise
                log.exception("camera %s: sink %s failed on event %s (%s); retried with the next event",
                              self.camera_id, type(sink).__name__, ev.event_id, ev.state)
                self._queue_retry(sink, ev, made)
        return made

    def close(self, t: float, events: list[Event] | tuple[()] = ()) -> list[Made]:
        """The events that end at the close, then a last retry, then every sink's close (in order)."""
        made = [self.event(ev) for ev in events]
        self.flush_retries()
        if not self._closed:
            self._closed = True
            for sink in self.sinks:
                sink.close(t)
        return made

    def _queue_retry(self, sink: Sink, ev: Event, made: Made) -> None:
        if len(self._retry) >= RETRY_LIMIT:
            old_sink, old, _ = self._retry.popleft()
            log.error("camera %s: sink %s dropped event %s (%s) after repeated failures", self.camera_id,
                      type(old_sink).__name__, old.event_id, old.state)
        # the frame is not kept (memory); what the earlier sinks made is
        self._retry.append((sink, ev, replace(made, frame=None, result=None, evidence=dict(made.evidence))))

    def _flush_retry(self) -> None:
        pending, self._retry = self._retry, deque()
        failed: set[tuple[int, str]] = set()
        for sink, ev, made in pending:
            if (id(sink), ev.event_id) in failed:
                self._retry.append((sink, ev, made))
                continue
            try:
                sink.on_event(ev, made)
            except OutputError:
                raise
            except Exception as exc:  # noqa: BLE001 - still failing: keep it (bounded), in order
                log.warning("camera %s: sink %s still fails on event %s (%s): %s", self.camera_id,
                            type(sink).__name__, ev.event_id, ev.state, exc)
                failed.add((id(sink), ev.event_id))
                self._retry.append((sink, ev, made))

    def flush_retries(self) -> int:
        """Try the held-back calls once more (end of a file, shutdown); returns and logs what still fails."""
        if self._retry:
            self._flush_retry()
        for sink, ev, _ in self._retry:
            log.error("camera %s: sink %s dropped event %s (%s): it kept failing", self.camera_id,
                      type(sink).__name__, ev.event_id, ev.state)
        n = len(self._retry)
        self._retry.clear()
        return n
