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

from pipeline.config.rule_params import Severity
from pipeline.core.types import Event
from pipeline.rules import measures as m
from pipeline.rules.base import Finding, register
from pipeline.rules.subjects import (
    PoseRule,
    PostureParams,
    TrackHistory,
    judgeable,
    not_visible,
    staff_poses,
    track_key,
)
from pipeline.scene.facts import PersonFact, SceneFacts

# --- posture.head_down --------------------------------------------------------------------------

FACE = ("nose", "left_eye", "right_eye")


class HeadDownParams(PostureParams):
    min_duration_s: float = Field(20.0, ge=0, le=3600, description="Head down this long before an event starts")
    clear_after_s: float = Field(5.0, ge=0, le=600, description="Head up this long ends the event")
    cooldown_s: float = Field(60.0, ge=0, le=86400, description="Quiet time after an event ends")
    head_max_above_shoulder: float = Field(
        0.1, ge=-1, le=1,
        description="Head counts as low when its highest visible point is at most this far above the shoulder "
                    "line (body scales). Upright ~0.5-0.8, bowed over paperwork ~0.2-0.45")
    box_top_max_above_shoulder: float = Field(
        0.3, ge=-1, le=2,
        description="With no head keypoint seen, the head counts as low when the top of the person box is at most "
                    "this far above the shoulder line (body scales): nothing of the head sticks up")
    head_below_shoulder_min: float = Field(
        0.2, ge=0, le=2,
        description="Head this far below the shoulder line (body scales) is at desk level on its own; writers "
                    "bowed over paper measured no lower than 0.14 below on the dev set")
    face_down_pitch_min: float = Field(
        0.0, ge=-1, le=2,
        description="Face points at the desk when the nose is at least this far below the ear line (body scales)")
    forward_bend_min_deg: float = Field(35.0, ge=0, le=90,
                                        description="Head low and torso bent forward this much (side view): lying on the desk")
    rest_on_arms_max_dist: float = Field(0.8, ge=0, le=3,
                                         description="Head low with both wrists this close to the head (body scales): head on the arms")
    still_window_s: float = Field(10.0, gt=0, le=600, description="Window over which stillness of a low head is measured")
    still_max_range: float = Field(0.15, ge=0, le=2,
                                   description="Head and wrists moved less than this (body scales) over the window: still, "
                                               "not writing")


