"""AlertBus: in-process publish/subscribe of alerts, shared by camera threads and the web server.

Why this shape: camera workers run in plain threads and must never block on a slow
client, while SSE/WebSocket handlers live on the asyncio loop. Each subscriber gets
its own bounded queue; when a subscriber falls behind, its oldest alerts are dropped
(and counted) instead of stalling the publisher or growing memory without bound.
A subscriber on an event loop is woken with `call_soon_threadsafe`, so no thread
is parked per client.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from pipeline.core.types import SEVERITY_ORDER

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class AlertFilter:
    """Which alerts a subscriber wants. Empty fields match everything."""

    cameras: frozenset[str] = frozenset()
    posts: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()
    min_severity: str = "info"
    kinds: frozenset[str] = frozenset({"event"})

    @classmethod
    def parse(cls, camera: str | None = None, post: str | None = None, rule: str | None = None,
              min_severity: str | None = None, kinds: tuple[str, ...] = ("event",)) -> AlertFilter:
        """From query-string values; comma-separated lists are allowed. Raises ValueError on a bad severity."""

        def split(v: str | None) -> frozenset[str]:
            return frozenset(x.strip() for x in (v or "").split(",") if x.strip())

        sev = (min_severity or "info").strip()
        if sev not in SEVERITY_ORDER:
            raise ValueError(f"severity must be one of {', '.join(SEVERITY_ORDER)}, got {sev!r}")
        return cls(split(camera), split(post), split(rule), sev, frozenset(kinds))

    def matches(self, alert: dict[str, Any]) -> bool:
        if alert.get("kind", "event") not in self.kinds:
            return False
        if self.cameras and alert.get("camera_id") not in self.cameras:
            return False
        if self.posts and alert.get("post_id") not in self.posts:
            return False
        if self.rules and alert.get("rule_id") not in self.rules:
            return False
        sev = SEVERITY_ORDER.get(str(alert.get("severity", "info")), 0)
        return sev >= SEVERITY_ORDER[self.min_severity]


@dataclass(eq=False)
class Subscription:
    """One subscriber's bounded queue. `get` for threads, `aget` for asyncio."""

    bus: AlertBus
    filter: AlertFilter
    maxsize: int
    id: int
    _q: deque = field(default_factory=deque)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _loop: asyncio.AbstractEventLoop | None = None
    _aevent: asyncio.Event | None = None
    dropped: int = 0
    closed: bool = False

    def _put(self, alert: dict[str, Any]) -> None:
        with self._cond:
            if self.closed:
                return
            if len(self._q) >= self.maxsize:
                old = self._q.popleft()
                self.dropped += 1
                log.warning("alert feed subscriber %d is behind: dropped alert %s/%s (the database keeps it)",
                            self.id, old.get("event_id"), old.get("state"))
            self._q.append(alert)
            self._cond.notify_all()
        if self._loop is not None and self._aevent is not None:
            try:
                self._loop.call_soon_threadsafe(self._aevent.set)
            except RuntimeError:  # the loop has closed: the client is gone
                self.close()

    def get(self, timeout_s: float | None = None) -> dict[str, Any] | None:
        """The next alert, or None after timeout_s or once closed."""
        with self._cond:
            if not self._q and not self.closed:
                self._cond.wait(timeout_s)
            return self._q.popleft() if self._q else None

    def bind_loop(self) -> None:
        """Call from the event loop that will `aget`."""
        self._loop = asyncio.get_running_loop()
        self._aevent = asyncio.Event()

    async def aget(self, timeout_s: float) -> dict[str, Any] | None:
        if self._aevent is None:
            self.bind_loop()
        assert self._aevent is not None
        with self._cond:
            if self._q:
                return self._q.popleft()
            self._aevent.clear()
        try:
            await asyncio.wait_for(self._aevent.wait(), timeout_s)
        except TimeoutError:
            return None
        with self._cond:
            return self._q.popleft() if self._q else None

    def pending(self) -> int:
        with self._cond:
            return len(self._q)

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()
        self.bus._remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AlertBus:
    """Thread-safe fan-out of alert dicts to any number of bounded subscriber queues."""

    def __init__(self, default_maxsize: int = 1000):
        self.default_maxsize = default_maxsize
        self._subs: dict[int, Subscription] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.published = 0
        self.published_by_kind: dict[str, int] = {}

    def subscribe(self, flt: AlertFilter | None = None, maxsize: int | None = None) -> Subscription:
        sub = Subscription(self, flt or AlertFilter(), maxsize or self.default_maxsize, next(self._ids))
        with self._lock:
            self._subs[sub.id] = sub
        return sub

    def publish(self, alert: dict[str, Any]) -> int:
        """Deliver to every matching subscriber; returns how many took it. Never blocks on a subscriber."""
        with self._lock:
            subs = list(self._subs.values())
            self.published += 1
            kind = str(alert.get("kind", "event"))
            self.published_by_kind[kind] = self.published_by_kind.get(kind, 0) + 1
        n = 0
        for sub in subs:
            if sub.filter.matches(alert):
                sub._put(alert)
                n += 1
        return n

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.pop(sub.id, None)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)

    def dropped_total(self) -> int:
        with self._lock:
            return sum(s.dropped for s in self._subs.values())
