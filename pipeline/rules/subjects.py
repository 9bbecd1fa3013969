"""Shared pieces for conduct rules: pose parameters, judgeability, staff poses, per-track history.

Rules judge staff only (customers are never judged). A body is judged only when
it can be: big enough in pixels, with the keypoints a measure needs above their
confidence, and a skeleton whose limbs are within human proportions. Otherwise
the rule says "not visible" with the reason in `details` (timers hold; it never
counts as compliant). Per-track memory lives in `TrackHistory`, which drops tracks
not seen for a while so that a 24/7 stream keeps bounded state.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterator
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from pipeline.config.rule_params import RuleParams
from pipeline.core.types import Event
from pipeline.rules.base import Finding, Rule
from pipeline.rules.measures import Pose, body_scale, hip_mid, shoulder_mid
from pipeline.rules.upright import UprightModel
from pipeline.scene.facts import PersonFact, SceneFacts

# Longest a visible segment may be, in body scales (shoulder-width equivalents). Adult
# proportions put the forearm at ~0.65, thigh and shin at ~1.1, nose to shoulder centre
# at ~0.6; projection only shortens, so a longer segment is a keypoint error (a joint
# guessed behind a desk or on a neighbour), never a pose.
MAX_SEGMENT = {
    ("left_elbow", "left_wrist"): 1.15, ("right_elbow", "right_wrist"): 1.15,
    ("left_hip", "left_knee"): 1.8, ("right_hip", "right_knee"): 1.8,
    ("left_knee", "left_ankle"): 1.8, ("right_knee", "right_ankle"): 1.8,
    ("left_eye", "right_eye"): 0.5, ("left_ear", "right_ear"): 0.9,
    ("left_shoulder", "left_wrist"): 2.0, ("right_shoulder", "right_wrist"): 2.0,
}
HEAD_MAX_FROM_SHOULDERS = 1.5  # any head point this far (body scales) from the shoulder centre: not this body's head
TORSO_MAX_PER_UPPER = 2.6  # torso/1.25 this many times the shoulder/upper-arm cue: hips guessed far too low
OUTSIDE_BOX_MAX = 0.25  # a joint this far outside the person box (share of box height): a stray keypoint


class PoseParams(RuleParams):
    """Parameters every pose rule shares."""

    min_keypoint_conf: float = Field(0.3, ge=0, le=1, description="Keypoints under this confidence count as not visible")


class PostureParams(PoseParams):
    """Parameters of the posture and gesture rules: judgeability and evidence over time."""

    min_person_px: float = Field(
        56.0, ge=0, le=4000,
        description="A person box shorter than this (pixels) is too small to judge a posture: not visible")
    min_scale_px: float = Field(
        14.0, ge=0, le=2000,
        description="A body scale (shoulder-width equivalent) under this many pixels is too small to judge: not visible")
    check_plausible: bool = Field(True, description="Skeletons with limbs outside human proportions are not visible")
    evidence_k: int = Field(3, ge=1, le=100, description="The measure must be past its threshold in at least k of the "
                                                         "last n analysed frames before the dwell runs")
    evidence_n: int = Field(5, ge=1, le=100, description="n of the k-of-n evidence window (analysed frames)")


def implausible(pose: Pose, scale: float, box: np.ndarray | None = None) -> str | None:
    """Why this skeleton cannot be a human body (None when it can)."""
    for (a, b), limit in MAX_SEGMENT.items():
        pa, pb = pose.pt(a), pose.pt(b)
        if pa is not None and pb is not None and float(np.hypot(*(pa - pb))) / scale > limit:
            return f"implausible: {a}-{b} {float(np.hypot(*(pa - pb))) / scale:.2f} body scales (max {limit})"
    sh = shoulder_mid(pose)
    if sh is not None:
        for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear"):
            q = pose.pt(n)
            if q is not None and float(np.hypot(*(q - sh))) / scale > HEAD_MAX_FROM_SHOULDERS:
                return f"implausible: {n} {float(np.hypot(*(q - sh))) / scale:.2f} body scales from the shoulders"
    hp = hip_mid(pose)
    if sh is not None and hp is not None:
        upper = []
        if pose.ok("left_shoulder", "right_shoulder"):
            upper.append(float(np.hypot(*(pose.pt("left_shoulder") - pose.pt("right_shoulder")))))
        for s in ("left", "right"):
            if pose.ok(f"{s}_shoulder", f"{s}_elbow"):
                upper.append(float(np.hypot(*(pose.pt(f"{s}_shoulder") - pose.pt(f"{s}_elbow")))) / 0.75)
        torso = float(np.hypot(*(sh - hp))) / 1.25
        if upper and torso > TORSO_MAX_PER_UPPER * max(upper):
            return f"implausible: torso {torso / max(upper):.1f}x the shoulder/arm cue"
    if box is not None:
        x1, y1, x2, y2 = (float(v) for v in box)
        margin = OUTSIDE_BOX_MAX * max(y2 - y1, 1.0)
        ok = pose.conf >= pose.min_conf
        pts = pose.kp[ok]
        if len(pts) and (np.any(pts[:, 0] < x1 - margin) or np.any(pts[:, 0] > x2 + margin)
                         or np.any(pts[:, 1] < y1 - margin) or np.any(pts[:, 1] > y2 + margin)):
            return "implausible: keypoints outside the person box"
    return None


def judgeable(person: PersonFact, pose: Pose | None, scale: float | None, params: PostureParams,
              need: tuple[str, ...] = ()) -> str | None:
    """Why this person cannot be judged by a measure needing joints `need` (None = judgeable)."""
    if pose is None:
        return "no pose"
    x1, y1, x2, y2 = (float(v) for v in person.xyxy)
    if y2 - y1 < params.min_person_px:
        return f"too small: person {y2 - y1:.0f} px tall (min {params.min_person_px:.0f})"
    if scale is None:
        return "no body scale (shoulders, hips and arms not visible)"
    if scale < params.min_scale_px:
        return f"too small: body scale {scale:.0f} px (min {params.min_scale_px:.0f})"
    missing = [n for n in need if not pose.ok(n)]
    if missing:
        return "keypoints not visible: " + ", ".join(missing)
    if params.check_plausible:
        return implausible(pose, scale, person.xyxy)
    return None


def not_visible(key: Hashable, reason: str, details: dict[str, Any] | None = None, **kw: Any) -> Finding:
    return Finding(key, None, details={**(details or {}), "not_visible": reason}, **kw)


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


class PoseRule(Rule):
    """A pose rule with evidence over time.

    The frame judgement must hold in at least `evidence_k` of the last `evidence_n`
    analysed frames (frames where the person could be judged) before the dwell
    runs, so one bad skeleton never starts the clock. A vote is one pose
    measurement: a skeleton that gating or cadence reuses on later frames (the
    same `PersonFact.pose_t`) keeps the timers running on its judgement but adds
    no vote and no series sample of its own. While a dwell runs, the
    rule's main measure (`measure_key` in the finding's details) is kept, and
    events carry its min / median / max over the dwell in `details["series"]`.
    """

    measure_key: ClassVar[str | None] = None
    series_cap: ClassVar[int] = 512

    def __init__(self, params: Any, ctx: Any):
        super().__init__(params, ctx)
        self._votes: dict[Hashable, deque[bool]] = {}
        self._series: dict[Hashable, list[float]] = {}
        self._voted: dict[Hashable, float] = {}  # when the measurement behind each subject's last vote was made

    @property
    def upright(self) -> UprightModel:
        """The camera's upright references (shared through the context; one of its own otherwise)."""
        if self.ctx.upright is None:
            self.ctx.upright = UprightModel()
        return self.ctx.upright

    def reference_deg(self, facts: SceneFacts, person: PersonFact) -> tuple[float | None, str]:
        """The upright direction at this person (None while the post's reference is being learned)."""
        return self.upright.reference(facts, person, self.params.min_keypoint_conf)

    def _idle(self, key: Hashable) -> bool:
        d = self._dwell.get(key)
        return d is None or (not d.active and d.first_true is None)

    def update(self, facts: SceneFacts) -> list[Event]:
        p = self.params
        k, n = min(p.evidence_k, p.evidence_n), p.evidence_n
        if facts.online:
            self.upright.observe(facts, p.min_keypoint_conf)
        out: list[Event] = []
        seen: set = set()
        measured = {p.track_id: p.pose_t for p in facts.persons}
        for f in self.judge(facts):
            seen.add(f.key)
            if f.cond is None or not facts.online:
                continue
            votes = self._votes.setdefault(f.key, deque(maxlen=n))
            mt = measured.get(f.track_ids[0]) if len(f.track_ids) == 1 else None
            fresh = mt is None or not votes or self._voted.get(f.key) != mt
            if fresh:
                votes.append(bool(f.cond))
                if mt is not None:
                    self._voted[f.key] = mt
            # evidence gates the start of the dwell; once it runs, the Dwell's own hysteresis takes over
            cond = bool(f.cond) if not self._idle(f.key) else sum(votes) >= k
            details = dict(f.details)
            series = self._series.setdefault(f.key, [])
            v = details.get(self.measure_key) if self.measure_key else None
            if cond and fresh and isinstance(v, (int, float)):
                series.append(float(v))
                if len(series) > self.series_cap:
                    del series[::2]  # keep the spread with bounded memory
            if series:
                arr = np.asarray(series)
                details["series"] = {"measure": self.measure_key, "min": round(float(arr.min()), 3),
                                     "median": round(float(np.median(arr)), 3),
                                     "max": round(float(arr.max()), 3), "n": len(series)}
            details["evidence"] = f"{sum(votes)}/{len(votes)}"
            out += self.step(f.key, cond, facts, post_id=f.post_id, track_ids=f.track_ids,
                             details=details, severity=f.severity, score=f.score)
            if self._idle(f.key):
                self._series.pop(f.key, None)
        if facts.online:
            out += self.step_missing(seen, facts)
            for key in [x for x in self._votes if x not in seen and self._idle(x)]:
                self._votes.pop(key, None)
                self._series.pop(key, None)
                self._voted.pop(key, None)
        return out

    @property
    def state_size(self) -> int:
        return len(self._dwell) + len(self._votes)
