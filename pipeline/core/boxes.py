"""Box overlap and non-maximum suppression on xyxy pixel boxes, by supervision.

Every IoU, intersection-over-smaller and NMS in the package goes through here, so
detectors, the phone cascade, motion gating, post crops and training agree on one
definition. Boxes are (n, 4) arrays of x1, y1, x2, y2 with x2 >= x1 and y2 >= y1;
a pair whose union (or smaller box) has no area overlaps 0.
"""

from __future__ import annotations

import numpy as np
import supervision as sv


def _boxes(b: np.ndarray) -> np.ndarray:
    return np.asarray(b, np.float32).reshape(-1, 4)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n,4) x (m,4) xyxy -> (n,m) float32 intersection over union."""
    return sv.box_iou_batch(_boxes(a), _boxes(b), overlap_metric=sv.OverlapMetric.IOU)


def box_ios(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n,4) x (m,4) xyxy -> (n,m) float32 intersection over the smaller box's area."""
    return sv.box_iou_batch(_boxes(a), _boxes(b), overlap_metric=sv.OverlapMetric.IOS)


def nms(xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float,
        class_ids: np.ndarray | None = None) -> np.ndarray:
    """Indices kept by greedy NMS, best score first (equal scores: earlier index first).

    A box is suppressed by a kept, better box whose IoU with it exceeds iou_threshold
    (0..1). With class_ids, boxes of different classes never suppress each other.
    """
    boxes = _boxes(xyxy)
    n = len(boxes)
    if n == 0:
        return np.zeros((0,), np.int64)
    scores = np.asarray(scores).reshape(-1)
    if len(scores) != n:
        raise ValueError(f"nms: {len(scores)} scores for {n} boxes")
    # The order is fixed here (stable, so ties keep input order) and handed to supervision
    # as distinct ranks, so its own sort cannot reorder equal scores.
    order = np.argsort(-scores, kind="stable")
    rank = np.empty(n, np.float64)
    rank[order] = np.arange(n, 0, -1, dtype=np.float64)
    cls = np.zeros(n) if class_ids is None else np.asarray(class_ids, np.float64).reshape(-1)
    if len(cls) != n:
        raise ValueError(f"nms: {len(cls)} class ids for {n} boxes")
    predictions = np.column_stack([boxes.astype(np.float64), rank, cls])
    # IoUs are float32; the threshold is compared at the same precision, so an IoU that
    # equals the threshold (grid-aligned boxes) is kept, not suppressed by rounding.
    keep = sv.box_non_max_suppression(predictions, iou_threshold=float(np.float32(iou_threshold)))
    return order[keep[order]].astype(np.int64)