@register
class HeadDown(PoseRule):
    """Asleep at the desk (趴伏桌面): head at or below the shoulder line, face hidden or pointing at the
    desk, and head and wrists still over the window. Writing with the head bowed (wrists moving, head
    above the desk) stays out. On a single frame (no history) only a head clearly at desk level
    (below the shoulders, or resting on the arms) counts; otherwise stillness decides.
    """

    rule_id = "posture.head_down"
    article = "第五十三条"
    name_zh = "趴伏桌面"
    name_en = "Head down on the desk"
    Params = HeadDownParams
    evict_after_s = 120.0  # per-track state: a track gone this long is not coming back
    measure_key = "head_above_shoulder"

    def __init__(self, params: HeadDownParams, ctx: Any):
        super().__init__(params, ctx)
        self._hist = TrackHistory(params.still_window_s, evict_after_s=max(30.0, 2 * params.still_window_s))

    def update(self, facts: SceneFacts) -> list[Event]:
        p = self.params
        if facts.online:
            for person, pose, scale in staff_poses(facts, p.min_keypoint_conf):
                if pose is not None and scale is not None:
                    pts = [m.head_centre(pose), pose.pt("left_wrist"), pose.pt("right_wrist")]
                    hh = m.head_height(pose, scale)
                    self._hist.add(person.track_id, facts.t, (pts, scale, hh is None or hh <= p.head_max_above_shoulder))
            self._hist.evict(facts.t)
        return super().update(facts)

    def _stillness(self, track_id: int) -> tuple[bool | None, float | None]:
        """(still?, largest movement in body scales) while the head has been low.

        Only the trailing run of low-head samples counts, so lowering the head onto the
        desk is not "movement". Movement beyond the limit is known at once (False);
        stillness only once the run spans most of the window.
        """
        p = self.params
        hist = self._hist.get(track_id)
        run = []
        for t, s in reversed(hist):
            if not s[2]:
                break
            run.append((t, s))
        if len(run) < 2:
            return None, None
        span = run[0][0] - run[-1][0]
        ranges = []
        for j in range(3):
            pts = [s[0][j] / s[1] for _, s in run if s[0][j] is not None]
            if len(pts) >= 2:
                arr = np.asarray(pts)
                ranges.append(float(np.max(arr.max(0) - arr.min(0))))
        if not ranges:
            return None, None
        worst = max(ranges)
        if worst > p.still_max_range:
            return False, worst
        if span < 0.8 * p.still_window_s or len(ranges) < 2:  # too short, or no wrist: writing not ruled out
            return None, worst
        return True, worst

    def judge_person(self, person: PersonFact, pose: m.Pose | None, scale: float | None) -> Finding:
        p = self.params
        key = track_key(person)
        kw: dict[str, Any] = {"post_id": person.post_id, "track_ids": (person.track_id,)}
        why = judgeable(person, pose, scale, p)
        if why is not None:
            return not_visible(key, why, **kw)
        sh = m.shoulder_mid(pose)
        if sh is None:
            return not_visible(key, "keypoints not visible: shoulders", **kw)
        hh = m.head_height(pose, scale)
        box_top = float((sh[1] - float(person.xyxy[1])) / scale)
        face_seen = any(pose.ok(n) for n in FACE)
        pitch = m.head_pitch(pose, scale)
        bend = m.forward_bend_deg(pose, scale)
        hc = m.head_centre(pose)
        wr = [m.point_dist(pose, w, hc, scale) if hc is not None else None for w in ("left_wrist", "right_wrist")]
        vals = {"head_above_shoulder": hh, "box_top_above_shoulder": box_top, "head_pitch": pitch,
                "torso_forward_deg": bend, "left_wrist_to_head": wr[0], "right_wrist_to_head": wr[1]}
        if hh is None:  # no head keypoint at all: the box says whether anything of the head rises above
            if box_top > p.box_top_max_above_shoulder:
                return not_visible(key, "head keypoints not visible", m.rounded(vals), **kw)
            low, face_down = True, True
        else:
            low = hh <= p.head_max_above_shoulder
            face_down = (not face_seen) or (pitch is not None and pitch >= p.face_down_pitch_min) or pitch is None
        if not low:
            return Finding(key, False, details=m.rounded(vals), **kw)
        if not face_down:  # head low but the face looks up or ahead: hunched, not asleep
            return Finding(key, False, details={**m.rounded(vals), "face": "forward"}, **kw)
        still, moved = self._stillness(person.track_id)
        vals["moved_in_window"] = moved
        if still is False:  # the head or a hand moves: writing, reading, working
            return Finding(key, False, details={**m.rounded(vals), "moving": True}, **kw)
        cue = None
        if hh is not None and hh <= -p.head_below_shoulder_min:
            cue = "head_below_shoulders"
        elif hh is None:
            cue = "still" if still else None  # a hidden head is judged on stillness alone
        elif bend is not None and bend >= p.forward_bend_min_deg:
            cue = "bent_forward"
        elif all(d is not None and d <= p.rest_on_arms_max_dist for d in wr):
            cue = "head_on_arms"
        elif still:
            cue = "still"
        if cue is None:
            return not_visible(key, "head low, stillness not yet known", m.rounded(vals), **kw)
        return Finding(key, True, details={**m.rounded(vals), "cue": cue}, **kw)

    def judge(self, facts: SceneFacts) -> list[Finding]:
        return [self.judge_person(*x) for x in staff_poses(facts, self.params.min_keypoint_conf)]

    @property
    def state_size(self) -> int:
        return super().state_size + len(self._hist)


# --- posture.lean_back --------------------------------------------------------------------------

TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")


def torso_visible(pose: m.Pose, scale: float, min_torso: float) -> str | None:
    """Why the torso axis cannot be measured (None when it can)."""
    if m.shoulder_mid(pose) is None or m.hip_mid(pose) is None:
        return "keypoints not visible: shoulders or hips"
    length = float(np.hypot(*(m.shoulder_mid(pose) - m.hip_mid(pose)))) / scale
    if length < min_torso:
        return f"torso foreshortened: {length:.2f} body scales (min {min_torso})"
    return None


class LeanBackParams(PostureParams):
    min_duration_s: float = Field(30.0, ge=0, le=3600, description="Reclined this long before an event starts")
    clear_after_s: float = Field(5.0, ge=0, le=600, description="Upright this long ends the event")
    cooldown_s: float = Field(60.0, ge=0, le=86400, description="Quiet time after an event ends")
    severity: Severity = Field("low", description="Base severity")
    recline_min_deg: float = Field(
        25.0, ge=0, le=90,
        description="Torso tilted back from the seat's upright by at least this much (degrees; ordinary backrest "
                    "use is 10-20)")
    min_facing: float = Field(0.15, ge=0, le=2, description="Facing cue (body scales) needed to tell back from forward")
    min_torso: float = Field(0.6, ge=0, le=3,
                             description="Shoulder-to-hip length (body scales) below which the torso is seen end-on "
                                         "or its hips are guessed: not visible")


