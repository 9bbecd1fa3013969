"""Core data types shared by every stage: Frame -> Detections -> facts -> Event.

Detections is a struct of numpy arrays (not a list of objects) so that filtering
is a boolean mask and work is done on whole arrays. Stages return new objects
and never mutate their input.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

EventState = Literal["start", "update", "end"]
Severity = Literal["info", "low", "medium", "high"]
SEVERITY_ORDER: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3}


@dataclass(frozen=True)
class Frame:
    """One decoded image. `timestamp_s` is media time (files) or wall-clock epoch seconds (live)."""

    source_id: str
    index: int
    timestamp_s: float
    image: np.ndarray  # (H, W, 3) uint8 BGR

    def __post_init__(self) -> None:
        img = self.image
        if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3:
            shape = getattr(img, "shape", None)
            raise ValueError(f"Frame.image must be an (H, W, 3) np.ndarray, but got shape {shape}")
        if img.dtype != np.uint8:
            raise ValueError(f"Frame.image must be uint8, but got {img.dtype}")

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


def _check_len(name: str, arr: np.ndarray | None, n: int, ndim: int = 1) -> None:
    if arr is None:
        return
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"{name} must be an np.ndarray, but got {type(arr).__name__}")
    if arr.ndim != ndim or arr.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n}{', ...' if ndim > 1 else ''}) "
                         f"to match xyxy, but got shape {arr.shape}")


@dataclass
class Detections:
    """Per-frame detections as arrays.

    xyxy (n,4) float32 pixels; confidence (n,); class_id (n,) int; class_name (n,) str;
    tracker_id (n,) int or None; keypoints (n,k,2) pixels in COCO-17 order with
    keypoint_conf (n,k), or None; data: extra per-detection arrays of length n.
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    class_name: np.ndarray
    tracker_id: np.ndarray | None = None
    keypoints: np.ndarray | None = None
    keypoint_conf: np.ndarray | None = None
    data: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        x = self.xyxy
        if not isinstance(x, np.ndarray) or x.ndim != 2 or x.shape[1] != 4:
            raise ValueError(
                f"xyxy must be a 2D np.ndarray with shape (_, 4), but got shape {getattr(x, 'shape', None)}"
            )
        n = x.shape[0]
        _check_len("confidence", self.confidence, n)
        _check_len("class_id", self.class_id, n)
        _check_len("class_name", self.class_name, n)
        _check_len("tracker_id", self.tracker_id, n)
        if self.keypoints is not None:
            kp = self.keypoints
            if not isinstance(kp, np.ndarray) or kp.ndim != 3 or kp.shape[0] != n or kp.shape[2] != 2:
                raise ValueError(f"keypoints must have shape ({n}, k, 2), but got {getattr(kp, 'shape', None)}")
            kc = self.keypoint_conf
            if kc is None or kc.shape != kp.shape[:2]:
                raise ValueError(
                    f"keypoint_conf must have shape {kp.shape[:2]} to match keypoints, "
                    f"but got {None if kc is None else kc.shape}"
                )
        for key, val in self.data.items():
            if not isinstance(val, np.ndarray) or len(val) != n:
                raise ValueError(f"data[{key!r}] must be an np.ndarray of length {n}, "
                                 f"but got {getattr(val, 'shape', type(val).__name__)}")

    @classmethod
    def empty(cls) -> Detections:
        return cls(
            xyxy=np.zeros((0, 4), np.float32),
            confidence=np.zeros((0,), np.float32),
            class_id=np.zeros((0,), np.int64),
            class_name=np.zeros((0,), dtype=object),
        )

    @classmethod
    def merge(cls, parts: list[Detections]) -> Detections:
        """One Detections of all the parts, in order; empty parts are ignored.

        Every non-empty part must carry the same optional fields (tracker_id, keypoints and
        keypoint_conf, the same data keys, the same number of keypoints): a field some parts
        have and others lack raises ValueError naming it, rather than being dropped.
        """
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        for name in ("tracker_id", "keypoints", "keypoint_conf"):
            have = [getattr(p, name) is not None for p in parts]
            if any(have) and not all(have):
                raise ValueError(f"Detections.merge: {name} is set in some parts and None in others")
        if parts[0].keypoints is not None and len({p.keypoints.shape[1] for p in parts}) != 1:
            raise ValueError("Detections.merge: keypoints have different numbers of points "
                             f"({sorted({p.keypoints.shape[1] for p in parts})})")
        keys = set(parts[0].data)
        for p in parts[1:]:
            if set(p.data) != keys:
                diff = sorted(keys ^ set(p.data))
                raise ValueError(f"Detections.merge: data keys {diff} are in some parts and not in others")

        def cat(attr: str):
            vals = [getattr(p, attr) for p in parts]
            return None if vals[0] is None else np.concatenate(vals)

        return cls(
            xyxy=cat("xyxy"),
            confidence=cat("confidence"),
            class_id=cat("class_id"),
            class_name=cat("class_name"),
            tracker_id=cat("tracker_id"),
            keypoints=cat("keypoints"),
            keypoint_conf=cat("keypoint_conf"),
            data={k: np.concatenate([p.data[k] for p in parts]) for k in parts[0].data},
        )

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __getitem__(self, index: Any) -> Detections:
        if isinstance(index, (int, np.integer)):
            index = [int(index)]

        def sel(a):
            return None if a is None else a[index]

        return Detections(
            xyxy=self.xyxy[index],
            confidence=self.confidence[index],
            class_id=self.class_id[index],
            class_name=self.class_name[index],
            tracker_id=sel(self.tracker_id),
            keypoints=sel(self.keypoints),
            keypoint_conf=sel(self.keypoint_conf),
            data={k: v[index] for k, v in self.data.items()},
        )

    def with_(self, **changes: Any) -> Detections:
        """A copy with some fields replaced (stages never mutate their input)."""
        return replace(self, **changes)

    @property
    def anchors_bottom(self) -> np.ndarray:
        """(n,2) bottom-centre points: where a standing person's feet are."""
        x = self.xyxy
        return np.stack([(x[:, 0] + x[:, 2]) / 2, x[:, 3]], axis=1)

    @property
    def centers(self) -> np.ndarray:
        x = self.xyxy
        return np.stack([(x[:, 0] + x[:, 2]) / 2, (x[:, 1] + x[:, 3]) / 2], axis=1)


def new_event_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Event:
    """A rule event. The same event_id goes through start -> update* -> end."""

    event_id: str
    rule_id: str
    article: str  # e.g. "第五十三条"
    source_id: str  # camera id
    post_id: str | None
    track_ids: tuple[int, ...]
    state: EventState
    severity: Severity
    start_s: float
    end_s: float | None
    score: float = 1.0
    evidence: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    site_id: str = "default"
    wall_start: float | None = None  # epoch seconds of start_s, when the wall clock is known

    def with_(self, **changes: Any) -> Event:
        return replace(self, **changes)

    @property
    def duration_s(self) -> float | None:
        return None if self.end_s is None else self.end_s - self.start_s


@dataclass(frozen=True)
class Review:
    event_id: str
    verdict: Literal["confirmed", "dismissed"]
    reason: str
    reviewer: str
    note: str
    at: float  # epoch seconds
