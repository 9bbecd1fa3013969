"""Builders for synthetic facts and detections (tests only)."""

from __future__ import annotations

import numpy as np

from pipeline.core.types import Detections
from pipeline.scene.facts import ObjectFact, PersonFact, PostFacts, SceneFacts


def detections(boxes, classes=None, conf=None, tracker_ids=None) -> Detections:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    n = len(boxes)
    classes = classes if classes is not None else ["person"] * n
    return Detections(
        xyxy=boxes,
        confidence=np.asarray(conf if conf is not None else [0.9] * n, np.float32),
        class_id=np.asarray([0 if c == "person" else 67 for c in classes], np.int64),
        class_name=np.asarray(classes, dtype=object),
        tracker_id=None if tracker_ids is None else np.asarray(tracker_ids, np.int64),
    )


def person(track_id=1, role="staff", post_id="P1", box=(100, 100, 200, 300), keypoints=None, kconf=None):
    return PersonFact(track_id=track_id, xyxy=np.asarray(box, np.float32), confidence=0.9, role=role,
                      post_id=post_id if role == "staff" else None, keypoints=keypoints, keypoint_conf=kconf)


def obj(name, box, post_id="P1", on_desk=True, track_id=None):
    return ObjectFact(class_name=name, xyxy=np.asarray(box, np.float32), confidence=0.8, post_id=post_id,
                      on_desk=on_desk, track_id=track_id)


def facts(t, persons=(), objects=(), posts=None, waiting=0, online=True, wall=None, source_id="cam1"):
    if posts is None:
        posts = {}
        for pid in {p.post_id for p in persons if p.post_id} | {"P1"}:
            staff = tuple(p.track_id for p in persons if p.role == "staff" and p.post_id == pid)
            posts[pid] = PostFacts(pid, staff, 0)
    return SceneFacts(source_id=source_id, t=float(t), wall=wall, frame_size=(640, 480), persons=tuple(persons),
                      objects=tuple(objects), posts=posts, waiting_count=waiting, online=online)


def post_facts(post_id="P1", staff=(), customers=0):
    return {post_id: PostFacts(post_id, tuple(staff), customers)}


# --- keypoint builders (COCO-17) for the conduct rules -------------------------------------------
# Skeletons are drawn in shoulder-width units (1 unit = 100 px at scale 1), relative to the
# shoulder centre; a person facing the camera has their left side on the image right.

_UPRIGHT = {
    "nose": (0, -60), "left_eye": (12, -70), "right_eye": (-12, -70), "left_ear": (25, -62), "right_ear": (-25, -62),
    "left_shoulder": (50, 0), "right_shoulder": (-50, 0), "left_elbow": (60, 70), "right_elbow": (-60, 70),
    "left_wrist": (55, 130), "right_wrist": (-55, 130), "left_hip": (30, 125), "right_hip": (-30, 125),
    "left_knee": (35, 160), "right_knee": (-35, 160), "left_ankle": (35, 250), "right_ankle": (-35, 250),
}
_STANDING = {**_UPRIGHT, "left_knee": (32, 215), "right_knee": (-32, 215),
             "left_ankle": (32, 300), "right_ankle": (-32, 300)}
_SIDE_RIGHT = {  # side view, body facing image right, seated upright
    "nose": (35, -55), "left_eye": (25, -65), "right_eye": (25, -65), "left_ear": (0, -60), "right_ear": (0, -60),
    "left_shoulder": (0, 0), "right_shoulder": (5, 0), "left_elbow": (5, 70), "right_elbow": (10, 70),
    "left_wrist": (60, 90), "right_wrist": (65, 90), "left_hip": (0, 125), "right_hip": (5, 125),
    "left_knee": (90, 130), "right_knee": (95, 130), "left_ankle": (95, 230), "right_ankle": (100, 230),
}


def _shift(base, **moves):
    out = dict(base)
    for name, xy in moves.items():
        out[name] = xy
    return out


def _rotate_upper(base, deg):
    """Tilt the upper body (head, shoulders, arms) about the hip centre, sideways in the image."""
    import math
    cx, cy = 0.0, 125.0
    a = math.radians(deg)
    out = dict(base)
    for name in list(base)[:11]:
        x, y = base[name][0] - cx, base[name][1] - cy
        out[name] = (cx + x * math.cos(a) - y * math.sin(a), cy + x * math.sin(a) + y * math.cos(a))
    return out


