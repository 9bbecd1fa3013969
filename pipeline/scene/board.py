"""Site-wide post presence shared by the cameras of one `counterwatch run`.

A duty's A and B may sit in front of different cameras. Each camera publishes its
posts' presence after every frame; the camera that holds A's post reads B's from
here. An entry older than `max_age_s` (a camera that stalled or went offline) is
not used: the duty is then "unknown", never "absent".

The hall board (/board) reads the same entries: what it shows is the smoothed
presence the rules judge with. `since` is when a post's presence last flipped (or
when it was seen again after a gap); `on_change` hears each flip, so the web app can
push it over the live feed instead of waiting for the next poll.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from pipeline.scene.facts import PostFacts


class PresenceBoard:
    def __init__(self, max_age_s: float = 10.0, on_change: Callable[[dict[str, Any]], None] | None = None):
        self.max_age_s = max_age_s
        self.on_change = on_change
        self._lock = threading.Lock()
        self._posts: dict[str, tuple[float, PostFacts]] = {}
        self._since: dict[str, tuple[bool, float]] = {}  # post -> (staff present, since t)
        self._waiting: dict[str, tuple[float, int]] = {}  # camera -> (t, people in its waiting areas)

    def publish(self, t: float, posts: dict[str, PostFacts]) -> None:
        changed: list[dict[str, Any]] = []
        with self._lock:
            for pid, pf in posts.items():
                prev = self._posts.get(pid)
                was = self._since.get(pid)
                gap = prev is None or abs(t - prev[0]) > self.max_age_s
                if was is None or was[0] != pf.staff_present or gap:
                    self._since[pid] = (pf.staff_present, t)
                    if was is None or was[0] != pf.staff_present:
                        changed.append({"kind": "presence", "post_id": pid, "present": pf.staff_present, "since": t})
                self._posts[pid] = (t, pf)
        if self.on_change is not None:
            for msg in changed:
                self.on_change(msg)

    def others(self, t: float, exclude: set[str] | frozenset[str]) -> dict[str, PostFacts]:
        """Fresh presence of the posts not in `exclude` (this camera's own)."""
        with self._lock:
            return {pid: pf for pid, (ts, pf) in self._posts.items()
                    if pid not in exclude and abs(t - ts) <= self.max_age_s}

    def note_waiting(self, camera_id: str, t: float, count: int) -> None:
        with self._lock:
            self._waiting[camera_id] = (t, int(count))

    def snapshot(self, now: float) -> dict[str, Any]:
        """{"posts": {post: {present, since, t, customers, fresh}}, "waiting": {camera: {count, t, fresh}}}."""
        with self._lock:
            posts = {pid: {"present": pf.staff_present, "since": self._since.get(pid, (None, ts))[1], "t": ts,
                           "customers": pf.customer_count, "fresh": abs(now - ts) <= self.max_age_s}
                     for pid, (ts, pf) in self._posts.items()}
            waiting = {cam: {"count": n, "t": ts, "fresh": abs(now - ts) <= self.max_age_s}
                       for cam, (ts, n) in self._waiting.items()}
        return {"posts": posts, "waiting": waiting}
