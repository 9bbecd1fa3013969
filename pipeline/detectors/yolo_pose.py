"""YOLO-pose (Ultralytics, 17 COCO keypoints) on TFLite or onnxruntime, one decoder for both.

Both exports give [1, 56, N]: cx, cy, w, h, the person score, then 17 x (x, y,
visibility), with no NMS. ONNX gives coordinates in input pixels; the TFLite export
gives them as fractions of the input size (detected and scaled here). Only the runtime call differs (NHWC for TFLite,
NCHW for ONNX), so the decoder is shared.

As a PoseEstimator it works in one of three modes, chosen by measurement on real
CCTV (see `counterwatch bench models` and models/README.md):
- "frame": one whole-frame pass, skeletons matched to the given person boxes by IoU.
  One inference for everyone; misses small people.
- "crops": one pass per person on a crop with a margin; small people come out big.
- "hybrid" (default): a whole-frame pass, then a crop pass only for the persons the
  whole frame did not give a skeleton to.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from pydantic import Field

from pipeline.core.boxes import box_iou, nms
from pipeline.core.errors import ConfigError
from pipeline.core.modelpath import resolve_model
from pipeline.core.regions import expand_box
from pipeline.core.types import Detections, Frame
from pipeline.detectors.base import (
    N_KEYPOINTS,
    clip_boxes,
    cxcywh_to_xyxy,
    drop_outside_box,
    letterbox,
    with_empty_pose,
)
from pipeline.detectors.registry import BackendConfig, pose_backend
from pipeline.detectors.yolo_onnx import _session, parse_imgsz

PoseMode = Literal["frame", "crops", "hybrid"]


class YoloPoseConfig(BackendConfig):
    """`models.pose.type: yolo_pose` (the default): YOLO-pose as TFLite or ONNX."""

    type: Literal["yolo_pose"] = "yolo_pose"
    model: str = Field("yolo11n-pose_int8.tflite", description="File name in the models directory, or a path")
    conf_threshold: float = Field(0.25, ge=0, le=1, description="Person score of the pose model (also finds staff "
                                                                 "in the crops around posts)")
    staff_only: bool = Field(True, description="Run pose on staff only (customers are never judged)")
    mode: PoseMode = Field(
        "hybrid", description="Whole frame, person crops, or whole frame then crops for the missed")
    threads: int = Field(2, ge=1, le=64, description="Inference threads")


class _TFLiteRunner:
    def __init__(self, path: Path, threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter  # lazy: only .tflite models need LiteRT

        try:
            self.it = Interpreter(model_path=str(path), num_threads=threads)
            self.it.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ConfigError(f"model file {path} could not be loaded by LiteRT: {str(exc).splitlines()[0]}") from exc
        inp = self.it.get_input_details()[0]
        self.in_index = inp["index"]
        self.out_index = self.it.get_output_details()[0]["index"]
        _, h, w, c = (int(v) for v in inp["shape"])
        if c != 3:
            raise ConfigError(f"model file {path}: expected an NHWC image input [1, h, w, 3], got {inp['shape']}")
        self.input_size = (h, w)
        self._lock = threading.Lock()  # an interpreter runs one call at a time: callers from other threads wait

    def __call__(self, rgb01: np.ndarray) -> np.ndarray:
        with self._lock:
            self.it.set_tensor(self.in_index, rgb01[None])
            self.it.invoke()
            return self.it.get_tensor(self.out_index)[0]  # get_tensor copies: safe once the lock is let go


class _OnnxRunner:
    def __init__(self, path: Path, threads: int) -> None:
        self.session = _session(path, threads)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        hw = inp.shape[2:]
        meta = parse_imgsz(self.session.get_modelmeta().custom_metadata_map.get("imgsz"))
        self.input_size = tuple(hw) if all(isinstance(v, int) and v > 0 for v in hw) else (meta or (640, 640))
        self.dynamic_batch = not isinstance(inp.shape[0], int) or inp.shape[0] < 1

    def __call__(self, rgb01: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: rgb01.transpose(2, 0, 1)[None]})[0][0]

    def batch(self, rgb01: list[np.ndarray]) -> list[np.ndarray]:
        if not self.dynamic_batch:
            return [self(x) for x in rgb01]
        stack = np.ascontiguousarray(np.stack(rgb01).transpose(0, 3, 1, 2))
        return list(self.session.run(None, {self.input_name: stack})[0])


class YoloPoseModel:
    """Multi-person YOLO-pose: image -> boxes, scores and COCO-17 keypoints in image pixels."""

    def __init__(
        self, model: str | Path, *, conf_threshold: float = 0.3, iou_threshold: float = 0.5, threads: int = 2
    ) -> None:
        self.path = resolve_model(str(model), what="pose model")
        self.conf_threshold = float(conf_threshold)
        self.iou_threshold = float(iou_threshold)
        suffix = self.path.suffix.lower()
        if suffix == ".tflite":
            self.runner: _TFLiteRunner | _OnnxRunner = _TFLiteRunner(self.path, threads)
        elif suffix == ".onnx":
            self.runner = _OnnxRunner(self.path, threads)
        else:
            raise ConfigError(
                f"models.pose.model: {self.path.name} is neither .tflite nor .onnx "
                f"(yolo_pose runs Ultralytics YOLO-pose exports)"
            )
        self.input_size = self.runner.input_size

    def _prep(self, image: np.ndarray):
        boxed, lb = letterbox(image, self.input_size)
        return cv2.cvtColor(boxed, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0, lb

    def infer(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """BGR image -> xyxy (n,4), score (n,), keypoints (n,17,2), keypoint_conf (n,17), best first."""
        rgb, lb = self._prep(image)
        return self._decode(np.asarray(self.runner(rgb)), lb, image.shape[:2])

    def infer_batch(self, images: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """`infer` on several images; one batched call when the model has a dynamic batch axis."""
        if not images:
            return []
        preps = [self._prep(im) for im in images]
        batch = getattr(self.runner, "batch", None)
        outs = batch([p[0] for p in preps]) if batch is not None else [self.runner(p[0]) for p in preps]
        return [self._decode(np.asarray(o), lb, im.shape[:2]) for o, (_, lb), im in zip(outs, preps, images,
                                                                                          strict=True)]

    def _decode(self, out: np.ndarray, lb, hw: tuple[int, int]):
        if out.shape[0] != 5 + 3 * N_KEYPOINTS:
            raise ConfigError(
                f"model file {self.path}: output has {out.shape[0]} rows, expected 56 (a 17-keypoint YOLO-pose export)"
            )
        pred = out.T
        keep = pred[:, 4] >= self.conf_threshold
        pred = pred[keep].copy()
        if len(pred) and float(np.abs(pred[:, :4]).max()) <= 1.5:
            # Ultralytics TFLite exports give coordinates as fractions of the input, ONNX in pixels.
            ih, iw = self.input_size
            pred[:, [0, 2]] *= iw
            pred[:, [1, 3]] *= ih
            pred[:, 5::3] *= iw
            pred[:, 6::3] *= ih
        xyxy = cxcywh_to_xyxy(pred[:, :4])
        idx = nms(xyxy, pred[:, 4], self.iou_threshold)
        pred, xyxy = pred[idx], xyxy[idx]
        kp = pred[:, 5:].reshape(-1, N_KEYPOINTS, 3)
        h, w = hw
        pts = lb.to_image(kp[:, :, :2])
        return clip_boxes(lb.to_image(xyxy), w, h), pred[:, 4].astype(np.float32), pts, kp[:, :, 2].astype(np.float32)


def _match(person_xyxy: np.ndarray, pose_xyxy: np.ndarray, min_iou: float) -> np.ndarray:
    """Greedy one-to-one match by IoU; -1 where a person has no skeleton."""
    out = np.full(len(person_xyxy), -1, np.int64)
    if len(person_xyxy) == 0 or len(pose_xyxy) == 0:
        return out
    iou = box_iou(person_xyxy, pose_xyxy)
    while True:
        i, j = np.unravel_index(int(iou.argmax()), iou.shape)
        if iou[i, j] < min_iou:
            break
        out[i] = j
        iou[i, :] = -1
        iou[:, j] = -1
    return out


class YoloPoseEstimator:
    """PoseEstimator over a YoloPoseModel; see the module docstring for the modes.

    It keeps no state between calls and its runners may be called from several threads
    (an onnxruntime session runs calls at once, a LiteRT interpreter one at a time under
    its lock), so the live pool shares one estimator between its model sets.
    """

    thread_safe = True

    def __init__(
        self, model: YoloPoseModel, *, mode: PoseMode = "hybrid", margin: float = 0.15, min_iou: float = 0.3
    ) -> None:
        self.model = model
        self.mode = mode
        self.margin = margin
        self.min_iou = min_iou

    def _crop_pose(self, image: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        h, w = image.shape[:2]
        x1, y1, x2, y2 = expand_box(box, self.margin, w, h)
        if x2 - x1 < 4 or y2 - y1 < 4:
            return None
        bx, sc, kp, kc = self.model.infer(image[y1:y2, x1:x2])
        if not len(bx):
            return None
        local = np.asarray(box, np.float32) - np.array([x1, y1, x1, y1], np.float32)
        iou = box_iou(local[None], bx)[0]
        j = int(np.argmax(iou + 1e-3 * sc))  # the skeleton that is this person, not a neighbour in the margin
        if iou[j] < self.min_iou:
            return None
        return kp[j] + np.array([x1, y1], np.float32), kc[j]

    def estimate(self, frame: Frame, persons: Detections) -> Detections:
        out = with_empty_pose(persons)
        if len(persons) == 0:
            return out
        kps, kcs = out.keypoints.copy(), out.keypoint_conf.copy()
        missing = np.ones(len(persons), bool)
        if self.mode in ("frame", "hybrid"):
            bx, _, kp, kc = self.model.infer(frame.image)
            match = _match(persons.xyxy, bx, self.min_iou)
            hit = match >= 0
            kps[hit], kcs[hit] = kp[match[hit]], kc[match[hit]]
            missing = ~hit
        if self.mode in ("crops", "hybrid"):
            for i in np.flatnonzero(missing):
                got = self._crop_pose(frame.image, persons.xyxy[i])
                if got is not None:
                    kps[i], kcs[i] = got
        kcs = drop_outside_box(persons.xyxy, kps, kcs)
        return out.with_(keypoints=kps.astype(np.float32), keypoint_conf=kcs.astype(np.float32))


@pose_backend("yolo_pose", YoloPoseConfig)
def build(cfg: YoloPoseConfig) -> YoloPoseEstimator:
    model = YoloPoseModel(cfg.model, conf_threshold=cfg.conf_threshold, threads=cfg.threads)
    return YoloPoseEstimator(model, mode=cfg.mode)