POSES = {
    "upright": _UPRIGHT,
    "standing": _STANDING,
    "side_upright": _SIDE_RIGHT,
    # head resting on folded arms on the desk: head below the shoulder line, both wrists under it
    "head_on_desk": _shift(_UPRIGHT, nose=(0, 15), left_eye=(12, 5), right_eye=(-12, 5), left_ear=(25, 10),
                           right_ear=(-25, 10), left_elbow=(70, 40), right_elbow=(-70, 40),
                           left_wrist=(20, 25), right_wrist=(-20, 25)),
    # bowed over paperwork: head lower than upright but well above the shoulders
    "writing": _shift(_UPRIGHT, nose=(0, -30), left_eye=(12, -38), right_eye=(-12, -38), left_ear=(25, -40),
                      right_ear=(-25, -40), left_wrist=(30, 105), right_wrist=(-35, 110)),
    # face down on the desk, arms hanging by the sides: the head well below the shoulder line
    "head_on_desk_arms_down": _shift(_UPRIGHT, nose=(0, 45), left_eye=(12, 35), right_eye=(-12, 35),
                                     left_ear=(25, 30), right_ear=(-25, 30)),
    # head low (close to the shoulder line) but the hands far from it, on the paper
    "head_low_hands_on_paper": _shift(_UPRIGHT, nose=(0, -2), left_eye=(12, -5), right_eye=(-12, -5),
                                      left_ear=(25, -3), right_ear=(-25, -3), left_wrist=(40, 110),
                                      right_wrist=(-40, 110)),
    # side view, torso bent far forward, head at shoulder level
    "side_bent_over_desk": _shift(_SIDE_RIGHT, left_shoulder=(80, 20), right_shoulder=(85, 20), nose=(130, 30),
                                  left_eye=(120, 20), right_eye=(120, 20), left_ear=(100, 18), right_ear=(100, 18),
                                  left_elbow=(110, 80), right_elbow=(115, 80), left_wrist=(150, 90),
                                  right_wrist=(155, 90)),
    # side view, shoulders behind the hips (reclined in the chair), face turned up
    "reclined": _shift(_SIDE_RIGHT, left_shoulder=(-70, 0), right_shoulder=(-65, 0), nose=(-40, -60),
                       left_eye=(-50, -68), right_eye=(-50, -68), left_ear=(-80, -60), right_ear=(-80, -60),
                       left_elbow=(-60, 70), right_elbow=(-55, 70), left_wrist=(-10, 100), right_wrist=(-5, 100)),
    # side view, leaning slightly forward (working)
    "side_leaning_forward": _shift(_SIDE_RIGHT, left_shoulder=(35, 0), right_shoulder=(40, 0), nose=(75, -50),
                                   left_ear=(40, -58), right_ear=(40, -58)),
    "slumped_sideways": _rotate_upper(_UPRIGHT, 25),
    "arms_crossed": _shift(_UPRIGHT, left_elbow=(55, 80), right_elbow=(-55, 80), left_wrist=(-45, 72),
                           right_wrist=(45, 76)),
    "chin_rest": _shift(_UPRIGHT, right_wrist=(-8, -30), right_elbow=(-35, 45)),
    "phone_at_ear": _shift(_UPRIGHT, right_wrist=(-32, -55), right_elbow=(-60, 30)),
    "hands_on_hips": _shift(_STANDING, left_elbow=(95, 65), right_elbow=(-95, 65), left_wrist=(40, 120),
                            right_wrist=(-40, 120)),
    "hands_on_hips_seated": _shift(_UPRIGHT, left_elbow=(95, 65), right_elbow=(-95, 65), left_wrist=(40, 120),
                                   right_wrist=(-40, 120)),
    "legs_crossed": _shift(_UPRIGHT, left_knee=(5, 150), left_ankle=(-45, 235), right_ankle=(-20, 250)),
    "ankle_on_knee": _shift(_UPRIGHT, left_knee=(90, 130), left_ankle=(-30, 165)),
    "hands_together_head_down": _shift(_UPRIGHT, nose=(0, -35), left_eye=(12, -48), right_eye=(-12, -48),
                                       left_ear=(25, -52), right_ear=(-25, -52), left_wrist=(10, 95),
                                       right_wrist=(-12, 95)),
}

LEGS = (11, 12, 13, 14, 15, 16)
LOWER_LEGS = (13, 14, 15, 16)


def pose(kind="upright", at=(320.0, 150.0), scale=1.0, hide=(), conf=0.9, jitter=0.0, rng=None):
    """(17,2) keypoints and (17,) confidences of a named posture; `hide` joints get confidence 0.05."""
    from pipeline.core.skeleton import COCO17

    table = POSES[kind]
    kp = np.array([table[n] for n in COCO17], np.float32) * scale + np.asarray(at, np.float32)
    if jitter:
        rng = rng or np.random.default_rng(0)
        kp = kp + rng.normal(0, jitter * scale * 100, kp.shape).astype(np.float32)
    kc = np.full(17, conf, np.float32)
    for i in hide:
        kc[i] = 0.05
    return kp, kc


def posed(kind="upright", track_id=1, role="staff", post_id="P1", at=(320.0, 150.0), scale=1.0, hide=(), **kw):
    """A person whose box encloses the skeleton, with keypoints of the named posture."""
    kp, kc = pose(kind, at=at, scale=scale, hide=hide, **kw)
    x1, y1 = kp.min(0) - 20 * scale
    x2, y2 = kp.max(0) + 20 * scale
    return person(track_id=track_id, role=role, post_id=post_id, box=(x1, y1, x2, y2), keypoints=kp, kconf=kc)


def run_rule(rule, frames):
    """Feed SceneFacts in order; return [(t, state, event)]."""
    out = []
    for f in frames:
        for ev in rule.update(f):
            out.append((f.t, ev.state, ev))
    return out


def tilted(deg: float) -> str:
    """Name of an upright seated pose whose upper body is turned by `deg` in the image (+ = top to the right)."""
    name = f"tilted_{deg:g}"
    POSES.setdefault(name, _rotate_upper(_UPRIGHT, deg))
    return name
