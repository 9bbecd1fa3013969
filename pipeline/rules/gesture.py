"""Arm gestures forbidden when serving customers (第二十九条): arms crossed, chin propped, hands on hips.

Each gesture is a relation between wrists, elbows and the body, measured in body
scales. A gesture whose joints are not visible is None ("not visible").
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from pipeline.config.rule_params import Severity
from pipeline.rules import measures as m
from pipeline.rules.base import Finding, register
from pipeline.rules.subjects import PoseRule, PostureParams, judgeable, not_visible, staff_poses, track_key
from pipeline.scene.facts import SceneFacts

SIDES = (("left", "right"), ("right", "left"))


class _GestureRule(PoseRule):
    """Loops over judgeable staff and delegates one skeleton to `measure`."""

    evict_after_s = 120.0  # per-track state: a track gone this long is not coming back

    def measure(self, pose: m.Pose, scale: float) -> tuple[bool | None, dict[str, float | None]]:
        raise NotImplementedError

    def judge(self, facts: SceneFacts) -> list[Finding]:
        out = []
        for person, pose, scale in staff_poses(facts, self.params.min_keypoint_conf):
            kw: dict[str, Any] = {"post_id": person.post_id, "track_ids": (person.track_id,)}
            why = judgeable(person, pose, scale, self.params)
            if why is not None:
                out.append(not_visible(track_key(person), why, **kw))
                continue
            cond, vals = self.measure(pose, scale)
            if cond is None:
                out.append(not_visible(track_key(person), "keypoints not visible for this gesture",
                                       m.rounded(vals), **kw))
            else:
                out.append(Finding(track_key(person), cond, details=m.rounded(vals), **kw))
        return out


class ArmsCrossedParams(PostureParams):
    min_duration_s: float = Field(5.0, ge=0, le=3600, description="Arms crossed this long before an event starts")
    clear_after_s: float = Field(2.0, ge=0, le=600, description="Arms open this long ends the event")
    cooldown_s: float = Field(60.0, ge=0, le=86400, description="Quiet time after an event ends")
    severity: Severity = Field("low", description="Base severity")
    wrist_to_elbow_max: float = Field(0.6, ge=0, le=3,
                                      description="Each wrist at most this far (body scales) from the opposite elbow")
    min_shoulder_width: float = Field(0.4, ge=0, le=1,
                                      description="Judge only when the shoulders span this share of the body scale")
    chest_band: tuple[float, float] = Field(
        (-0.2, 1.6), description="Wrists between these heights below the shoulder line (body scales): the chest")


@register
class ArmsCrossed(_GestureRule):
    """Each wrist at the opposite elbow, across the chest (双手抱胸)."""

    rule_id = "gesture.arms_crossed"
    article = "第二十九条"
    name_zh = "双手抱胸"
    name_en = "Arms crossed"
    Params = ArmsCrossedParams

    def measure(self, pose: m.Pose, scale: float) -> tuple[bool | None, dict[str, float | None]]:
        p = self.params
        need = ("left_wrist", "right_wrist", "left_elbow", "right_elbow", "left_shoulder", "right_shoulder")
        if not pose.ok(*need):
            return None, {}
        sw = m.norm_dist(pose, "left_shoulder", "right_shoulder", scale)
        if sw < p.min_shoulder_width:
            return None, {"shoulder_width": sw}  # side view: left and right arms overlap, crossing is unknowable
        lw_re = m.norm_dist(pose, "left_wrist", "right_elbow", scale)
        rw_le = m.norm_dist(pose, "right_wrist", "left_elbow", scale)
        crossed = (lw_re < m.norm_dist(pose, "left_wrist", "left_elbow", scale)
                   and rw_le < m.norm_dist(pose, "right_wrist", "right_elbow", scale))
        sh_y = m.shoulder_mid(pose)[1]
        low, high = p.chest_band
        wy = [(pose.pt(w)[1] - sh_y) / scale for w in ("left_wrist", "right_wrist")]
        on_chest = all(low <= y <= high for y in wy)
        cond = on_chest and crossed and lw_re <= p.wrist_to_elbow_max and rw_le <= p.wrist_to_elbow_max
        return bool(cond), {"left_wrist_to_right_elbow": lw_re, "right_wrist_to_left_elbow": rw_le,
                            "wrists_below_shoulder": float(np.mean(wy))}


class ChinRestParams(PostureParams):
    min_duration_s: float = Field(5.0, ge=0, le=3600, description="Chin propped this long before an event starts")
    clear_after_s: float = Field(2.0, ge=0, le=600, description="Hand away this long ends the event")
    cooldown_s: float = Field(60.0, ge=0, le=86400, description="Quiet time after an event ends")
    severity: Severity = Field("low", description="Base severity")
    wrist_to_chin_max: float = Field(0.45, ge=0, le=3,
                                     description="Wrist at most this far from the chin or a cheek (body scales)")
    wrist_above_nose_max: float = Field(0.1, ge=0, le=2,
                                        description="Wrist at most this far above the nose (body scales): below the nose")
    elbow_below_wrist_min: float = Field(0.3, ge=0, le=3,
                                         description="Elbow at least this much lower than the wrist (body scales): "
                                                     "a propping forearm")
    forearm_max_from_vertical_deg: float = Field(
        55.0, ge=0, le=90, description="The forearm (elbow -> wrist) points up within this angle of the vertical")
    ear_share_max: float = Field(
        0.8, ge=0, le=2,
        description="A wrist nearer an ear than this share of its distance to the chin/cheek is a phone call, not a prop")


def face_targets(pose: m.Pose, scale: float) -> dict[str, np.ndarray]:
    """Where a propping hand rests: the chin and each cheek (between nose and ear, a little below the nose)."""
    out: dict[str, np.ndarray] = {}
    chin = m.chin_point(pose, scale)
    if chin is not None:
        out["chin"] = chin
    nose = pose.pt("nose")
    for side, _ in SIDES:
        ear = pose.pt(f"{side}_ear")
        if nose is not None and ear is not None:
            out[f"{side}_cheek"] = (nose + ear) / 2.0 + np.array([0.0, 0.12 * scale])
    return out


@register
class ChinRest(_GestureRule):
    """A hand propping the chin or cheek (托腮), either hand: wrist at the chin or a cheek, below the
    nose, forearm raised (elbow lower, pointing up). A wrist nearer an ear is left out: a phone call.
    """

    rule_id = "gesture.chin_rest"
    article = "第二十九条"
    name_zh = "托腮"
    name_en = "Chin propped on a hand"
    Params = ChinRestParams
    measure_key = "wrist_to_face"

    def measure(self, pose: m.Pose, scale: float) -> tuple[bool | None, dict[str, float | None]]:
        p = self.params
        nose = pose.pt("nose")
        targets = face_targets(pose, scale)
        if nose is None or not targets:
            return None, {}
        judged, hit, best = False, False, None
        vals: dict[str, float | None] = {}
        for side, _ in SIDES:
            w, e = pose.pt(f"{side}_wrist"), pose.pt(f"{side}_elbow")
            if w is None or e is None:
                continue
            judged = True
            d_face = min(float(np.hypot(*(w - q))) / scale for q in targets.values())
            ears = [m.point_dist(pose, f"{s}_ear", w, scale) for s, _ in SIDES]
            d_ear = min([d for d in ears if d is not None], default=np.inf)
            elbow_lower = (e[1] - w[1]) / scale
            above_nose = (nose[1] - w[1]) / scale
            fa = w - e
            from_vertical = float(np.degrees(np.arctan2(abs(fa[0]), -fa[1]))) if np.hypot(*fa) > 1e-6 else 180.0
            ok = (d_face <= p.wrist_to_chin_max and above_nose <= p.wrist_above_nose_max
                  and elbow_lower >= p.elbow_below_wrist_min and from_vertical <= p.forearm_max_from_vertical_deg
                  and d_ear >= p.ear_share_max * d_face)
            hit = hit or ok
            if best is None or d_face < best:
                best = d_face
                vals = {"wrist_to_face": d_face, "elbow_below_wrist": elbow_lower, "wrist_above_nose": above_nose,
                        "forearm_from_vertical_deg": from_vertical}
        return (bool(hit) if judged else None), vals


class HandsOnHipsParams(PostureParams):
    min_duration_s: float = Field(5.0, ge=0, le=3600, description="Hands on hips this long before an event starts")
    clear_after_s: float = Field(2.0, ge=0, le=600, description="Hands away this long ends the event")
    cooldown_s: float = Field(60.0, ge=0, le=86400, description="Quiet time after an event ends")
    severity: Severity = Field("low", description="Base severity")
    wrist_to_hip_max: float = Field(0.45, ge=0, le=3, description="Wrist at most this far from the same-side hip (body scales)")
    elbow_out_min: float = Field(0.15, ge=0, le=3,
                                 description="Elbow at least this far outside the same-side shoulder (body scales)")
    elbow_angle_max_deg: float = Field(140.0, ge=0, le=180, description="Elbow bent at least this much (interior angle)")
    elbow_height_frac: tuple[float, float] = Field(
        (0.2, 0.75), description="Elbow height between shoulder (0) and hip (1): arms akimbo hold the elbow at the "
                                 "waist, forearms on a desk put it level with the hands")
    wrist_inside_hip_max: float = Field(0.15, ge=0, le=2,
                                        description="Wrist at most this far inside the same-side hip (body scales): "
                                                    "hands in front of the belly are not on the hips")
    require_standing: bool = Field(True, description="Judge only standing people (a knee well below its hip). Seated at a "
                                                     "desk, hidden hips are guessed next to hands resting on the desk, "
                                                     "which looks exactly like hands on hips")
    standing_thigh_drop: float = Field(0.6, ge=0, le=3, description="Knee at least this far below the hip (body scales): standing")
    both_hands: bool = Field(False, description="Require both hands on the hips (default: one is enough)")


@register
class HandsOnHips(_GestureRule):
    """Hands on hips with elbows out (叉腰). Needs the hips, so a counter that hides them gives None."""

    rule_id = "gesture.hands_on_hips"
    article = "第二十九条"
    name_zh = "叉腰"
    name_en = "Hands on hips"
    Params = HandsOnHipsParams

    def measure(self, pose: m.Pose, scale: float) -> tuple[bool | None, dict[str, float | None]]:
        p = self.params
        if not pose.ok("left_shoulder", "right_shoulder"):
            return None, {}
        results: list[bool] = []
        vals: dict[str, float | None] = {}
        if p.require_standing:
            drops = [(pose.pt(f"{s}_knee")[1] - pose.pt(f"{s}_hip")[1]) / scale
                     for s, _ in SIDES if pose.ok(f"{s}_knee", f"{s}_hip")]
            if not drops:
                return None, {}
            vals["thigh_drop"] = max(drops)
            if max(drops) < p.standing_thigh_drop:
                return False, vals  # seated: not this gesture
        for side, other in SIDES:
            if not pose.ok(f"{side}_wrist", f"{side}_elbow", f"{side}_hip"):
                continue
            out_dir = np.sign(pose.pt(f"{side}_shoulder")[0] - pose.pt(f"{other}_shoulder")[0]) or 1.0
            d_hip = m.norm_dist(pose, f"{side}_wrist", f"{side}_hip", scale)
            elbow_out = out_dir * (pose.pt(f"{side}_elbow")[0] - pose.pt(f"{side}_shoulder")[0]) / scale
            angle = m.joint_angle_deg(pose, f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist")
            sy, hy = pose.pt(f"{side}_shoulder")[1], pose.pt(f"{side}_hip")[1]
            frac = (pose.pt(f"{side}_elbow")[1] - sy) / (hy - sy) if hy - sy > 1e-6 else None
            inside = out_dir * (pose.pt(f"{side}_hip")[0] - pose.pt(f"{side}_wrist")[0]) / scale
            lo, hi = p.elbow_height_frac
            results.append(bool(d_hip <= p.wrist_to_hip_max and elbow_out >= p.elbow_out_min
                                and angle is not None and angle <= p.elbow_angle_max_deg
                                and frac is not None and lo <= frac <= hi and inside <= p.wrist_inside_hip_max))
            vals |= {f"{side}_wrist_to_hip": d_hip, f"{side}_elbow_out": elbow_out, f"{side}_elbow_deg": angle,
                     f"{side}_elbow_height_frac": frac, f"{side}_wrist_inside_hip": inside}
        if not results:
            return None, vals
        if p.both_hands:
            return (all(results) if len(results) == 2 else (False if not any(results) else None)), vals
        return any(results), vals
