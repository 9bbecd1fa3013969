"""Regions of interest around the posts, for a second person pass at higher resolution.

CCTV frames are wide and staff are small: a 640 px detector sees a seated clerk in
a 1600 px frame as ~40 px and often misses them. The posts are known from the
config, so we crop a square around each post (its zones, with a margin) and run
the person/pose model on the crop. Overlapping crops are merged.
"""

from __future__ import annotations

import numpy as np

from pipeline.config.models import CameraConfig
from pipeline.core.boxes import box_ios


def _square(box: np.ndarray, scale: float, size: tuple[int, int], min_side: float) -> np.ndarray:
    w, h = size
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    side = min(max((x2 - x1) * scale, (y2 - y1) * scale, min_side), w, h)
    ox = float(np.clip(cx - side / 2, 0, w - side))
    oy = float(np.clip(cy - side / 2, 0, h - side))
    return np.array([ox, oy, ox + side, oy + side], np.float32)


def post_rois(camera: CameraConfig, size: tuple[int, int], *, scale: float = 2.0, min_side: float = 256.0,
              merge_overlap: float = 0.5) -> list[np.ndarray]:
    """Square crop boxes (pixels) around each post's seat zone; crops that mostly overlap are merged."""
    w, h = size
    boxes = []
    for p in camera.posts:
        pts = np.asarray(p.seat, np.float32) * np.array([w, h], np.float32)
        boxes.append(_square(np.concatenate([pts.min(0), pts.max(0)]), scale, size, min_side))
    merged = True
    while merged and len(boxes) > 1:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                if float(box_ios(boxes[i], boxes[j])[0, 0]) >= merge_overlap:
                    a, b = boxes[i], boxes[j]
                    union = np.array([min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])], np.float32)
                    boxes[i] = _square(union, 1.0, size, min_side)
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return boxes
