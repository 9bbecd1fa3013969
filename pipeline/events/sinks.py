"""The store, events.jsonl and presence sinks of the chain (`pipeline.events.chain`).

Each event is committed to the database the moment it starts (crash safety);
events.jsonl gets one line per finished event, flushed at once, with the clip and
snapshot paths the evidence sink made; presence intervals are written in batches.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.core import private
from pipeline.core.errors import OutputError
from pipeline.core.types import Event, Frame
from pipeline.events import queries
from pipeline.events.chain import Made, SinkBase
from pipeline.events.serialize import event_dict, event_json, jsonl_dict
from pipeline.events.store import EventStore
from pipeline.scene.facts import SceneFacts


def rewrite_jsonl(store: EventStore, path: Path) -> int:
    """Rewrite events.jsonl from the database, atomically: every finished, current event, one line each.

    After a resumed batch or a re-analysis the appended file may hold lines of events that
    were reconciled or superseded since; the database is the truth. Returns the lines written.
    """
    finished = queries.events(store, queries.EventQuery(states=("end", "interrupted")), order="oldest")
    lines = [json.dumps(jsonl_dict(event_dict(r)), ensure_ascii=False) for r in finished]
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.writelines(line + "\n" for line in lines)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write events file ({exc.strerror})") from None
    return len(lines)


class StoreSink(SinkBase):
    """Writes every state of every event to the database (insert on start, update after)."""

    stage, retry = "store", True

    def __init__(self, store: EventStore, *, source: str = "live", recording: str | None = None,
                 outbox: Any = None, alert_of: Callable[[Event, float | None], dict[str, Any]] | None = None):
        self.store, self.source, self.recording = store, source, recording
        # live: the webhook outbox rows of each event state are written in the event's transaction
        self.outbox, self.alert_of = outbox, alert_of

    def on_event(self, event: Event, made: Made) -> None:
        also = None
        if self.outbox is not None and self.alert_of is not None:
            alert = self.alert_of(event, made.frame_s)
            also = lambda s: self.outbox.enqueue(alert, session=s)  # noqa: E731
        self.store.record_event(event, source=self.source, recording=self.recording, also=also)


class JsonlSink(SinkBase):
    """Appends finished events to events.jsonl (flushed and fsynced per line), with their evidence paths."""

    stage, retry = "jsonl", True

    def __init__(self, path: Path):
        self.path = path
        try:
            self._fh = open(path, "a", encoding="utf-8", opener=private.opener)  # 0600
            private.tighten(path)
        except OSError as exc:
            raise OutputError(f"{path}: cannot write events file ({exc.strerror})") from None

    def on_event(self, event: Event, made: Made) -> None:
        if event.state != "end":
            return
        line = json.dumps(event_json(event, evidence=made.evidence), ensure_ascii=False)
        try:
            self._follow()
            self._fh.write(line + "\n")
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write events file ({exc.strerror})") from None

    def _follow(self) -> None:
        """Reopen when the file was replaced (rewrite_jsonl by a batch over the same folder)."""
        try:
            same = os.stat(self.path).st_ino == os.fstat(self._fh.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            self._fh.close()
            self._fh = open(self.path, "a", encoding="utf-8")

    def close(self, t: float | None = None) -> None:
        self._fh.close()


class PresenceRecorder(SinkBase):
    """Per-post presence intervals (present / absent / unknown), written to the store in batches."""

    stage = "presence"

    def __init__(self, store: EventStore, *, camera_id: str, site_id: str, source: str,
                 wall_at: Callable[[float], dt.datetime | None], recording: str | None = None,
                 flush_every_s: float = 60.0):
        self.store, self.camera_id, self.site_id, self.source = store, camera_id, site_id, source
        self.wall_at, self.recording, self.flush_every_s = wall_at, recording, flush_every_s
        self._open: dict[str, list[Any]] = {}  # post -> [state, start_s, last_s]
        self._pending: list[dict[str, Any]] = []
        self._last_flush: float | None = None
        # (post, t) -> True while the camera's presence vote is still settling: that time is unknown
        self.settling: Callable[[str, float], bool] | None = None

    def on_frame(self, frame: Frame | None, result: Any) -> None:
        self.observe(result.facts)

    def close(self, t: float) -> None:
        self.flush(t)

    def observe(self, facts: SceneFacts) -> None:
        t = facts.t
        for post_id, pf in facts.posts.items():
            if self.settling is not None and self.settling(post_id, t):
                state = "unknown"
            else:
                state = "present" if pf.staff_present else "absent"
            self._note(post_id, state, t)
        if not facts.online:
            for post_id in list(self._open):
                self._note(post_id, "unknown", t)
        if self._last_flush is None:
            self._last_flush = t
        elif t - self._last_flush >= self.flush_every_s:
            self.flush(t, final=False)

    def _note(self, post_id: str, state: str, t: float) -> None:
        cur = self._open.get(post_id)
        if cur is None:
            self._open[post_id] = [state, t, t]
        elif cur[0] == state:
            cur[2] = t
        else:
            self._close(post_id, cur, t)
            self._open[post_id] = [state, t, t]

    def _close(self, post_id: str, cur: list[Any], end: float) -> None:
        state, start, _ = cur
        if end <= start:
            return
        self._pending.append({
            "site_id": self.site_id, "source": self.source, "camera_id": self.camera_id, "post_id": post_id,
            "state": state, "start_s": start, "end_s": end,
            "wall_start": self.wall_at(start), "wall_end": self.wall_at(end), "recording": self.recording,
        })

    def flush(self, t: float, final: bool = True) -> None:
        """Write closed intervals; open ones are cut at t and continue (unless final)."""
        for post_id, cur in list(self._open.items()):
            self._close(post_id, [cur[0], cur[1], cur[2]], t)
            if final:
                del self._open[post_id]
            else:
                self._open[post_id] = [cur[0], t, t]
        self.store.add_presence(self._pending)
        self._pending = []
        self._last_flush = t
