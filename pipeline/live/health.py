"""Per-camera health: state, analysed fps, drop rate, latency, and outage intervals.

Why here and not in the source: the source knows when frames stop, but an outage
must also reach the database (outages table, camera_state) and the rules (offline
facts, so outage time is unknown, never compliant nor absent). This object is the
one place that turns source state changes into those records. Memory is bounded:
only the last `window` samples are kept.
"""

from __future__ import annotations

import datetime as dt
import logging
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from pipeline.core.clock import steady_time
from pipeline.events.store import EventStore

log = logging.getLogger(__name__)
DOWN_STATES = ("reconnecting", "offline")


@dataclass(frozen=True)
class HealthSnapshot:
    camera_id: str
    site_id: str
    state: str
    reason: str
    fps: float
    drop_rate: float
    latency_s: float
    latency_p95_s: float
    analysed: int
    dropped: int
    received: int
    reconnects: int
    outages: int
    events: int
    last_frame_age_s: float | None

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


class CameraHealth:
    """Thread-safe: state callbacks come from the source's reader thread, samples from the worker."""

    def __init__(self, camera_id: str, site_id: str, store: EventStore | None, *, target_fps: float = 2.0,
                 window: int = 200, write_every_s: float = 2.0):
        self.camera_id, self.site_id, self.store = camera_id, site_id, store
        self.target_fps = target_fps
        self.write_every_s = write_every_s
        self._lock = threading.Lock()
        self._done: deque[float] = deque(maxlen=window)  # wall time each analysed frame finished
        self._lat: deque[float] = deque(maxlen=window)
        self.state = "connecting"
        self.reason = ""
        self.analysed = 0
        self.lag_dropped = 0  # frames the worker skipped because they were already too old
        self.events = 0
        self.outages = 0
        self._outage_id: int | None = None
        self._unsaved_outage: tuple[float, str] | None = None  # (start, reason) not yet in the store
        self.down_since: float | None = None
        self._last_write = 0.0
        self.stopping = False
        self._source: Any = None  # anything with .stats -> LiveStats

    # state -------------------------------------------------------------------------------
    def on_state(self, camera_id: str, state: str, reason: str) -> None:
        """Source callback: record outages as they open and close."""
        now = time.time()
        with self._lock:
            prev, self.state, self.reason = self.state, state, reason
        if self.stopping:
            return  # the source closing at shutdown is not an outage
        if state in DOWN_STATES and self._outage_id is None:
            self._open_outage(now, reason)
        elif state == "online" and self._outage_id is not None:
            self._close_outage(now)
        if state != prev:
            log.log(logging.INFO if state == "online" else logging.WARNING, "camera %s: %s -> %s (%s)",
                    self.camera_id, prev, state, reason)
        self.write(force=True)

    def _open_outage(self, now: float, reason: str) -> None:
        st = self._source.stats if self._source is not None else None
        age = st.last_frame_age_s if st is not None else None
        start = now - age if age is not None else now
        self.down_since = start
        self.outages += 1
        self._outage_id = -1
        self._unsaved_outage = (start, reason)
        self._save_outage()

    def _save_outage(self) -> None:
        """Write the open outage; a failed write is kept and retried on the next state write or close."""
        if self.store is None or self._unsaved_outage is None:
            return
        start, reason = self._unsaved_outage
        try:
            self._outage_id = self.store.open_outage(self.camera_id, dt.datetime.fromtimestamp(start), reason,
                                                     site_id=self.site_id)
        except Exception as exc:  # noqa: BLE001 - kept and retried, never lost silently
            log.error("camera %s: cannot record outage from %s (%s); retried", self.camera_id,
                      dt.datetime.fromtimestamp(start).isoformat(timespec="seconds"), exc)
            return
        self._unsaved_outage = None

    def _close_outage(self, now: float) -> None:
        if self._unsaved_outage is not None:
            self._save_outage()  # the camera came back before the outage could be written: write it now
        oid, self._outage_id, self.down_since = self._outage_id, None, None
        if self.store is not None and oid is not None and oid >= 0:
            try:
                self.store.close_outage(oid, dt.datetime.fromtimestamp(now))
            except Exception:
                log.exception("camera %s: cannot close outage", self.camera_id)

    @property
    def down(self) -> bool:
        return self.state in DOWN_STATES

    def close(self) -> None:
        """Shutdown: an open outage ends now; the camera is offline (stopped)."""
        now = time.time()
        if self._outage_id is not None:
            self._close_outage(now)
        with self._lock:
            self.state, self.reason = "offline", "stopped"
        self.write(force=True)

    # samples -----------------------------------------------------------------------------
    def analysed_frame(self, frame_ts: float, n_events: int = 0) -> None:
        now = steady_time()  # frames carry steady time (pipeline.core.clock)
        with self._lock:
            self.analysed += 1
            self.events += n_events
            self._done.append(now)
            self._lat.append(max(0.0, now - frame_ts))
        self.write()

    def lagged_frame(self) -> None:
        with self._lock:
            self.lag_dropped += 1

    def attach_source(self, src: Any) -> None:
        self._source = src

    def snapshot(self) -> HealthSnapshot:
        st = self._source.stats if self._source is not None else None
        now = steady_time()
        with self._lock:
            recent = [t for t in self._done if now - t <= 10.0]
            span = (now - recent[0]) if len(recent) > 1 else 0.0
            fps = (len(recent) - 1) / span if span > 0 else 0.0
            lat = list(self._lat)
            # Drop rate: the share of analysis slots (target fps) that got no analysed frame
            # over the last 10 s, whether the frame was replaced in the source or skipped as stale.
            drop_rate = max(0.0, 1.0 - fps / self.target_fps) if len(recent) >= 3 and self.state == "online" else 0.0
            dropped = (st.dropped if st else 0) + self.lag_dropped
            return HealthSnapshot(
                camera_id=self.camera_id, site_id=self.site_id, state=self.state, reason=self.reason, fps=fps,
                drop_rate=drop_rate,
                latency_s=statistics.median(lat) if lat else 0.0,
                latency_p95_s=_pct(lat, 95), analysed=self.analysed, dropped=dropped,
                received=st.received if st else 0, reconnects=st.reconnects if st else 0,
                outages=self.outages, events=self.events,
                last_frame_age_s=st.last_frame_age_s if st else None)

    def write(self, force: bool = False) -> None:
        """Store camera_state at most every write_every_s (always on a state change)."""
        now = time.monotonic()
        if self.store is None or (not force and now - self._last_write < self.write_every_s):
            return
        self._last_write = now
        if self._unsaved_outage is not None:
            self._save_outage()
        snap = self.snapshot()
        try:
            self.store.set_camera_state(self.camera_id, snap.state, site_id=self.site_id, fps=snap.fps,
                                        drop_rate=snap.drop_rate, latency_s=snap.latency_s)
        except Exception:
            log.exception("camera %s: cannot write camera state", self.camera_id)


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100 * (len(s) - 1)))))
    return s[k]