@register
class LeanBack(PoseRule):
    """Torso reclined away from the way the body faces (仰靠椅背), measured from the seat's upright."""

    rule_id = "posture.lean_back"
    article = "第五十三条"
    name_zh = "仰靠椅背"
    name_en = "Leaning back in the chair"
    Params = LeanBackParams
    evict_after_s = 120.0  # per-track state: a track gone this long is not coming back
    measure_key = "recline_deg"

    def judge(self, facts: SceneFacts) -> list[Finding]:
        p = self.params
        out = []
        for person, pose, scale in staff_poses(facts, p.min_keypoint_conf):
            kw: dict[str, Any] = {"post_id": person.post_id, "track_ids": (person.track_id,)}
            key = track_key(person)
            why = judgeable(person, pose, scale, p) or torso_visible(pose, scale, p.min_torso)
            if why is not None:
                out.append(not_visible(key, why, **kw))
                continue
            ref, src = self.reference_deg(facts, person)
            if ref is None:
                out.append(not_visible(key, f"upright reference: {src}", **kw))
                continue
            ang = m.torso_angle_deg(pose) - ref
            bend = m.forward_bend_deg(pose, scale, p.min_facing, ref_deg=ref)
            vals = m.rounded({"torso_angle_deg": ang, "torso_forward_deg": bend, "upright_ref_deg": ref,
                              "recline_deg": None if bend is None else -bend}, 1)
            vals["upright_ref"] = src
            if bend is not None:
                out.append(Finding(key, -bend >= p.recline_min_deg, details=vals, **kw))
            elif abs(ang) < p.recline_min_deg:  # frontal: direction unknown, but this upright is not reclined far
                out.append(Finding(key, False, details=vals, **kw))
            else:
                out.append(not_visible(key, "frontal view: forward or back unknown", vals, **kw))
        return out


# --- posture.slouch -----------------------------------------------------------------------------

class SlouchParams(PostureParams):
    min_duration_s: float = Field(30.0, ge=0, le=3600, description="Tilted this long before an event starts")
    clear_after_s: float = Field(5.0, ge=0, le=600, description="Upright this long ends the event")
    cooldown_s: float = Field(60.0, ge=0, le=86400, description="Quiet time after an event ends")
    severity: Severity = Field("low", description="Base severity")
    lateral_tilt_deg: float = Field(
        22.0, ge=0, le=90,
        description="Torso tilted sideways from the seat's upright by at least this much (frontal view)")
    lateral_max_deg: float = Field(70.0, ge=0, le=90,
                                   description="A seated torso tilted more than this is a keypoint error: not visible")
    shoulder_tilt_deg: float = Field(25.0, ge=0, le=90,
                                     description="Shoulder line off the seat's level at least this much")
    frontal_max_facing: float = Field(0.25, ge=0, le=2,
                                      description="Facing cue under this (body scales) counts as a frontal view")
    min_shoulder_width: float = Field(0.6, ge=0, le=1,
                                      description="Shoulder tilt is judged only when the shoulders span this share of "
                                                  "the body scale (turned bodies fake a tilt)")
    min_torso: float = Field(0.6, ge=0, le=3,
                             description="Shoulder-to-hip length (body scales) below which the torso axis is not used")
    shoulder_agree_share: float = Field(
        0.4, ge=0, le=1,
        description="A torso tilt counts only when the shoulder line tilts the same way by at least this share of it")


