"""pipeline.core.boxes against a plain-Python reference on hand-made boxes."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.boxes import box_ios, box_iou, nms


def _inter(a, b) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def _area(a) -> float:
    return (a[2] - a[0]) * (a[3] - a[1])


def ref_iou(a, b) -> float:
    i = _inter(a, b)
    u = _area(a) + _area(b) - i
    return i / u if u > 0 else 0.0


def ref_ios(a, b) -> float:
    small = min(_area(a), _area(b))
    return _inter(a, b) / small if small > 0 else 0.0


def ref_nms(boxes, scores, thr, classes=None) -> list[int]:
    order = sorted(range(len(boxes)), key=lambda i: -scores[i])  # sorted() is stable: ties keep input order
    keep: list[int] = []
    for i in order:
        if all(ref_iou(boxes[i], boxes[k]) <= thr or (classes is not None and classes[i] != classes[k])
               for k in keep):
            keep.append(i)
    return keep


BOXES = np.array(
    [
        [0, 0, 10, 10],  # 100
        [5, 0, 15, 10],  # half over box 0: IoU 50/150
        [0, 0, 10, 10],  # same as box 0
        [2, 2, 4, 4],  # inside box 0: IoU 4/100, IoS 1
        [20, 20, 30, 30],  # apart
        [10, 0, 20, 10],  # touches box 0 at an edge: no area in common
        [0, 0, 20, 10],  # box 0 is its half: IoU 0.5 exactly
    ],
    np.float32,
)


def test_iou_and_ios_match_the_reference_on_known_overlaps():
    iou, ios = box_iou(BOXES, BOXES), box_ios(BOXES, BOXES)
    assert iou.shape == ios.shape == (len(BOXES), len(BOXES))
    for i, a in enumerate(BOXES.tolist()):
        for j, b in enumerate(BOXES.tolist()):
            assert iou[i, j] == pytest.approx(ref_iou(a, b), abs=1e-6), (i, j)
            assert ios[i, j] == pytest.approx(ref_ios(a, b), abs=1e-6), (i, j)
    assert iou[0, 1] == pytest.approx(1 / 3)
    assert iou[0, 6] == pytest.approx(0.5)
    assert ios[0, 3] == pytest.approx(1.0)
    assert iou[0, 5] == 0.0


def test_iou_accepts_one_box_and_empty_sets():
    assert box_iou(BOXES[0], BOXES).shape == (1, len(BOXES))
    assert box_iou(np.zeros((0, 4)), BOXES).shape == (0, len(BOXES))
    assert box_iou(BOXES, np.zeros((0, 4))).shape == (len(BOXES), 0)


def test_zero_area_boxes_overlap_nothing():
    dot = np.array([[5, 5, 5, 5]], np.float32)
    assert box_iou(dot, dot)[0, 0] == 0.0
    assert box_ios(dot, BOXES[:1])[0, 0] == 0.0


@pytest.mark.parametrize("thr", [0.3, 0.5, 0.7])
def test_nms_matches_the_reference_on_hand_made_boxes(thr):
    scores = np.array([0.9, 0.95, 0.8, 0.7, 0.6, 0.85, 0.5], np.float32)
    got = nms(BOXES, scores, thr).tolist()
    assert got == ref_nms(BOXES.tolist(), scores.tolist(), thr)
    assert 1 in got and 4 in got  # the best box and the one apart always survive


def test_an_iou_equal_to_the_threshold_is_kept():
    # Box 6 (the better) and box 0 overlap at IoU exactly 0.5: only a larger IoU suppresses.
    b = BOXES[[6, 0]]
    assert nms(b, np.array([0.9, 0.8]), 0.5).tolist() == [0, 1]
    assert nms(b, np.array([0.9, 0.8]), 0.49).tolist() == [0]


def test_equal_scores_keep_input_order():
    b = BOXES[[0, 2, 4]]  # the first two are the same box
    assert nms(b, np.array([0.5, 0.5, 0.5]), 0.5).tolist() == [0, 2]
    assert nms(b[[1, 0, 2]], np.array([0.5, 0.5, 0.5]), 0.5).tolist() == [0, 2]


def test_class_aware_nms_never_suppresses_across_classes():
    scores = np.array([0.9, 0.95, 0.8, 0.7, 0.6, 0.85, 0.5], np.float32)
    classes = np.array([0, 0, 1, 0, 1, 2, 1])
    got = nms(BOXES, scores, 0.3, classes).tolist()
    assert got == ref_nms(BOXES.tolist(), scores.tolist(), 0.3, classes.tolist())
    assert 2 in got  # a copy of box 0 of another class survives
    assert 2 not in nms(BOXES, scores, 0.3).tolist()


def test_nms_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="scores"):
        nms(BOXES, np.ones(3), 0.5)
    with pytest.raises(ValueError, match="class ids"):
        nms(BOXES, np.ones(len(BOXES)), 0.5, np.zeros(2))
