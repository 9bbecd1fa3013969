"""Seated posture rules (第五十三条, 第二十三条): head down, leaning back, slouching, crossed legs.

Each rule reads one staff skeleton per frame. Joints the model did not see make
the finding None ("not visible"), which holds the timer and never counts as
compliant. Thresholds are in body scales (shoulder-width equivalents) or degrees,
so they hold for near and far people.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from pipeline.core.types import Event
from pipeline.rules import measures as m
from pipeline.rules.base import Finding, Rule, register
from pipeline.rules.subjects import PoseParams, TrackHistory, staff_poses, track_key
from pipeline.scene.facts import PersonFact, SceneFacts

SEV = "^(info|low|medium|high)$"


# --- posture.head_down --------------------------------------------------------------------------

class HeadDownParams(PoseParams):
    min_duration_s: float = Field(20.0, ge=0, le=3600, description="Head down this long before an event starts")
    clear_after_s: float = Field(5.0, ge=0, le=600, description="Head up this long ends the event")
    cooldown_s: float = Field(60.0, ge=0, le=86400, description="Quiet time after an event ends")
    head_max_above_shoulder: float = Field(
        0.1, ge=-1, le=1,
        description="Head counts as low when its highest visible point is at most this far above the shoulder "
                    "line (body scales). Upright ~0.5-0.8, bowed over paperwork ~0.2-0.45")
    head_below_shoulder_min: float = Field(
        0.2, ge=0, le=2,
        description="Head this far below the shoulder line (body scales) is at desk level on its own; writers "
                    "bowed over paper measured no lower than 0.14 below on the dev set")
    forward_bend_min_deg: float = Field(35.0, ge=0, le=90,
                                        description="Head low and torso bent forward this much (side view): lying on the desk")
    rest_on_arms_max_dist: float = Field(0.8, ge=0, le=3,
                                         description="Head low with both wrists this close to the head (body scales): head on the arms")
    still_window_s: float = Field(10.0, gt=0, le=600, description="Window over which stillness of a low head is measured")
    still_max_range: float = Field(0.15, ge=0, le=2,
                                   description="Head and wrists moved less than this (body scales) over the window: still, "
                                               "not writing")


@register
class HeadDown(Rule):
    """Head at desk level: lying on the desk, or a low head that stays still (not writing)."""

    rule_id = "posture.head_down"
    article = "第五十三条"
    name_zh = "趴伏桌面"
    name_en = "Head down on the desk"
    Params = HeadDownParams
    evict_after_s = 120.0  # per-track state: a track gone this long is not coming back

    def __init__(self, params: HeadDownParams, ctx: Any):
        super().__init__(params, ctx)
        self._hist = TrackHistory(params.still_window_s, evict_after_s=max(30.0, 2 * params.still_window_s))

    def update(self, facts: SceneFacts) -> list[Event]:
        if facts.online:
            for person, pose, scale in staff_poses(facts, self.params.min_keypoint_conf):
                if pose is not None and scale is not None:
                    pts = [m.head_centre(pose), pose.pt("left_wrist"), pose.pt("right_wrist")]
                    self._hist.add(person.track_id, facts.t, (pts, scale))
            self._hist.evict(facts.t)
        return super().update(facts)

    def _stillness(self, track_id: int) -> tuple[bool | None, float | None]:
        """(still?, largest movement in body scales) over the window; None when too little history."""
        p = self.params
        hist = self._hist.get(track_id)
        if self._hist.span_s(track_id) < 0.8 * p.still_window_s:
            return None, None
        ranges = []
        for j in range(3):
            pts = [s[0][j] / s[1] for _, s in hist if s[0][j] is not None]
            if len(pts) >= 2:
                arr = np.asarray(pts)
                ranges.append(float(np.max(arr.max(0) - arr.min(0))))
            elif j == 0:
                return None, None
        if len(ranges) < 2:  # no wrist seen: writing cannot be told from resting
            return None, None
        worst = max(ranges)
        return worst <= p.still_max_range, worst

    def judge_person(self, person: PersonFact, pose: m.Pose | None, scale: float | None) -> Finding:
        p = self.params
        key = track_key(person)
        kw: dict[str, Any] = {"post_id": person.post_id, "track_ids": (person.track_id,)}
        if pose is None or scale is None:
            return Finding(key, None, **kw)
        hh = m.head_height(pose, scale)
        if hh is None:
            return Finding(key, None, **kw)
        bend = m.forward_bend_deg(pose, scale)
        hc = m.head_centre(pose)
        wr = [m.point_dist(pose, w, hc, scale) for w in ("left_wrist", "right_wrist")]
        vals = {"head_above_shoulder": hh, "torso_forward_deg": bend,
                "left_wrist_to_head": wr[0], "right_wrist_to_head": wr[1]}
        if hh > p.head_max_above_shoulder:
            return Finding(key, False, details=m.rounded(vals), **kw)
        if hh <= -p.head_below_shoulder_min:
            return Finding(key, True, details={**m.rounded(vals), "cue": "head_below_shoulders"}, **kw)
        if bend is not None and bend >= p.forward_bend_min_deg:
            return Finding(key, True, details={**m.rounded(vals), "cue": "bent_forward"}, **kw)
        if all(d is not None and d <= p.rest_on_arms_max_dist for d in wr):
            return Finding(key, True, details={**m.rounded(vals), "cue": "head_on_arms"}, **kw)
        still, moved = self._stillness(person.track_id)
        vals["moved_in_window"] = moved
        if still is None:
            return Finding(key, None, details=m.rounded(vals), **kw)
        return Finding(key, still, details={**m.rounded(vals), **({"cue": "still"} if still else {})}, **kw)

    def judge(self, facts: SceneFacts) -> list[Finding]:
        return [self.judge_person(*x) for x in staff_poses(facts, self.params.min_keypoint_conf)]

    @property
    def state_size(self) -> int:
        return len(self._dwell) + len(self._hist)


# --- posture.lean_back --------------------------------------------------------------------------

class LeanBackParams(PoseParams):
    min_duration_s: float = Field(30.0, ge=0, le=3600, description="Reclined this long before an event starts")
    clear_after_s: float = Field(5.0, ge=0, le=600, description="Upright this long ends the event")
    cooldown_s: float = Field(60.0, ge=0, le=86400, description="Quiet time after an event ends")
    severity: str = Field("low", pattern=SEV, description="Base severity")
    recline_min_deg: float = Field(
        25.0, ge=0, le=90,
        description="Torso tilted back from vertical by at least this much (degrees; ordinary backrest use is 10-20)")
    min_facing: float = Field(0.15, ge=0, le=2, description="Facing cue (body scales) needed to tell back from forward")


@register
class LeanBack(Rule):
    """Torso reclined away from the way the body faces (仰靠椅背). Needs shoulders and hips."""

    rule_id = "posture.lean_back"
    article = "第五十三条"
    name_zh = "仰靠椅背"
    name_en = "Leaning back in the chair"
    Params = LeanBackParams
    evict_after_s = 120.0  # per-track state: a track gone this long is not coming back

    def judge(self, facts: SceneFacts) -> list[Finding]:
        p = self.params
        out = []
        for person, pose, scale in staff_poses(facts, p.min_keypoint_conf):
            kw: dict[str, Any] = {"post_id": person.post_id, "track_ids": (person.track_id,)}
            if pose is None or scale is None:
                out.append(Finding(track_key(person), None, **kw))
                continue
            ang = m.torso_angle_deg(pose)
            bend = m.forward_bend_deg(pose, scale, p.min_facing)
            vals = m.rounded({"torso_angle_deg": ang, "torso_forward_deg": bend}, 1)
            if ang is None:
                cond = None
            elif bend is not None:
                cond = -bend >= p.recline_min_deg
            else:  # frontal view: direction unknown; a torso this upright in the image is not reclined far
                cond = False if abs(ang) < p.recline_min_deg else None
            out.append(Finding(track_key(person), cond, details=vals, **kw))
        return out


# --- posture.slouch -----------------------------------------------------------------------------

class SlouchParams(PoseParams):
    min_duration_s: float = Field(30.0, ge=0, le=3600, description="Tilted this long before an event starts")
    clear_after_s: float = Field(5.0, ge=0, le=600, description="Upright this long ends the event")
    cooldown_s: float = Field(60.0, ge=0, le=86400, description="Quiet time after an event ends")
    severity: str = Field("low", pattern=SEV, description="Base severity")
    lateral_tilt_deg: float = Field(
        35.0, ge=0, le=90,
        description="Torso tilted sideways at least this much (frontal view); leaning over a desk to write or reach "
                    "measures 20-35 degrees on the dev set, so the default sits above it")
    lateral_max_deg: float = Field(70.0, ge=0, le=90,
                                   description="A seated torso tilted more than this is a keypoint error: not visible")
    shoulder_tilt_deg: float = Field(25.0, ge=0, le=90, description="Shoulder line off level at least this much")
    frontal_max_facing: float = Field(0.25, ge=0, le=2,
                                      description="Facing cue under this (body scales) counts as a frontal view")
    min_shoulder_width: float = Field(0.6, ge=0, le=1,
                                      description="Shoulder tilt is judged only when the shoulders span this share of "
                                                  "the body scale (turned bodies fake a tilt)")


@register
class Slouch(Rule):
    """Torso tilted sideways or shoulders slumped to one side (落座不能出现斜、靠)."""

    rule_id = "posture.slouch"
    article = "第二十三条"
    name_zh = "坐姿歪斜"
    name_en = "Slouching sideways"
    Params = SlouchParams
    evict_after_s = 120.0  # per-track state: a track gone this long is not coming back

    def judge(self, facts: SceneFacts) -> list[Finding]:
        p = self.params
        out = []
        for person, pose, scale in staff_poses(facts, p.min_keypoint_conf):
            kw: dict[str, Any] = {"post_id": person.post_id, "track_ids": (person.track_id,)}
            if pose is None or scale is None:
                out.append(Finding(track_key(person), None, **kw))
                continue
            face = m.body_facing_x(pose, scale)
            frontal = face is None or abs(face) < p.frontal_max_facing
            ang = m.torso_angle_deg(pose) if frontal else None
            if ang is not None and abs(ang) > p.lateral_max_deg:
                ang = None
            sw = m.norm_dist(pose, "left_shoulder", "right_shoulder", scale)
            tilt = m.shoulder_tilt_deg(pose) if (sw is not None and sw >= p.min_shoulder_width) else None
            cond: bool | None = None
            if ang is not None or tilt is not None:
                cond = bool((ang is not None and abs(ang) >= p.lateral_tilt_deg)
                            or (tilt is not None and tilt >= p.shoulder_tilt_deg))
            vals = m.rounded({"torso_lateral_deg": ang, "shoulder_tilt_deg": tilt}, 1)
            out.append(Finding(track_key(person), cond, details=vals, **kw))
        return out


# --- posture.legs_crossed -----------------------------------------------------------------------

LEG_JOINTS = ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


class LegsCrossedParams(PoseParams):
    min_duration_s: float = Field(10.0, ge=0, le=3600, description="Legs crossed this long before an event starts")
    clear_after_s: float = Field(3.0, ge=0, le=600, description="Legs uncrossed this long ends the event")
    cooldown_s: float = Field(60.0, ge=0, le=86400, description="Quiet time after an event ends")
    severity: str = Field("low", pattern=SEV, description="Base severity")
    cross_margin: float = Field(0.1, ge=0, le=1,
                                description="Ankles in the opposite left/right order to the hips by at least this "
                                            "(body scales)")
    ankle_on_knee_dist: float = Field(0.45, ge=0, le=2, description="An ankle this close to the other knee: figure-four cross")
    min_shin: float = Field(0.5, ge=0, le=3, description="Shorter shins (body scales) mean guessed, hidden legs: not visible")
    side_view_hip_width: float = Field(0.25, ge=0, le=1,
                                       description="Hips closer than this (body scales) = side view: left/right order "
                                                   "is not used")


@register
class LegsCrossed(Rule):
    """Knees or ankles crossed (跷二郎腿). Judged only where hips, knees and ankles are all visible."""

    rule_id = "posture.legs_crossed"
    article = "第五十三条"
    name_zh = "跷二郎腿"
    name_en = "Legs crossed"
    Params = LegsCrossedParams
    evict_after_s = 120.0  # per-track state: a track gone this long is not coming back

    def judge(self, facts: SceneFacts) -> list[Finding]:
        p = self.params
        out = []
        for person, pose, scale in staff_poses(facts, p.min_keypoint_conf):
            kw: dict[str, Any] = {"post_id": person.post_id, "track_ids": (person.track_id,)}
            if pose is None or scale is None or not pose.ok(*LEG_JOINTS):
                out.append(Finding(track_key(person), None, **kw))  # counters hide legs: never guess
                continue
            lh, rh, lk, rk, la, ra = (pose.pt(n) for n in LEG_JOINTS)
            hip_dx = (lh[0] - rh[0]) / scale
            a_on_k = min(np.hypot(*(la - rk)), np.hypot(*(ra - lk))) / scale
            shin = min(np.hypot(*(lk - la)), np.hypot(*(rk - ra))) / scale
            vals: dict[str, float | None] = {"ankle_on_other_knee": a_on_k, "hip_width": abs(hip_dx), "shin": shin}
            if shin < p.min_shin:  # collapsed legs: the model guessed joints hidden under the desk
                out.append(Finding(track_key(person), None, details=m.rounded(vals), **kw))
                continue
            cond = a_on_k <= p.ankle_on_knee_dist
            if abs(hip_dx) >= p.side_view_hip_width:
                ankle_dx = np.sign(hip_dx) * (la[0] - ra[0]) / scale  # < 0: ankles swapped against the hips
                vals["ankle_order"] = ankle_dx
                cond = cond or ankle_dx <= -p.cross_margin
            out.append(Finding(track_key(person), bool(cond), details=m.rounded(vals), **kw))
        return out
