"""phone.use: a staff member holding a phone (第五十二条; 第五十四条 in front of a customer).

A detected phone is use only when pose attaches it to the person: its centre near a
wrist, or near the nose (a call), in body scales, or a wrist inside its box. A box
that merely overlaps a person, or lies on the desk away from the hands, is not use; a
staff member without visible wrists or face is "cannot judge", never a phone user.

Evidence over time: a track must hold an attached phone in at least `evidence_k` of its
last `evidence_n` analysed frames before the dwell timer starts, so one stray box never
starts an event. A weak box (between `weak_phone_conf` and `min_phone_conf`) counts only
when the pose agrees (hands together in front of the torso, head pitched down); the pose
cue raises its score by `pose_cue_boost`, and the pose cue without a box never counts.

Every finding carries the phone score, the phone box, the crop the phone step saw
(`crop_box`), and in `update` the times of the frames that showed the phone.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from pipeline.config.rule_params import Severity
from pipeline.core.regions import crop_region
from pipeline.rules import measures as m
from pipeline.rules.base import Finding, Rule, register
from pipeline.rules.subjects import PoseParams, staff_poses, track_key
from pipeline.scene.facts import ObjectFact, PersonFact, SceneFacts


class PhoneParams(PoseParams):
    min_duration_s: float = Field(5.0, ge=0, le=3600, description="Phone in hand this long before an event starts")
    clear_after_s: float = Field(5.0, ge=0, le=600, description="No phone in hand this long ends the event")
    cooldown_s: float = Field(60.0, ge=0, le=86400, description="Quiet time after an event ends")
    severity: Severity = Field("medium", description="Severity with no customer at the counter")
    customer_severity: Severity = Field("high", description="Severity while a customer is at that counter (第五十四条)")
    phone_classes: list[str] = Field(
        default_factory=lambda: ["phone", "cell phone"], description="Detector classes that are phones"
    )
    min_phone_conf: float = Field(
        0.10,
        ge=0,
        le=1,
        description="A phone box at or above this score counts "
        "when attached to a hand or the face (chosen on a held-out split: models/README.md)",
    )
    weak_phone_conf: float = Field(
        0.05, ge=0, le=1, description="A weaker box (from this score up) counts only when the pose cue agrees"
    )
    pose_cue_boost: float = Field(0.15, ge=0, le=1, description="Score added to a weak box when the pose cue agrees")
    evidence_k: int = Field(2, ge=1, le=100, description="Phone in hand in at least k ...")
    evidence_n: int = Field(
        3, ge=1, le=100, description="... of the track's last n analysed frames before the dwell starts"
    )
    hand_max_dist: float = Field(
        0.7, ge=0, le=5, description="Phone centre at most this far from a wrist (body scales)"
    )
    face_max_dist: float = Field(
        0.8, ge=0, le=5, description="Phone centre at most this far from the nose (body scales)"
    )
    hand_region: tuple[float, float, float, float] = Field(
        (0.1, 0.35, 0.9, 0.95),
        description="Only with no_pose_fallback: the hand region as fractions of the person box (x0, y0, x1, y1)",
    )
    no_pose_fallback: bool = Field(
        False,
        description="Without pose, count a phone inside the hand region of the "
        "person box (box overlap alone: off by default)",
    )
    pose_cue: bool = Field(True, description="Let the pose cue (hands together, head down) confirm a weak phone box")
    pose_cue_wrists_max: float = Field(
        0.5, ge=0, le=3, description="Pose cue: wrists at most this far apart (body scales)"
    )
    pose_cue_below_shoulder: tuple[float, float] = Field(
        (0.3, 2.0), description="Pose cue: wrists this far below the shoulder line (body scales)"
    )
    pose_cue_head_pitch_min: float = Field(
        0.15, ge=-2, le=2, description="Pose cue: nose at least this far below the ear line (body scales)"
    )

    @model_validator(mode="after")
    def _check(self) -> PhoneParams:
        if self.evidence_k > self.evidence_n:
            raise ValueError(f"evidence_k ({self.evidence_k}) must not exceed evidence_n ({self.evidence_n})")
        if self.weak_phone_conf > self.min_phone_conf:
            raise ValueError(
                f"weak_phone_conf ({self.weak_phone_conf}) must not exceed min_phone_conf ({self.min_phone_conf})"
            )
        return self


def _centre(o: ObjectFact) -> np.ndarray:
    b = np.asarray(o.xyxy, np.float64)
    return np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])


def _inside(pt: np.ndarray | None, box: np.ndarray) -> bool:
    return pt is not None and box[0] <= pt[0] <= box[2] and box[1] <= pt[1] <= box[3]


def _crop_box(person: PersonFact, width: int, height: int) -> list[int]:
    """The region the phone step crops for this person (the same `crop_region` as the phone step)."""
    return [
        int(v)
        for v in crop_region(np.asarray(person.xyxy, np.float32), person.keypoints, person.keypoint_conf, width, height)
    ]


@register
class PhoneUse(Rule):
    """A phone held in the hand or at the face of a staff member."""

    rule_id = "phone.use"
    article = "第五十二条"
    name_zh = "玩手机"
    name_en = "Phone use"
    Params = PhoneParams
    evict_after_s = 120.0  # per-track state: a track gone this long is not coming back

    def __init__(self, params, ctx) -> None:
        super().__init__(params, ctx)
        self._evidence: dict[Any, deque[tuple[float, bool, float]]] = {}

    def _attach(self, pose: m.Pose, scale: float, ph: ObjectFact) -> dict[str, Any] | None:
        """How a phone is attached to this pose (hand or face), or None."""
        p = self.params
        c, box = _centre(ph), np.asarray(ph.xyxy, np.float64)
        dw = [m.point_dist(pose, w, c, scale) for w in ("left_wrist", "right_wrist")]
        dw = [d for d in dw if d is not None]
        df = m.point_dist(pose, "nose", c, scale)
        hand = min(dw, default=np.inf)
        wrist_in = any(_inside(pose.pt(w), box) for w in ("left_wrist", "right_wrist"))
        if hand <= p.hand_max_dist or wrist_in:
            return m.rounded({"phone_to_wrist": hand if dw else None, "phone_to_face": df}) | {"cue": "phone_in_hand"}
        if df is not None and df <= p.face_max_dist:
            return m.rounded({"phone_to_wrist": hand if dw else None, "phone_to_face": df}) | {"cue": "phone_at_face"}
        return None

    def _held(
        self,
        person: PersonFact,
        pose: m.Pose | None,
        scale: float | None,
        phones: list[ObjectFact],
        size: tuple[int, int],
    ) -> tuple[bool | None, dict[str, Any], float]:
        """(held, details, phone score) for one staff member in one frame."""
        p = self.params
        if not phones:
            return False, {}, 0.0
        has_pose = (
            pose is not None
            and scale is not None
            and (pose.ok("left_wrist") or pose.ok("right_wrist") or pose.ok("nose"))
        )
        cue = None
        best: tuple[float, dict[str, Any]] | None = None
        nearest: dict[str, Any] = {}
        for ph in phones:
            conf = float(ph.confidence)
            if has_pose:
                how = self._attach(pose, scale, ph)
                if how is None:
                    if not nearest:
                        c = _centre(ph)
                        dw = [
                            d
                            for d in (m.point_dist(pose, w, c, scale) for w in ("left_wrist", "right_wrist"))
                            if d is not None
                        ]
                        nearest = m.rounded(
                            {
                                "phone_to_wrist": min(dw) if dw else None,
                                "phone_to_face": m.point_dist(pose, "nose", c, scale),
                            }
                        )
                    continue
            elif p.no_pose_fallback:
                x1, y1, x2, y2 = np.asarray(person.xyxy, np.float64)
                c = _centre(ph)
                fx, fy = (c[0] - x1) / max(x2 - x1, 1e-6), (c[1] - y1) / max(y2 - y1, 1e-6)
                r = p.hand_region
                if not (r[0] <= fx <= r[2] and r[1] <= fy <= r[3]):
                    continue
                how = {"cue": "phone_in_hand_region", "phone_box_x": round(fx, 3), "phone_box_y": round(fy, 3)}
            else:
                continue
            score = conf
            if conf < p.min_phone_conf:  # a weak box: only with the pose cue
                if cue is None:
                    cue = self._pose_cue(pose, scale)[0] if (p.pose_cue and has_pose) else False
                if not cue:
                    continue
                score = min(1.0, conf + p.pose_cue_boost)
                how = {**how, "cue": how["cue"] + "+pose_cue"}
            if best is None or score > best[0]:
                best = (
                    score,
                    {
                        **how,
                        "phone_conf": round(conf, 3),
                        "phone_score": round(score, 3),
                        "phone_box": [round(float(v), 1) for v in ph.xyxy],
                        "crop_box": _crop_box(person, *size),
                    },
                )
        if best is not None:
            return True, best[1], best[0]
        if not has_pose and not p.no_pose_fallback:
            # a phone near a person whose hands and face are not visible: cannot be judged
            x1, y1, x2, y2 = np.asarray(person.xyxy, np.float64)
            if any(_inside(_centre(ph), np.array([x1, y1, x2, y2])) for ph in phones):
                return None, {"cue": "no_pose"}, 0.0
        return False, nearest, 0.0

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
        """Frame-level: a phone attached to this staff member in this frame (no evidence over time)."""
        p = self.params
        names = set(p.phone_classes)
        phones = [o for o in facts.objects if o.class_name in names and o.confidence >= p.weak_phone_conf]
        out = []
        for person, pose, scale in staff_poses(facts, p.min_keypoint_conf):
            held, vals, score = self._held(person, pose, scale, phones, facts.frame_size)
            pf = facts.posts.get(person.post_id) if person.post_id else None
            customer = bool(pf is not None and pf.customer_present)
            sev = p.customer_severity if (held and customer) else p.severity
            if held:
                vals = {
                    **vals,
                    "customer_present": customer,
                    "articles": ["第五十二条", "第五十四条"] if customer else ["第五十二条"],
                }
            out.append(
                Finding(
                    track_key(person),
                    held,
                    post_id=person.post_id,
                    track_ids=(person.track_id,),
                    details=vals,
                    severity=sev,
                    score=score if held else 1.0,
                )
            )
        return out

    def update(self, facts: SceneFacts) -> list:
        """Like Rule.update, with k-of-n evidence per track before the dwell sees a True."""
        p = self.params
        out: list = []
        seen: set = set()
        for f in self.judge(facts):
            seen.add(f.key)
            if f.cond is None:
                continue
            ev = self._evidence.setdefault(f.key, deque(maxlen=p.evidence_n))
            if not ev or facts.t > ev[-1][0]:
                ev.append((facts.t, bool(f.cond), float(f.score) if f.cond else 0.0))
            hits = [(t, s) for t, c, s in ev if c]
            cond = bool(f.cond) and len(hits) >= p.evidence_k
            details = dict(f.details)
            if f.cond:
                details |= {
                    "evidence": f"{len(hits)}/{len(ev)}",
                    "phone_frames_t": [round(t, 2) for t, _ in hits],
                    "phone_score_max": round(max(s for _, s in hits), 3),
                }
            out += self.step(
                f.key,
                cond,
                facts,
                post_id=f.post_id,
                track_ids=f.track_ids,
                details=details,
                severity=f.severity,
                score=max((s for _, s in hits), default=1.0) if cond else 1.0,
            )
        if facts.online:
            out += self.step_missing(seen, facts)
        for key in [k for k in self._evidence if k not in self._dwell]:
            del self._evidence[key]  # evicted with its dwell
        return out
