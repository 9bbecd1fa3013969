"""Per-frame facts: what the scene stage knows about each person and post.

This is the only input rules see (besides time). It is built by
`pipeline.scene.assign.SceneAssigner` from tracked Detections and the camera's zones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np

Role = Literal["staff", "customer", "unknown"]


@dataclass(frozen=True)
class PersonFact:
    track_id: int
    xyxy: np.ndarray  # (4,) pixels
    confidence: float
    role: Role
    post_id: str | None  # the post whose seat/staff zone holds this person (staff only)
    keypoints: np.ndarray | None = None  # (17,2) pixels, COCO-17 order
    keypoint_conf: np.ndarray | None = None  # (17,)
    in_staff_area: bool = False  # behind the counter, but not in a post's seat
    pose_t: float | None = None  # when this skeleton was measured (earlier than the frame when it is reused)


@dataclass(frozen=True)
class ObjectFact:
    class_name: str
    xyxy: np.ndarray  # (4,) pixels
    confidence: float
    post_id: str | None  # the post whose desk zone holds the object's centre
    track_id: int | None = None
    on_desk: bool = False  # centre lies in a desk zone (or on a detected desk/table when no zones)


@dataclass(frozen=True)
class PostFacts:
    post_id: str
    staff_track_ids: tuple[int, ...]
    customer_count: int  # people in the post's customer zone

    @property
    def staff_present(self) -> bool:
        return bool(self.staff_track_ids)

    @property
    def customer_present(self) -> bool:
        return self.customer_count > 0


@dataclass(frozen=True)
class SceneFacts:
    """Everything one camera frame says, in image pixels and seconds."""

    source_id: str
    t: float  # media seconds (files) or epoch seconds (live): the rule clock
    wall: datetime | None  # local wall-clock time of this frame, when known
    frame_size: tuple[int, int]  # (width, height)
    persons: tuple[PersonFact, ...] = ()
    objects: tuple[ObjectFact, ...] = ()
    posts: dict[str, PostFacts] = field(default_factory=dict)
    waiting_count: int = 0  # people in waiting areas
    online: bool = True  # False during a camera outage: rules treat the time as unknown
    remote_posts: dict[str, PostFacts] = field(default_factory=dict)  # other cameras' posts (PresenceBoard)

    def staff(self, post_id: str | None = None) -> list[PersonFact]:
        return [p for p in self.persons if p.role == "staff" and (post_id is None or p.post_id == post_id)]

    def objects_of(self, names: set[str] | frozenset[str]) -> list[ObjectFact]:
        return [o for o in self.objects if o.class_name in names]
