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
