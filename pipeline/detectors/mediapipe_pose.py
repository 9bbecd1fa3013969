"""MediaPipe PoseLandmarker (BlazePose) on person crops, mapped to COCO-17.

BlazePose is a single-person model whose own detector finds nobody in wide CCTV
frames with small or half-hidden people, so it is only ever run on a crop around a
person the main detector found, with a margin so that hands and head stay inside.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from pydantic import Field

from pipeline.core.errors import ConfigError
from pipeline.core.modelpath import resolve_model
from pipeline.core.regions import expand_box
from pipeline.core.skeleton import mediapipe_to_coco
from pipeline.core.types import Detections, Frame
from pipeline.detectors.base import drop_outside_box, with_empty_pose
from pipeline.detectors.registry import BackendConfig, pose_backend

# BlazePose works on about 256 px; tiny crops are upscaled so its detector has something to find.
_MIN_CROP_SIDE = 256


class MediaPipePoseConfig(BackendConfig):
    """`models.pose.type: mediapipe_pose`: BlazePose on person crops.

    No `threads` and no `mode`: MediaPipe's Python tasks API has no thread setting (its
    graph schedules its own), and this backend always works on crops, so a config that
    sets either is rejected instead of being silently ignored.
    """

    type: Literal["mediapipe_pose"] = "mediapipe_pose"
    model: str = Field("pose_landmarker_full.task", pattern=r"\.task$",
                       description="MediaPipe PoseLandmarker bundle (.task) in the models directory, or a path")
    conf_threshold: float = Field(0.25, ge=0, le=1, description="Pose detection and presence score")
    staff_only: bool = Field(True, description="Run pose on staff only (customers are never judged)")


class MediaPipePoseEstimator:
    """PoseEstimator: one PoseLandmarker call per person crop."""

    def __init__(
        self, model: str | Path = "pose_landmarker_full.task", *, conf_threshold: float = 0.3, margin: float = 0.15
    ) -> None:
        from mediapipe.tasks.python import BaseOptions, vision  # lazy: only the mediapipe_pose backend loads MediaPipe

        self.path = resolve_model(str(model), what="pose model")
        self.margin = margin
        opts = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.path)),
            running_mode=vision.RunningMode.IMAGE,
            num_poses=1,
            min_pose_detection_confidence=conf_threshold,
            min_pose_presence_confidence=conf_threshold,
        )
        try:
            self.landmarker = vision.PoseLandmarker.create_from_options(opts)
        except (RuntimeError, ValueError) as exc:
            raise ConfigError(
                f"model file {self.path} could not be loaded by MediaPipe PoseLandmarker: {str(exc).splitlines()[0]}"
            ) from exc

    def close(self) -> None:
        self.landmarker.close()

    def _crop_pose(self, image: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        import mediapipe as mp  # lazy: see __init__

        h, w = image.shape[:2]
        x1, y1, x2, y2 = expand_box(box, self.margin, w, h)
        if x2 - x1 < 8 or y2 - y1 < 8:
            return None
        crop = image[y1:y2, x1:x2]
        up = max(1.0, _MIN_CROP_SIDE / max(crop.shape[:2]))
        if up > 1.0:
            crop = cv2.resize(crop, None, fx=up, fy=up, interpolation=cv2.INTER_LINEAR)
        rgb = np.ascontiguousarray(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
        result = self.landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
        if not result.pose_landmarks:
            return None
        lms = result.pose_landmarks[0]
        pts = np.array([[lm.x, lm.y] for lm in lms], np.float32)
        vis = np.array([lm.visibility if lm.visibility is not None else 0.0 for lm in lms], np.float32)
        pts17, vis17 = mediapipe_to_coco(pts, vis)
        pts17 = pts17 * np.array([x2 - x1, y2 - y1], np.float32) + np.array([x1, y1], np.float32)
        return pts17, vis17

    def estimate(self, frame: Frame, persons: Detections) -> Detections:
        out = with_empty_pose(persons)
        if len(persons) == 0:
            return out
        kps, kcs = out.keypoints.copy(), out.keypoint_conf.copy()
        for i, box in enumerate(persons.xyxy):
            got = self._crop_pose(frame.image, box)
            if got is not None:
                kps[i], kcs[i] = got
        kcs = drop_outside_box(persons.xyxy, kps, kcs)
        return out.with_(keypoints=kps, keypoint_conf=kcs)


@pose_backend("mediapipe_pose", MediaPipePoseConfig)
def build(cfg: MediaPipePoseConfig) -> MediaPipePoseEstimator:
    return MediaPipePoseEstimator(cfg.model, conf_threshold=cfg.conf_threshold)
