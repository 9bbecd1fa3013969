"""Stage interfaces for detection and pose, plus the image maths every backend shares.

The interfaces are Protocols with one job each so that a backend is any object with
the right method: the processor never imports onnxruntime, TFLite or MediaPipe.
Letterboxing and NMS live here once so that every YOLO runtime maps boxes back to
frame pixels the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from pipeline.core.resize import shrink
from pipeline.core.types import Detections, Frame

N_KEYPOINTS = 17


@runtime_checkable
class Detector(Protocol):
    """Finds objects in a frame. Boxes come back in frame pixels."""

    def detect(self, frame: Frame) -> Detections: ...

    def detect_batch(self, images: list[np.ndarray]) -> list[Detections]: ...


@runtime_checkable
class PoseEstimator(Protocol):
    """Adds COCO-17 keypoints to given person boxes.

    Returns the same persons in the same order with `keypoints` (n,17,2) in frame
    pixels and `keypoint_conf` (n,17); a person who got no pose has all confidences 0.
    """

    def estimate(self, frame: Frame, persons: Detections) -> Detections: ...


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into a square model input; maps points back."""

    scale: float
    pad_x: float
    pad_y: float

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        """Model-input pixels -> source-image pixels (works on (...,2) or (...,4) xyxy arrays)."""
        out = np.asarray(xy, np.float32).copy()
        out[..., 0::2] = (out[..., 0::2] - self.pad_x) / self.scale
        out[..., 1::2] = (out[..., 1::2] - self.pad_y) / self.scale
        return out


def letterbox(image: np.ndarray, size: tuple[int, int], pad_value: int = 114) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping aspect ratio and pad to `size` (h, w), centred, as Ultralytics does."""
    h, w = image.shape[:2]
    th, tw = size
    scale = min(th / h, tw / w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    if 0.5 < scale < 1:  # a crop a little larger than the input: INTER_AREA, cheap at this size
        resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    else:  # a whole frame: halving steps, then bilinear; a small crop: bilinear (core.resize.shrink)
        resized = shrink(image, (nw, nh))
    pad_y, pad_x = (th - nh) / 2, (tw - nw) / 2
    top, left = int(round(pad_y - 0.1)), int(round(pad_x - 0.1))
    out = np.full((th, tw, 3), pad_value, np.uint8)
    out[top : top + nh, left : left + nw] = resized
    return out, Letterbox(scale=scale, pad_x=float(left), pad_y=float(top))


def cxcywh_to_xyxy(b: np.ndarray) -> np.ndarray:
    out = np.empty_like(b, dtype=np.float32)
    out[:, 0] = b[:, 0] - b[:, 2] / 2
    out[:, 1] = b[:, 1] - b[:, 3] / 2
    out[:, 2] = b[:, 0] + b[:, 2] / 2
    out[:, 3] = b[:, 1] + b[:, 3] / 2
    return out


def clip_boxes(xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
    out = np.asarray(xyxy, np.float32).copy()
    out[:, 0::2] = out[:, 0::2].clip(0, width)
    out[:, 1::2] = out[:, 1::2].clip(0, height)
    return out


def with_empty_pose(persons: Detections, k: int = N_KEYPOINTS) -> Detections:
    """The persons with zero keypoints and zero confidence: 'no pose found', never a guess."""
    n = len(persons)
    return persons.with_(keypoints=np.zeros((n, k, 2), np.float32), keypoint_conf=np.zeros((n, k), np.float32))


def drop_outside_box(
    xyxy: np.ndarray, keypoints: np.ndarray, keypoint_conf: np.ndarray, margin: float = 0.15
) -> np.ndarray:
    """Keypoint confidences with joints outside their person's box (plus a margin) set to 0.

    Pose models place joints hidden behind a counter (hips, legs) below the person
    box, often with a high visibility score. Those are guesses; a rule must read
    them as "not visible", so their confidence is zeroed.
    """
    if len(xyxy) == 0:
        return keypoint_conf
    w = (xyxy[:, 2] - xyxy[:, 0])[:, None] * margin
    h = (xyxy[:, 3] - xyxy[:, 1])[:, None] * margin
    x, y = keypoints[..., 0], keypoints[..., 1]
    inside = (x >= xyxy[:, 0:1] - w) & (x <= xyxy[:, 2:3] + w) & (y >= xyxy[:, 1:2] - h) & (y <= xyxy[:, 3:4] + h)
    return np.where(inside, keypoint_conf, 0.0).astype(np.float32)
