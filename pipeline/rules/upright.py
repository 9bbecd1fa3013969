"""Where "upright" points at each place of one camera's image.

A wide, elevated lens tilts a seated person's axis in the image by up to tens of
degrees near the edges, so posture rules measure the change from a reference
direction at that place, not from the image's vertical. In priority order:

1. an explicit reference in the camera config (a tilt per post, or the vertical
   measured at a few points, interpolated);
2. a per-post reference learned from the staff member's usual posture: the robust
   median of their torso axis over the first minutes of presence, then refreshed
   slowly from a long, sparsely sampled window (a few minutes of slouching do not
   move it). It is kept in the event store so it survives a restart;
3. the camera's local vertical, fitted from the axes of every person it sees:
   angle = k * (x - centre) / half-width, one parameter, robust median; used only
   once several different people have been seen.

Pure state: observations go in, angles come out; persistence goes through
`export` / `load` at the edge.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.rules.measures import Pose, body_scale, torso_angle_deg

LEARN_SAMPLES = 30  # spaced samples before a post's reference is trusted (one minute at 2 s)
LEARN_EVERY_S = 2.0  # sample spacing while learning
REFRESH_EVERY_S = 10.0  # sample spacing afterwards: the window below spans about 30 minutes
WINDOW = 180
MAX_LEARNED_DEG = 25.0  # a usual posture further than this from the lens vertical is not "upright"
LENS_MIN_PEOPLE = 3  # different people with a usable axis
LENS_MIN_OFF_CENTRE = 2  # of which this many away from the image centre (|x| >= 0.2 half-widths)
LENS_MAX_K_DEG = 30.0
LENS_SAMPLES = 400
MIN_TORSO_SCALES = 0.6  # a torso shorter than this (body scales) gives no usable axis


def person_axis(pose: Pose | None, min_torso: float = MIN_TORSO_SCALES) -> float | None:
    """Signed image angle of a person's torso axis (hip -> shoulder), degrees; None when not reliable."""
    if pose is None:
        return None
    scale = body_scale(pose)
    ang = torso_angle_deg(pose)
    if scale is None or ang is None:
        return None
    sh = pose.mid("left_shoulder", "right_shoulder", True)
    hp = pose.mid("left_hip", "right_hip", True)
    if float(np.hypot(*(sh - hp))) / scale < min_torso:
        return None
    return ang


@dataclass
class PostReference:
    """A learned upright axis for one post."""

    samples: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    last_t: float = float("-inf")
    n_total: int = 0

    @property
    def ready(self) -> bool:
        return self.n_total >= LEARN_SAMPLES

    @property
    def angle_deg(self) -> float | None:
        return float(np.median(self.samples)) if self.ready and self.samples else None

    def add(self, t: float, angle: float) -> bool:
        every = LEARN_EVERY_S if not self.ready else REFRESH_EVERY_S
        if t < self.last_t + every and t >= self.last_t:
            return False
        self.samples.append(float(angle))
        self.last_t = t
        self.n_total += 1
        return True


def _interp_verticals(points: list[tuple[float, float, float]], x: float, y: float) -> float:
    """Inverse-distance interpolation of measured verticals (normalised x, y, angle)."""
    w, s = 0.0, 0.0
    for px, py, ang in points:
        d = math.hypot(px - x, py - y)
        if d < 1e-6:
            return ang
        wi = 1.0 / (d * d)
        w += wi
        s += wi * ang
    return s / w


