"""Detections.merge keeps every field or says which one the parts disagree on."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.types import Detections


def _dets(n: int, *, tracker: bool = False, k: int | None = None, **data: np.ndarray) -> Detections:
    return Detections(
        xyxy=np.arange(n * 4, dtype=np.float32).reshape(n, 4),
        confidence=np.full(n, 0.5, np.float32),
        class_id=np.zeros(n, np.int64),
        class_name=np.array(["person"] * n, dtype=object),
        tracker_id=np.arange(n, dtype=np.int64) + 1 if tracker else None,
        keypoints=None if k is None else np.ones((n, k, 2), np.float32),
        keypoint_conf=None if k is None else np.ones((n, k), np.float32),
        data=data,
    )


def test_merge_concatenates_all_fields():
    a = _dets(2, tracker=True, k=17, pose_t=np.array([1.0, 2.0]))
    b = _dets(1, tracker=True, k=17, pose_t=np.array([np.nan]))
    m = Detections.merge([a, b])
    assert len(m) == 3
    assert m.tracker_id.tolist() == [1, 2, 1]
    assert m.keypoints.shape == (3, 17, 2) and m.keypoint_conf.shape == (3, 17)
    np.testing.assert_array_equal(m.data["pose_t"], [1.0, 2.0, np.nan])


@pytest.mark.parametrize(
    ("a", "b", "field"),
    [
        (_dets(2, tracker=True), _dets(1), "tracker_id"),
        (_dets(2, k=17), _dets(1), "keypoints"),
        (_dets(2, pose_t=np.zeros(2)), _dets(1), "pose_t"),
        (_dets(2, pose_t=np.zeros(2)), _dets(1, person_index=np.zeros(1)), "person_index"),
        (_dets(2, k=17), _dets(1, k=5), "keypoints"),
    ],
)
def test_merge_raises_naming_the_field_the_parts_disagree_on(a, b, field):
    with pytest.raises(ValueError, match=field):
        Detections.merge([a, b])
    with pytest.raises(ValueError, match=field):
        Detections.merge([b, a])


def test_empty_parts_never_disagree():
    a = _dets(2, tracker=True, k=17, pose_t=np.zeros(2))
    m = Detections.merge([Detections.empty(), a, _dets(0)])
    assert m is a
    assert len(Detections.merge([Detections.empty(), _dets(0, tracker=True)])) == 0
