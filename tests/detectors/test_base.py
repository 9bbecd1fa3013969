"""Shared image maths: letterbox round trip, IoU, NMS, crop boxes, Detections shape checks."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.boxes import box_iou, nms
from pipeline.core.regions import expand_box
from pipeline.core.types import Detections
from pipeline.detectors.base import (
    cxcywh_to_xyxy,
    drop_outside_box,
    letterbox,
    with_empty_pose,
)


@pytest.mark.parametrize("shape", [(1080, 1920), (1920, 1080), (100, 100), (37, 501)])
def test_letterbox_maps_points_back(shape):
    img = np.zeros((*shape, 3), np.uint8)
    boxed, lb = letterbox(img, (640, 640))
    assert boxed.shape == (640, 640, 3)
    corners = np.array([[0, 0, shape[1], shape[0]]], np.float32)
    fwd = corners.copy()
    fwd[:, 0::2] = fwd[:, 0::2] * lb.scale + lb.pad_x
    fwd[:, 1::2] = fwd[:, 1::2] * lb.scale + lb.pad_y
    assert fwd.min() >= -0.5 and fwd.max() <= 640.5
    np.testing.assert_allclose(lb.to_image(fwd), corners, atol=1e-3)


def test_letterbox_pads_with_114():
    boxed, lb = letterbox(np.zeros((100, 200, 3), np.uint8), (320, 320))
    assert lb.pad_y == 80 and lb.pad_x == 0
    assert (boxed[:80] == 114).all() and (boxed[80:240] == 0).all() and (boxed[240:] == 114).all()


def test_box_iou_and_cxcywh():
    a = cxcywh_to_xyxy(np.array([[5, 5, 10, 10]], np.float32))
    np.testing.assert_allclose(a, [[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(box_iou(a, b)[0], [1.0, 50 / 150, 0.0], atol=1e-6)


def test_nms_is_per_class_when_given_classes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [0, 3]
    assert nms(boxes, scores, 0.5, np.array([0, 0, 1, 0])).tolist() == [0, 2, 3]
    assert nms(np.zeros((0, 4)), np.zeros((0,)), 0.5).shape == (0,)


def test_expand_box_clips_to_image():
    assert expand_box(np.array([10, 10, 30, 50]), 0.5, 35, 100) == (0, 0, 35, 70)


def test_with_empty_pose_means_no_pose():
    d = Detections(np.array([[0, 0, 5, 5]], np.float32), np.ones(1), np.zeros(1, int), np.array(["person"], object))
    out = with_empty_pose(d)
    assert out.keypoints.shape == (1, 17, 2) and not out.keypoint_conf.any()
    assert d.keypoints is None  # input untouched


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"xyxy": np.zeros((2, 3))}, "xyxy must be a 2D np.ndarray with shape (_, 4)"),
        ({"confidence": np.zeros(3)}, "confidence must have shape (2)"),
        (
            {"keypoints": np.zeros((2, 17, 3)), "keypoint_conf": np.zeros((2, 17))},
            "keypoints must have shape (2, k, 2)",
        ),
        ({"keypoints": np.zeros((2, 17, 2)), "keypoint_conf": np.zeros((2, 5))}, "keypoint_conf must have shape"),
    ],
)
def test_detections_shape_errors_name_the_field(kwargs, message):
    base = {
        "xyxy": np.zeros((2, 4), np.float32),
        "confidence": np.zeros(2),
        "class_id": np.zeros(2, int),
        "class_name": np.array(["a", "b"], object),
    }
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Detections(**{**base, **kwargs})


def test_joints_outside_the_box_are_not_visible():
    """Legs guessed below a box cut at the counter get confidence 0, joints in the box keep theirs."""
    xyxy = np.array([[100, 100, 200, 300]], np.float32)
    kps = np.array([[[150, 120], [150, 320], [150, 400], [95, 200]]], np.float32)  # in, margin, below, margin
    kcs = np.full((1, 4), 0.9, np.float32)
    np.testing.assert_allclose(drop_outside_box(xyxy, kps, kcs), [[0.9, 0.9, 0.0, 0.9]])