class UprightModel:
    """Reference upright directions for one camera (see the module docstring)."""

    def __init__(self, camera: Any = None):
        self.camera_id = getattr(camera, "id", "") if camera is not None else ""
        self.post_tilt: dict[str, float] = {}
        self.verticals: list[tuple[float, float, float]] = []
        if camera is not None:
            for post in getattr(camera, "posts", []):
                tilt = getattr(post, "upright_tilt_deg", None)
                if tilt is not None:
                    self.post_tilt[post.id] = float(tilt)
            self.verticals = [(float(x), float(y), float(a)) for x, y, a in (getattr(camera, "verticals", None) or [])]
        self.posts: dict[str, PostReference] = {}
        self._lens: deque[tuple[float, float, int]] = deque(maxlen=LENS_SAMPLES)  # (xn, angle, track id)
        self._last_t: float | None = None
        self.dirty: set[str] = set()

    # observations ------------------------------------------------------------------------
    def observe(self, facts: Any, min_conf: float = 0.3) -> None:
        """Learn from one frame (once per timestamp, whichever rule calls first)."""
        if not facts.online or (self._last_t is not None and facts.t <= self._last_t):
            return
        self._last_t = facts.t
        width = max(float(facts.frame_size[0]), 1.0)
        for person in facts.persons:
            pose = Pose.of(person.keypoints, person.keypoint_conf, min_conf)
            ang = person_axis(pose)
            if ang is None or abs(ang) > 45.0:
                continue
            xn = (float(person.xyxy[0] + person.xyxy[2]) / 2.0 - width / 2.0) / (width / 2.0)
            self._lens.append((xn, ang, int(person.track_id)))
            if person.role == "staff" and person.post_id is not None and person.post_id not in self.post_tilt:
                lens = self.lens_angle(xn) or 0.0
                if abs(ang - lens) <= MAX_LEARNED_DEG:
                    ref = self.posts.setdefault(person.post_id, PostReference())
                    if ref.add(facts.t, ang):
                        self.dirty.add(person.post_id)

    # references --------------------------------------------------------------------------
    def lens_angle(self, xn: float, frame_people: list[tuple[float, float, int]] | None = None) -> float | None:
        """Local vertical at normalised x from the people seen (this frame's people added)."""
        samples = list(self._lens) + list(frame_people or [])
        if len({s[2] for s in samples}) < LENS_MIN_PEOPLE:
            return None
        ks = [a / x for x, a, _ in samples if abs(x) >= 0.2]
        if len({s[2] for s in samples if abs(s[0]) >= 0.2}) < LENS_MIN_OFF_CENTRE:
            return None
        k = float(np.clip(np.median(ks), -LENS_MAX_K_DEG, LENS_MAX_K_DEG))
        return k * xn

    def reference(self, facts: Any, person: Any, min_conf: float = 0.3) -> tuple[float | None, str]:
        """(upright angle in degrees at this person, where it comes from).

        None while a post's reference is still being learned: the post is not judged
        until its usual posture is known (the first minute of presence).
        """
        pid = person.post_id
        if pid is not None and pid in self.post_tilt:
            return self.post_tilt[pid], "post_config"
        w, h = max(float(facts.frame_size[0]), 1.0), max(float(facts.frame_size[1]), 1.0)
        cx, cy = float(person.xyxy[0] + person.xyxy[2]) / 2.0, float(person.xyxy[1] + person.xyxy[3]) / 2.0
        if self.verticals:
            return _interp_verticals(self.verticals, cx / w, cy / h), "camera_config"
        if pid is not None:
            ref = self.posts.get(pid)
            if ref is not None and ref.angle_deg is not None:
                return ref.angle_deg, "learned"
            return None, f"learning ({0 if ref is None else ref.n_total}/{LEARN_SAMPLES} samples)"
        xn = (cx - w / 2.0) / (w / 2.0)
        frame_people = []
        if self._last_t != facts.t:  # a frame not observed (still images): use its own people
            for i, other in enumerate(facts.persons):
                ang = person_axis(Pose.of(other.keypoints, other.keypoint_conf, min_conf))
                if ang is not None and abs(ang) <= 45.0:
                    oxn = (float(other.xyxy[0] + other.xyxy[2]) / 2.0 - w / 2.0) / (w / 2.0)
                    frame_people.append((oxn, ang, -1 - i))
        lens = self.lens_angle(xn, frame_people)
        if lens is not None:
            return lens, "lens"
        return 0.0, "image_vertical"

    # persistence -------------------------------------------------------------------------
    def export(self, posts: set[str] | None = None) -> list[dict[str, Any]]:
        """Rows for the store: one per post with a learned reference."""
        out = []
        for pid, ref in sorted(self.posts.items()):
            if posts is not None and pid not in posts:
                continue
            out.append({"camera_id": self.camera_id, "post_id": pid, "angle_deg": ref.angle_deg,
                        "n_samples": ref.n_total, "samples": [round(s, 2) for s in ref.samples]})
        return out

    def load(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            ref = PostReference()
            ref.samples.extend(float(s) for s in row.get("samples") or [])
            ref.n_total = int(row.get("n_samples") or len(ref.samples))
            self.posts[str(row["post_id"])] = ref
