"""One keypoint layout for every pose backend: COCO-17.

MediaPipe's 33 landmarks are mapped onto COCO-17 by `MEDIAPIPE_TO_COCO`, so rules
read joints by name (`KP["left_wrist"]`) whatever model produced them.
"""

from __future__ import annotations

import numpy as np

COCO17 = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
KP: dict[str, int] = {name: i for i, name in enumerate(COCO17)}

# MediaPipe Pose landmark index for each COCO-17 joint, in COCO order.
MEDIAPIPE_TO_COCO = np.array([0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28], dtype=np.int64)

# Lines to draw a skeleton.
COCO_EDGES = (
    (5, 6), (5, 7), (7, 9), (6, 8), (8, 10), (5, 11), (6, 12), (11, 12),
    (11, 13), (13, 15), (12, 14), (14, 16), (0, 1), (0, 2), (1, 3), (2, 4),
)


def mediapipe_to_coco(points33: np.ndarray, conf33: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(33,2),(33,) -> (17,2),(17,)"""
    if points33.shape[0] != 33:
        raise ValueError(f"MediaPipe pose has 33 landmarks, but got {points33.shape[0]}")
    return points33[MEDIAPIPE_TO_COCO], conf33[MEDIAPIPE_TO_COCO]
