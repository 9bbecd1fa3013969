"""phone.use: a staff member holding a phone (第五十二条; 第五十四条 in front of a customer).

A detected `cell phone` is use only when it is in a hand or at the face: near a
wrist or the nose in body scales when the pose is known, or inside the hand region
of the person's box when it is not. A phone lying on the desk away from the hands
is not use. Nano COCO detectors miss most phones in CCTV frames, so a pose-only
cue (both hands together in front of the torso, head pitched down) is available
as a secondary signal; it is off by default because writing looks much the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from pipeline.rules import measures as m
from pipeline.rules.base import Finding, Rule, register
from pipeline.rules.subjects import PoseParams, staff_poses, track_key
from pipeline.scene.facts import ObjectFact, PersonFact, SceneFacts

SEV = "^(info|low|medium|high)$"


class PhoneParams(PoseParams):
    min_duration_s: float = Field(5.0, ge=0, le=3600, description="Phone in hand this long before an event starts")
    clear_after_s: float = Field(5.0, ge=0, le=600, description="No phone in hand this long ends the event")
    cooldown_s: float = Field(60.0, ge=0, le=86400, description="Quiet time after an event ends")
    severity: str = Field("medium", pattern=SEV, description="Severity with no customer at the counter")
    customer_severity: str = Field("high", pattern=SEV,
                                   description="Severity while a customer is at that counter (第五十四条)")
    phone_classes: list[str] = Field(default_factory=lambda: ["cell phone"], description="Detector classes that are phones")
    min_phone_conf: float = Field(0.05, ge=0, le=1, description="Ignore phone detections under this confidence "
                                  "(hand-crop detections of phones score low; the dwell time filters one-off boxes)")
    hand_max_dist: float = Field(0.7, ge=0, le=5, description="Phone centre at most this far from a wrist (body scales)")
    face_max_dist: float = Field(0.8, ge=0, le=5, description="Phone centre at most this far from the nose (body scales)")
    hand_region: tuple[float, float, float, float] = Field(
        (0.1, 0.35, 0.9, 0.95),
        description="Without pose: the hand region as fractions of the person box (x0, y0, x1, y1)")
    pose_cue: bool = Field(False, description="Also flag the pose-only cue (hands together, head down) without a phone")
    pose_cue_wrists_max: float = Field(0.5, ge=0, le=3, description="Pose cue: wrists at most this far apart (body scales)")
    pose_cue_below_shoulder: tuple[float, float] = Field(
        (0.3, 2.0), description="Pose cue: wrists this far below the shoulder line (body scales)")
    pose_cue_head_pitch_min: float = Field(0.15, ge=-2, le=2,
                                           description="Pose cue: nose at least this far below the ear line (body scales)")


def _centre(o: ObjectFact) -> np.ndarray:
    b = np.asarray(o.xyxy, np.float64)
    return np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])


@register
class PhoneUse(Rule):
    """A phone held in the hand or at the face of a staff member."""

    rule_id = "phone.use"
    article = "第五十二条"
    name_zh = "玩手机"
    name_en = "Phone use"
    Params = PhoneParams
    evict_after_s = 120.0  # per-track state: a track gone this long is not coming back

    def _held(self, person: PersonFact, pose: m.Pose | None, scale: float | None,
              phones: list[ObjectFact]) -> tuple[bool, dict[str, Any]]:
        p = self.params
        best: dict[str, Any] = {}
        for ph in phones:
            c = _centre(ph)
            if pose is not None and scale is not None and (pose.ok("left_wrist") or pose.ok("right_wrist")
                                                          or pose.ok("nose")):
                dw = [m.point_dist(pose, w, c, scale) for w in ("left_wrist", "right_wrist")]
                dw = [d for d in dw if d is not None]
                df = m.point_dist(pose, "nose", c, scale)
                hand = min(dw, default=np.inf)
                face = np.inf if df is None else df
                if hand <= p.hand_max_dist or face <= p.face_max_dist:
                    return True, m.rounded({"phone_to_wrist": hand if dw else None, "phone_to_face": df,
                                            "phone_conf": ph.confidence}) | {"cue": "phone_in_hand"}
                best = m.rounded({"phone_to_wrist": hand if dw else None, "phone_to_face": df})
                continue
            x1, y1, x2, y2 = np.asarray(person.xyxy, np.float64)
            fx = (c[0] - x1) / max(x2 - x1, 1e-6)
            fy = (c[1] - y1) / max(y2 - y1, 1e-6)
            r = p.hand_region
            if r[0] <= fx <= r[2] and r[1] <= fy <= r[3]:
                return True, {"cue": "phone_in_hand_region", "phone_box_x": round(fx, 3), "phone_box_y": round(fy, 3),
                              "phone_conf": round(float(ph.confidence), 3)}
        return False, best

    def _pose_cue(self, pose: m.Pose | None, scale: float | None) -> tuple[bool | None, dict[str, float | None]]:
        p = self.params
        if pose is None or scale is None or not pose.ok("left_wrist", "right_wrist"):
            return None, {}
        sh, pitch = m.shoulder_mid(pose), m.head_pitch(pose, scale)
        if sh is None or pitch is None:
            return None, {}
        apart = m.norm_dist(pose, "left_wrist", "right_wrist", scale)
        wmid = (pose.pt("left_wrist") + pose.pt("right_wrist")) / 2
        below = (wmid[1] - sh[1]) / scale
        in_front = abs(wmid[0] - sh[0]) / scale <= 0.6
        lo, hi = p.pose_cue_below_shoulder
        cond = apart <= p.pose_cue_wrists_max and lo <= below <= hi and in_front and pitch >= p.pose_cue_head_pitch_min
        return bool(cond), {"wrists_apart": apart, "wrists_below_shoulder": below, "head_pitch": pitch}

    def judge(self, facts: SceneFacts) -> list[Finding]:
        p = self.params
        names = set(p.phone_classes)
        phones = [o for o in facts.objects if o.class_name in names and o.confidence >= p.min_phone_conf]
        out = []
        for person, pose, scale in staff_poses(facts, p.min_keypoint_conf):
            held, vals = self._held(person, pose, scale, phones)
            if not held and p.pose_cue:
                cue, cue_vals = self._pose_cue(pose, scale)
                vals |= m.rounded(cue_vals)
                if cue:
                    held, vals["cue"] = True, "pose_hands_together_head_down"
            pf = facts.posts.get(person.post_id) if person.post_id else None
            customer = bool(pf is not None and pf.customer_present)
            sev = p.customer_severity if (held and customer) else p.severity
            if held:
                vals = {**vals, "customer_present": customer,
                        "articles": ["第五十二条", "第五十四条"] if customer else ["第五十二条"]}
            out.append(Finding(track_key(person), held, post_id=person.post_id, track_ids=(person.track_id,),
                               details=vals, severity=sev))
        return out
