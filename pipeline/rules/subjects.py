"""Shared pieces for conduct rules: pose parameters, staff poses, per-track history.

Rules judge staff only (customers are never judged). Per-track memory lives in
`TrackHistory`, which drops tracks not seen for a while so that a 24/7 stream with
thousands of track ids keeps bounded state.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from pydantic import Field

from pipeline.config.rule_params import RuleParams
from pipeline.rules.measures import Pose, body_scale
from pipeline.scene.facts import PersonFact, SceneFacts


class PoseParams(RuleParams):
    """Parameters every pose rule shares."""

    min_keypoint_conf: float = Field(0.3, ge=0, le=1, description="Keypoints under this confidence count as not visible")


def staff_poses(facts: SceneFacts, min_conf: float) -> Iterator[tuple[PersonFact, Pose | None, float | None]]:
    """Each staff person with their pose gate and body scale (None, None when no pose ran)."""
    for person in facts.persons:
        if person.role != "staff":
            continue
        pose = Pose.of(person.keypoints, person.keypoint_conf, min_conf)
        yield person, pose, (body_scale(pose) if pose is not None else None)


def track_key(person: PersonFact) -> tuple[str, int]:
    return ("track", int(person.track_id))


class TrackHistory:
    """Recent samples per track over a time window, with eviction of unseen tracks."""

    def __init__(self, window_s: float, evict_after_s: float = 30.0):
        self.window_s = window_s
        self.evict_after_s = evict_after_s
        self._h: dict[Any, deque[tuple[float, Any]]] = {}
        self._last: dict[Any, float] = {}

    def add(self, key: Any, t: float, sample: Any) -> None:
        q = self._h.setdefault(key, deque())
        if q and t <= q[-1][0]:
            return  # duplicate or out-of-order frame
        q.append((t, sample))
        while q and t - q[0][0] > self.window_s:
            q.popleft()
        self._last[key] = t

    def get(self, key: Any) -> list[tuple[float, Any]]:
        return list(self._h.get(key, ()))

    def span_s(self, key: Any) -> float:
        q = self._h.get(key)
        return q[-1][0] - q[0][0] if q and len(q) > 1 else 0.0

    def evict(self, t: float) -> None:
        for key in [k for k, last in self._last.items() if t - last > self.evict_after_s]:
            del self._h[key], self._last[key]

    def __len__(self) -> int:
        return len(self._h)
