"""Ultralytics `.pt` weights through the optional `ultralytics` extra (torch).

For sites that fine-tune their own model (extra classes such as mirror or cosmetics)
and have the hardware for torch. The core install never imports ultralytics; the
import happens when a config asks for this backend. Results are read by attribute
(boxes.xyxy / conf / cls, names), so nothing else in the pipeline sees torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from pipeline.core.errors import ConfigError
from pipeline.core.modelpath import resolve_model
from pipeline.core.types import Detections, Frame
from pipeline.detectors.registry import BackendConfig, detector_backend


class UltralyticsConfig(BackendConfig):
    """`models.detector.type: ultralytics` (extra `counterwatch[ultralytics]`): any model Ultralytics loads.

    No `threads`: Ultralytics runs on torch's process-wide pool, which a per-model setting cannot bound.
    """

    type: Literal["ultralytics"] = "ultralytics"
    model: str = Field("yolov8n_fp32_640.onnx", description="File name in the models directory, or a path (.pt, .onnx)")
    conf_threshold: float = Field(0.3, ge=0, le=1)
    iou_threshold: float = Field(0.5, ge=0, le=1)
    imgsz: int | None = Field(None, ge=32, le=4096, description="Inference size (default: the model's)")

INSTALL_HINT = "pip install 'counterwatch[ultralytics]'"


class MissingExtraError(ConfigError, ImportError):
    """An optional extra is not installed; the message says what to install."""


def import_ultralytics(purpose: str = "models.detector.type 'ultralytics'"):
    """The ultralytics YOLO class, or a MissingExtraError that says what to install."""
    try:
        import ultralytics  # noqa: F401
        from ultralytics import YOLO  # lazy: the ultralytics extra (torch)
    except ImportError as exc:
        raise MissingExtraError(
            f"{purpose} needs the ultralytics package (torch), which is not installed: "
            f"run `{INSTALL_HINT}`, or use type 'yolo_onnx' with an ONNX export ({exc.name or 'ultralytics'} missing)"
        ) from exc
    return YOLO


def _np(x) -> np.ndarray:
    """torch tensor or array -> numpy, without importing torch."""
    if hasattr(x, "cpu"):
        x = x.cpu()
    if hasattr(x, "numpy"):
        x = x.numpy()
    return np.asarray(x)


def from_ultralytics_result(result) -> Detections:
    """One ultralytics Results object -> Detections (keypoints too when it is a pose model)."""
    boxes = result.boxes
    names = result.names
    if boxes is None or len(boxes) == 0:
        return Detections.empty()
    cls = _np(boxes.cls).astype(np.int64)
    kps = kpc = None
    if getattr(result, "keypoints", None) is not None and len(result.keypoints):
        kps = _np(result.keypoints.xy).astype(np.float32)
        conf = getattr(result.keypoints, "conf", None)
        kpc = _np(conf).astype(np.float32) if conf is not None else np.ones(kps.shape[:2], np.float32)
    return Detections(
        xyxy=_np(boxes.xyxy).astype(np.float32),
        confidence=_np(boxes.conf).astype(np.float32),
        class_id=cls,
        class_name=np.array([names[int(c)] for c in cls], dtype=object),
        keypoints=kps,
        keypoint_conf=kpc,
    )


class UltralyticsDetector:
    """Detector over an ultralytics YOLO model (.pt, or any format ultralytics loads)."""

    def __init__(
        self, model: str | Path, *, conf_threshold: float = 0.3, iou_threshold: float = 0.5, imgsz: int | None = None
    ) -> None:
        yolo_cls = import_ultralytics()
        self.path = resolve_model(str(model), what="detector model")
        self.model = yolo_cls(str(self.path))
        self.kwargs = {"conf": conf_threshold, "iou": iou_threshold, "verbose": False}
        if imgsz:
            self.kwargs["imgsz"] = imgsz

    def detect_batch(self, images: list[np.ndarray]) -> list[Detections]:
        if not images:
            return []
        return [from_ultralytics_result(r) for r in self.model.predict(list(images), **self.kwargs)]

    def detect(self, frame: Frame) -> Detections:
        return self.detect_batch([frame.image])[0]


@detector_backend("ultralytics", UltralyticsConfig)
def build(cfg: UltralyticsConfig) -> UltralyticsDetector:
    return UltralyticsDetector(
        cfg.model, conf_threshold=cfg.conf_threshold, iou_threshold=cfg.iou_threshold, imgsz=cfg.imgsz
    )
