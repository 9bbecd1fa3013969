"""Pose geometry for conduct rules: pure numpy on one COCO-17 skeleton.

Every length is divided by a body scale so that thresholds hold for near and far
people alike. Image y grows downwards, so "above" means a smaller y. A joint whose
confidence is under `min_conf` does not exist here: a measure that needs it
returns None ("not visible"), and rules turn None into "cannot judge", never into
"compliant". The same functions serve YOLO-pose and MediaPipe (mapped to COCO-17).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pipeline.core.skeleton import KP

DEFAULT_MIN_CONF = 0.3

# Typical adult proportions in shoulder-width units (shoulder width = 1).
# Used only to turn other limb lengths into a shoulder-width equivalent when the
# shoulders are foreshortened (side view): torso ~1.25, upper arm ~0.75.
_TORSO_PER_SW = 1.25
_UPPER_ARM_PER_SW = 0.75


@dataclass(frozen=True)
class Pose:
    """One skeleton with its confidence gate. Joints are read by COCO name."""

    kp: np.ndarray  # (17,2) pixels
    conf: np.ndarray  # (17,)
    min_conf: float = DEFAULT_MIN_CONF

    @classmethod
    def of(cls, keypoints: np.ndarray | None, keypoint_conf: np.ndarray | None,
           min_conf: float = DEFAULT_MIN_CONF) -> Pose | None:
        if keypoints is None or keypoint_conf is None:
            return None
        kp = np.asarray(keypoints, np.float64).reshape(-1, 2)
        kc = np.asarray(keypoint_conf, np.float64).reshape(-1)
        if kp.shape[0] != 17 or kc.shape[0] != 17:
            raise ValueError(f"pose must be COCO-17 (17 keypoints), but got {kp.shape[0]} points / {kc.shape[0]} confs")
        return cls(kp, kc, min_conf)

    def ok(self, *names: str) -> bool:
        return all(self.conf[KP[n]] >= self.min_conf and np.all(np.isfinite(self.kp[KP[n]])) for n in names)

    def pt(self, name: str) -> np.ndarray | None:
        return self.kp[KP[name]] if self.ok(name) else None

    def mid(self, a: str, b: str, allow_one: bool = False) -> np.ndarray | None:
        pa, pb = self.pt(a), self.pt(b)
        if pa is not None and pb is not None:
            return (pa + pb) / 2.0
        if allow_one:
            return pa if pa is not None else pb
        return None


def _dist(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.hypot(*(a - b)))


def body_scale(p: Pose) -> float | None:
    """Shoulder-width equivalent in pixels: the largest of the available cues.

    Projection only ever shortens a limb, so the maximum over shoulder width,
    torso length and upper-arm length (each converted to shoulder widths) is the
    estimate least hurt by a turned or bent body.
    """
    cands: list[float] = []
    if p.ok("left_shoulder", "right_shoulder"):
        cands.append(_dist(p.pt("left_shoulder"), p.pt("right_shoulder")))
    sh, hp = p.mid("left_shoulder", "right_shoulder", True), p.mid("left_hip", "right_hip", True)
    if sh is not None and hp is not None:
        cands.append(_dist(sh, hp) / _TORSO_PER_SW)
    for side in ("left", "right"):
        if p.ok(f"{side}_shoulder", f"{side}_elbow"):
            cands.append(_dist(p.pt(f"{side}_shoulder"), p.pt(f"{side}_elbow")) / _UPPER_ARM_PER_SW)
    scale = max(cands) if cands else 0.0
    return scale if scale > 1.0 else None


def shoulder_mid(p: Pose) -> np.ndarray | None:
    return p.mid("left_shoulder", "right_shoulder", allow_one=True)


def hip_mid(p: Pose) -> np.ndarray | None:
    return p.mid("left_hip", "right_hip", allow_one=True)


def torso_angle_deg(p: Pose) -> float | None:
    """Signed angle of hip-mid -> shoulder-mid from image vertical; + = leaning to image right."""
    sh, hp = shoulder_mid(p), hip_mid(p)
    if sh is None or hp is None:
        return None
    v = sh - hp
    if np.hypot(*v) < 1e-6:
        return None
    return math.degrees(math.atan2(v[0], -v[1]))


def shoulder_tilt_deg(p: Pose) -> float | None:
    """Angle of the shoulder line from horizontal (0 = level), unsigned, in degrees."""
    ls, rs = p.pt("left_shoulder"), p.pt("right_shoulder")
    if ls is None or rs is None:
        return None
    dx, dy = abs(ls[0] - rs[0]), abs(ls[1] - rs[1])
    if dx + dy < 1e-6:
        return None
    return math.degrees(math.atan2(dy, dx))


def shoulder_line_deg(p: Pose) -> float | None:
    """Signed angle of the shoulder line (image-left shoulder -> image-right shoulder) from horizontal.

    + when the image-right shoulder is lower; a rigid sideways tilt of the upper body
    by θ (+ = top towards image right) turns it by the same θ as `torso_angle_deg`.
    """
    ls, rs = p.pt("left_shoulder"), p.pt("right_shoulder")
    if ls is None or rs is None:
        return None
    a, b = (ls, rs) if ls[0] <= rs[0] else (rs, ls)
    v = b - a
    if np.hypot(*v) < 1e-6:
        return None
    return math.degrees(math.atan2(v[1], v[0]))


HEAD = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")


def head_height(p: Pose, scale: float | None = None) -> float | None:
    """How far the highest visible head point sits above the shoulder line, in body scales.

    Upright people measure about 0.5-0.8; a bowed head over paperwork 0.2-0.4; a
    head resting on the desk or arms at or below 0.1 (negative = below the shoulders).
    """
    scale = scale or body_scale(p)
    sh = shoulder_mid(p)
    pts = [p.pt(n) for n in HEAD]
    pts = [q for q in pts if q is not None]
    if scale is None or sh is None or not pts:
        return None
    top = min(q[1] for q in pts)
    return float((sh[1] - top) / scale)


def facing_x(p: Pose, scale: float | None = None) -> float | None:
    """Which way the face points along image x, in body scales: + right, - left, ~0 frontal/back.

    Uses the nose against the ears (side view puts the nose ahead of the ears),
    falling back to the nose against the shoulder centre.
    """
    scale = scale or body_scale(p)
    nose = p.pt("nose")
    if scale is None or nose is None:
        return None
    ears = p.mid("left_ear", "right_ear", allow_one=True)
    ref = ears if ears is not None else shoulder_mid(p)
    if ref is None:
        return None
    return float((nose[0] - ref[0]) / scale)


def body_facing_x(p: Pose, scale: float | None = None, min_thigh: float = 0.3) -> float | None:
    """Which way a seated body faces along image x, in body scales (+ right, - left).

    The thighs point forward (knee ahead of hip), which stays true when the head
    is thrown back; without knees the nose-vs-ears cue is used.
    """
    scale = scale or body_scale(p)
    if scale is None:
        return None
    hp, kn = p.mid("left_hip", "right_hip", True), p.mid("left_knee", "right_knee", True)
    if hp is not None and kn is not None and abs(kn[0] - hp[0]) / scale >= min_thigh:
        return float((kn[0] - hp[0]) / scale)
    return facing_x(p, scale)


def forward_bend_deg(p: Pose, scale: float | None = None, min_facing: float = 0.15,
                     ref_deg: float = 0.0) -> float | None:
    """Torso angle from the upright direction `ref_deg` (image vertical by default), + towards where
    the body faces (bent forward), - away (reclined).

    None when the torso is not visible or the view is frontal (direction unknown).
    """
    ang = torso_angle_deg(p)
    ang = None if ang is None else ang - ref_deg
    face = body_facing_x(p, scale)
    if ang is None or face is None or abs(face) < min_facing:
        return None
    return ang if face > 0 else -ang


def head_pitch(p: Pose, scale: float | None = None) -> float | None:
    """Nose below the ear line, in body scales: larger = head pitched further down."""
    scale = scale or body_scale(p)
    nose, ears = p.pt("nose"), p.mid("left_ear", "right_ear", allow_one=True)
    if scale is None or nose is None or ears is None:
        return None
    return float((nose[1] - ears[1]) / scale)


def norm_dist(p: Pose, a: str, b: str, scale: float | None = None) -> float | None:
    """Distance between two joints in body scales."""
    scale = scale or body_scale(p)
    pa, pb = p.pt(a), p.pt(b)
    if scale is None or pa is None or pb is None:
        return None
    return _dist(pa, pb) / scale


def point_dist(p: Pose, a: str, q: np.ndarray, scale: float | None = None) -> float | None:
    """Distance from a joint to an image point, in body scales."""
    scale = scale or body_scale(p)
    pa = p.pt(a)
    if scale is None or pa is None:
        return None
    return _dist(pa, np.asarray(q, np.float64)) / scale


def joint_angle_deg(p: Pose, a: str, b: str, c: str) -> float | None:
    """Interior angle at joint b (a-b-c), 180 = straight."""
    pa, pb, pc = p.pt(a), p.pt(b), p.pt(c)
    if pa is None or pb is None or pc is None:
        return None
    v1, v2 = pa - pb, pc - pb
    n = np.hypot(*v1) * np.hypot(*v2)
    if n < 1e-9:
        return None
    return math.degrees(math.acos(float(np.clip(np.dot(v1, v2) / n, -1.0, 1.0))))


def chin_point(p: Pose, scale: float | None = None) -> np.ndarray | None:
    """Estimated chin: below the nose by ~0.25 body scales, along the eyes->nose direction when known."""
    scale = scale or body_scale(p)
    nose = p.pt("nose")
    if scale is None or nose is None:
        return None
    eyes = p.mid("left_eye", "right_eye", allow_one=True)
    d = np.array([0.0, 1.0])
    if eyes is not None and _dist(nose, eyes) > 1e-6:
        d = (nose - eyes) / _dist(nose, eyes)
        if d[1] < 0.3:  # a face seen from the side or tilted: keep the chin below the nose
            d = np.array([d[0] * 0.5, 1.0])
            d /= np.hypot(*d)
    return nose + d * 0.25 * scale


def head_centre(p: Pose) -> np.ndarray | None:
    pts = [p.pt(n) for n in HEAD]
    pts = [q for q in pts if q is not None]
    return np.mean(pts, axis=0) if pts else None


def motion(prev: Pose, cur: Pose, names: tuple[str, ...], dt_s: float, scale: float) -> float | None:
    """Mean speed of the joints visible in both poses, in body scales per second."""
    if dt_s <= 0 or scale <= 0:
        return None
    d = [_dist(prev.pt(n), cur.pt(n)) for n in names if prev.ok(n) and cur.ok(n)]
    if not d:
        return None
    return float(np.mean(d)) / scale / dt_s


def rounded(values: dict[str, float | None], nd: int = 3) -> dict[str, float]:
    """Measured values for Finding.details: None dropped, floats rounded."""
    return {k: round(float(v), nd) for k, v in values.items() if v is not None}
