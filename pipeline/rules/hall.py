"""Hall-floor rules: staff gathering (第五十二条), running (第二十三条), queue pressure (第二十九条/第十七条).

Distances and speeds are in person heights (box heights), so the same numbers
hold near and far from the camera. Speed comes from box centres over seconds of
frame time, never from frame counts.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from pipeline.config.rule_params import RuleParams, Severity, TimeWindow
from pipeline.core.types import Event
from pipeline.rules.base import Finding, Rule, register
from pipeline.rules.subjects import TrackHistory, track_key
from pipeline.scene.facts import PersonFact, SceneFacts


def _centre(p: PersonFact) -> np.ndarray:
    b = np.asarray(p.xyxy, np.float64)
    return np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])


def _height(p: PersonFact) -> float:
    b = np.asarray(p.xyxy, np.float64)
    return float(max(b[3] - b[1], 1.0))


def clusters(persons: list[PersonFact], max_dist_heights: float) -> list[list[PersonFact]]:
    """Single-link groups: two people join when their centres are within max_dist of the mean height."""
    n = len(persons)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if n:
        c = np.stack([_centre(p) for p in persons])
        h = np.array([_height(p) for p in persons])
        d = np.hypot(c[:, None, 0] - c[None, :, 0], c[:, None, 1] - c[None, :, 1])
        near = d <= max_dist_heights * (h[:, None] + h[None, :]) / 2
        for i, j in zip(*np.nonzero(np.triu(near, 1)), strict=True):
            parent[find(int(i))] = find(int(j))
    groups: dict[int, list[PersonFact]] = {}
    for i, p in enumerate(persons):
        groups.setdefault(find(i), []).append(p)
    return list(groups.values())


class GatheringParams(RuleParams):
    min_duration_s: float = Field(120.0, ge=0, le=86400, description="Group together this long before an event starts")
    clear_after_s: float = Field(10.0, ge=0, le=3600, description="Group dispersed this long ends the event")
    cooldown_s: float = Field(300.0, ge=0, le=86400, description="Quiet time after an event ends")
    min_people: int = Field(3, ge=2, le=50, description="This many staff or more form a gathering")
    max_dist_heights: float = Field(1.0, gt=0, le=10,
                                    description="Neighbours at most this many person heights apart (centre to centre)")


@register
class StaffGathering(Rule):
    """Staff clustered away from their seats (聚众聊天). One subject per camera: the biggest group."""

    rule_id = "staff.gathering"
    article = "第五十二条"
    name_zh = "聚众聊天"
    name_en = "Staff gathering"
    Params = GatheringParams

    def judge(self, facts: SceneFacts) -> list[Finding]:
        p = self.params
        away = [x for x in facts.persons if x.role == "staff" and x.post_id is None]
        groups = [g for g in clusters(away, p.max_dist_heights) if len(g) >= p.min_people]
        if not groups:
            return [Finding(("gathering",), False)]
        g = max(groups, key=len)
        return [Finding(("gathering",), True, track_ids=tuple(sorted(x.track_id for x in g)),
                        details={"people": len(g), "groups": len(groups)})]


class RunningParams(RuleParams):
    min_duration_s: float = Field(1.0, ge=0, le=600, description="Running speed held this long before an event starts")
    clear_after_s: float = Field(2.0, ge=0, le=600, description="Below running speed this long ends the event")
    cooldown_s: float = Field(30.0, ge=0, le=86400, description="Quiet time after an event ends")
    severity: Severity = Field("low", description="Base severity")
    active: Literal["opening_hours", "always"] | list[TimeWindow] = Field(
        "always", description="When the rule may raise events (running is wrong at any hour)")
    speed_min_heights_per_s: float = Field(
        1.5, gt=0, le=20,
        description="Running speed in person heights per second (walking ~0.7-0.9, jogging 1.8+)")
    window_s: float = Field(1.0, gt=0, le=10, description="Speed is measured over this much frame time")
    track_evict_s: float = Field(10.0, gt=0, le=600, description="Forget a track unseen this long")


@register
class HallRunning(Rule):
    """A staff member moving at running speed; per-track positions kept over a short window."""

    rule_id = "hall.running"
    article = "第二十三条"
    name_zh = "大厅内跑动"
    name_en = "Running in the hall"
    Params = RunningParams
    evict_after_s = 120.0  # per-track state: a track gone this long is not coming back

    def __init__(self, params: RunningParams, ctx: Any):
        super().__init__(params, ctx)
        self._hist = TrackHistory(params.window_s * 1.5, evict_after_s=params.track_evict_s)

    def update(self, facts: SceneFacts) -> list[Event]:
        if facts.online:
            for x in facts.persons:
                if x.role == "staff" and x.track_id >= 0:  # provisional (negative) ids are not identities
                    self._hist.add(x.track_id, facts.t, (_centre(x), _height(x)))
            self._hist.evict(facts.t)
        return super().update(facts)

    def speed(self, track_id: int, t: float) -> float | None:
        """Person heights per second over the last window_s, None with too little history."""
        hist = [(ts, s) for ts, s in self._hist.get(track_id) if ts <= t]
        if len(hist) < 2:
            return None
        t1, (c1, h1) = hist[-1]
        older = [(ts, s) for ts, s in hist if t1 - ts >= 0.5 * self.params.window_s]
        if not older:
            return None
        t0, (c0, h0) = older[-1]
        return float(np.hypot(*(c1 - c0)) / ((h0 + h1) / 2) / (t1 - t0))

    def judge(self, facts: SceneFacts) -> list[Finding]:
        out = []
        for x in facts.persons:
            if x.role != "staff":
                continue
            v = self.speed(x.track_id, facts.t)
            cond = None if v is None else v >= self.params.speed_min_heights_per_s
            out.append(Finding(track_key(x), cond, post_id=x.post_id, track_ids=(x.track_id,),
                               details={} if v is None else {"speed_heights_per_s": round(v, 2)}))
        return out

    @property
    def state_size(self) -> int:
        return len(self._dwell) + len(self._hist)


class QueueParams(RuleParams):
    min_duration_s: float = Field(60.0, ge=0, le=86400, description="Queue over the limit this long before an event starts")
    clear_after_s: float = Field(30.0, ge=0, le=3600, description="Queue under the limit this long ends the event")
    cooldown_s: float = Field(300.0, ge=0, le=86400, description="Quiet time after an event ends")
    max_waiting: int = Field(5, ge=0, le=1000, description="More people than this waiting is pressure")
    call_role: str = Field("B", min_length=1, description="Who the alert asks to help (第十七条: the B role)")


@register
class QueuePressure(Rule):
    """More customers waiting than the hall should let wait: ask the B role to help."""

    rule_id = "hall.queue_pressure"
    article = "第十七条"
    name_zh = "排队人数过多"
    name_en = "Queue pressure"
    Params = QueueParams

    def judge(self, facts: SceneFacts) -> list[Finding]:
        n = facts.waiting_count
        return [Finding(("queue",), n > self.params.max_waiting,
                        details={"waiting_count": n, "max_waiting": self.params.max_waiting,
                                 "call_role": self.params.call_role, "articles": ["第十七条", "第二十九条"]})]
