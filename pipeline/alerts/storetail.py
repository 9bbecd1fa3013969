"""Alerts for events that other processes write into the store.

`counterwatch serve` runs no cameras, but `analyze`, `batch` or a `run` on another
machine write into the same database. This thread polls the events table and
publishes every new or changed event state to the in-process AlertBus, so the review
list's live rows and the SSE/WebSocket feed work in `serve` too.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from pipeline.alerts.bus import AlertBus
from pipeline.alerts.payload import build_alert
from pipeline.events.serialize import event_from_dict
from pipeline.events.store import EventStore

log = logging.getLogger(__name__)


class StoreTail:
    """Polls with a few seconds of overlap: writers stamp a change before they commit it,
    so a change may become visible after a later-stamped one. Repeats are skipped."""

    overlap = dt.timedelta(seconds=5)

    def __init__(self, store: EventStore, bus: AlertBus, *, interval_s: float = 1.0, public_url: str | None = None):
        self.store, self.bus, self.interval_s, self.public_url = store, bus, interval_s, public_url
        self._since = store.last_change()  # only what changes from now on
        self._seen: dict[tuple[str, dt.datetime], dt.datetime] = {}  # (event, stamp) -> stamp, inside the overlap
        if self._since is not None:  # what changed before the start is history, not news
            for row in store.events_changed_since(self._since - self.overlap):
                self._seen[(row["event_id"], row["updated_at"])] = row["updated_at"]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store-tail", daemon=True)

    def start(self) -> StoreTail:
        self._thread.start()
        return self

    def poll(self) -> int:
        """Publish the changes since the last poll; returns how many."""
        since = None if self._since is None else self._since - self.overlap
        sent = 0
        for row in self.store.events_changed_since(since):
            key = (row["event_id"], row["updated_at"])
            if key in self._seen:
                continue
            self._seen[key] = row["updated_at"]
            self.bus.publish(build_alert(event_from_dict(row), public_url=self.public_url))
            sent += 1
            if self._since is None or row["updated_at"] > self._since:
                self._since = row["updated_at"]
        if self._since is not None:  # forget what fell out of the overlap window
            cut = self._since - 2 * self.overlap
            self._seen = {k: v for k, v in self._seen.items() if v >= cut}
        return sent

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.poll()
            except Exception:  # a locked or briefly unreachable database: try again next tick
                log.exception("store tail: polling the events table failed")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
