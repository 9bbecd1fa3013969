"""Site-wide post presence shared by the cameras of one `counterwatch run`.

A duty's A and B may sit in front of different cameras. Each camera publishes its
posts' presence after every frame; the camera that holds A's post reads B's from
here. An entry older than `max_age_s` (a camera that stalled or went offline) is
not used: the duty is then "unknown", never "absent".
"""

from __future__ import annotations

import threading

from pipeline.scene.facts import PostFacts


class PresenceBoard:
    def __init__(self, max_age_s: float = 10.0):
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._posts: dict[str, tuple[float, PostFacts]] = {}

    def publish(self, t: float, posts: dict[str, PostFacts]) -> None:
        with self._lock:
            for pid, pf in posts.items():
                self._posts[pid] = (t, pf)

    def others(self, t: float, exclude: set[str] | frozenset[str]) -> dict[str, PostFacts]:
        """Fresh presence of the posts not in `exclude` (this camera's own)."""
        with self._lock:
            return {pid: pf for pid, (ts, pf) in self._posts.items()
                    if pid not in exclude and abs(t - ts) <= self.max_age_s}