@register
class Slouch(PoseRule):
    """Torso tilted sideways or shoulders slumped to one side (落座不能出现斜、靠), from the seat's upright."""

    rule_id = "posture.slouch"
    article = "第二十三条"
    name_zh = "坐姿歪斜"
    name_en = "Slouching sideways"
    Params = SlouchParams
    evict_after_s = 120.0  # per-track state: a track gone this long is not coming back
    measure_key = "tilt_deg"

    def judge(self, facts: SceneFacts) -> list[Finding]:
        p = self.params
        out = []
        for person, pose, scale in staff_poses(facts, p.min_keypoint_conf):
            kw: dict[str, Any] = {"post_id": person.post_id, "track_ids": (person.track_id,)}
            key = track_key(person)
            why = judgeable(person, pose, scale, p)
            if why is not None:
                out.append(not_visible(key, why, **kw))
                continue
            ref, src = self.reference_deg(facts, person)
            if ref is None:
                out.append(not_visible(key, f"upright reference: {src}", **kw))
                continue
            face = m.body_facing_x(pose, scale)
            frontal = face is None or abs(face) < p.frontal_max_facing
            ang = None
            if frontal and torso_visible(pose, scale, p.min_torso) is None:
                ang = m.torso_angle_deg(pose) - ref
                if abs(ang) > p.lateral_max_deg:
                    ang = None
            sw = m.norm_dist(pose, "left_shoulder", "right_shoulder", scale)
            line = m.shoulder_line_deg(pose) if (sw is not None and sw >= p.min_shoulder_width) else None
            tilt = None if line is None else line - ref
            vals = m.rounded({"torso_lateral_deg": ang, "shoulder_tilt_deg": tilt, "upright_ref_deg": ref}, 1)
            vals["upright_ref"] = src
            if ang is None and tilt is None:
                out.append(not_visible(key, "side view or torso not visible", vals, **kw))
                continue
            if ang is not None and tilt is None:
                out.append(not_visible(key, "shoulder line not measurable: a torso tilt cannot be confirmed",
                                       vals, **kw))
                continue
            if ang is not None:
                # a body slumped sideways tilts the shoulder line with the torso; a torso "tilt" with level
                # shoulders is a forward lean seen at an angle or a misplaced hip
                agree = tilt * np.sign(ang) >= p.shoulder_agree_share * abs(ang)
                torso_hit = abs(ang) >= p.lateral_tilt_deg and agree
                vals["shoulders_agree"] = bool(agree)
            else:
                torso_hit = False
            shoulder_hit = abs(tilt) >= p.shoulder_tilt_deg and (ang is None or tilt * ang > 0)
            worst = max(abs(ang) if ang is not None else 0.0, abs(tilt) * p.lateral_tilt_deg / p.shoulder_tilt_deg)
            vals["tilt_deg"] = round(worst, 1)
            out.append(Finding(key, bool(torso_hit or shoulder_hit), details=vals, **kw))
        return out


# --- posture.legs_crossed -----------------------------------------------------------------------

LEG_JOINTS = ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


class LegsCrossedParams(PostureParams):
    min_duration_s: float = Field(10.0, ge=0, le=3600, description="Legs crossed this long before an event starts")
    clear_after_s: float = Field(3.0, ge=0, le=600, description="Legs uncrossed this long ends the event")
    cooldown_s: float = Field(60.0, ge=0, le=86400, description="Quiet time after an event ends")
    severity: Severity = Field("low", description="Base severity")
    cross_margin: float = Field(0.1, ge=0, le=1,
                                description="Ankles in the opposite left/right order to the hips by at least this "
                                            "(body scales)")
    ankle_on_knee_dist: float = Field(0.45, ge=0, le=2, description="An ankle this close to the other knee: figure-four cross")
    min_shin: float = Field(0.5, ge=0, le=3, description="Shorter shins (body scales) mean guessed, hidden legs: not visible")
    side_view_hip_width: float = Field(0.25, ge=0, le=1,
                                       description="Hips closer than this (body scales) = side view: left/right order "
                                                   "is not used")


@register
class LegsCrossed(PoseRule):
    """Knees or ankles crossed (跷二郎腿). Judged only where hips, knees and ankles are all visible."""

    rule_id = "posture.legs_crossed"
    article = "第五十三条"
    name_zh = "跷二郎腿"
    name_en = "Legs crossed"
    Params = LegsCrossedParams
    evict_after_s = 120.0  # per-track state: a track gone this long is not coming back
    measure_key = "ankle_on_other_knee"

    def judge(self, facts: SceneFacts) -> list[Finding]:
        p = self.params
        out = []
        for person, pose, scale in staff_poses(facts, p.min_keypoint_conf):
            kw: dict[str, Any] = {"post_id": person.post_id, "track_ids": (person.track_id,)}
            why = judgeable(person, pose, scale, p, LEG_JOINTS)  # counters hide legs: never guess
            if why is not None:
                out.append(not_visible(track_key(person), why, **kw))
                continue
            lh, rh, lk, rk, la, ra = (pose.pt(n) for n in LEG_JOINTS)
            hip_dx = (lh[0] - rh[0]) / scale
            a_on_k = min(np.hypot(*(la - rk)), np.hypot(*(ra - lk))) / scale
            shin = min(np.hypot(*(lk - la)), np.hypot(*(rk - ra))) / scale
            vals: dict[str, float | None] = {"ankle_on_other_knee": a_on_k, "hip_width": abs(hip_dx), "shin": shin}
            if shin < p.min_shin:  # collapsed legs: the model guessed joints hidden under the desk
                out.append(not_visible(track_key(person), "legs collapsed: joints guessed", m.rounded(vals), **kw))
                continue
            cond = a_on_k <= p.ankle_on_knee_dist
            if abs(hip_dx) >= p.side_view_hip_width:
                ankle_dx = np.sign(hip_dx) * (la[0] - ra[0]) / scale  # < 0: ankles swapped against the hips
                vals["ankle_order"] = ankle_dx
                cond = cond or ankle_dx <= -p.cross_margin
            out.append(Finding(track_key(person), bool(cond), details=m.rounded(vals), **kw))
        return out
