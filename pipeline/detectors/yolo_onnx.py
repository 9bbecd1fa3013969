"""Ultralytics YOLO (v8/11) detection models exported to ONNX, run by onnxruntime.

Input size and class names are read from the ONNX metadata that the Ultralytics
exporter writes, so a fine-tuned model with extra classes (mirror, cosmetics) works
without code changes. Static-batch models are looped; dynamic-batch models get one
batched call, which is what makes multi-camera and crop cascades cheaper. A static
square model runs a wide frame at a rectangle (`rect`, `pipeline.detectors.rect`).
"""

from __future__ import annotations

import ast
import logging
import threading
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from pydantic import Field

from pipeline.core.boxes import nms
from pipeline.core.errors import ConfigError
from pipeline.core.memory import release_freed_memory
from pipeline.core.modelpath import resolve_model
from pipeline.core.types import Detections, Frame
from pipeline.detectors.base import Letterbox, clip_boxes, cxcywh_to_xyxy, letterbox
from pipeline.detectors.rect import rect_model, rect_size
from pipeline.detectors.registry import BackendConfig, detector_backend

log = logging.getLogger(__name__)


class YoloOnnxConfig(BackendConfig):
    """`models.detector.type: yolo_onnx` (the default): an Ultralytics ONNX export run by onnxruntime."""

    type: Literal["yolo_onnx"] = "yolo_onnx"
    model: str = Field("yolov8n_fp32_640.onnx",
                       description="File name in the models directory, or a path (640 px: the 320 px yolo11n "
                                   "misses seated staff in 1080p CCTV; FP32: the same boxes on every CPU, "
                                   "which int8 kernels do not give)")
    conf_threshold: float = Field(0.3, ge=0, le=1)
    iou_threshold: float = Field(0.5, ge=0, le=1)
    threads: int = Field(2, ge=1, le=64, description="onnxruntime intra-op threads")
    imgsz: int | None = Field(None, ge=32, le=4096, description="Input size for models with a dynamic input")
    rect: bool = Field(True, description="A static square model runs a wide or tall frame at a rectangle rounded "
                                         "to the stride (640x384 for 16:9), as Ultralytics predicts: no CPU spent "
                                         "on letterbox padding")


def _session(path: Path, threads: int, model: bytes | None = None):
    """An onnxruntime session for the file at `path` (or for `model`, a rewritten copy of it)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    # A spinning intra-op pool burns CPU between runs; on a shared machine that is CPU other cameras need.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(model if model is not None else str(path), sess_options=opts,
                                    providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"model file {path} could not be loaded by onnxruntime: {first}") from exc


def parse_names(raw: str | None, n_classes: int) -> list[str]:
    """Ultralytics writes names as a Python dict literal ("{0: 'person', ...}")."""
    if raw:
        try:
            names = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            names = None
        if isinstance(names, dict):
            return [str(names.get(i, f"class{i}")) for i in range(n_classes)]
        if isinstance(names, (list, tuple)):
            return [str(names[i]) if i < len(names) else f"class{i}" for i in range(n_classes)]
    return [f"class{i}" for i in range(n_classes)]


def parse_imgsz(raw: str | None) -> tuple[int, int] | None:
    if not raw:
        return None
    try:
        v = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return None
    if isinstance(v, int):
        return (v, v)
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return (int(v[0]), int(v[1]))
    return None


class YoloOnnxDetector:
    """A YOLO ONNX detector; `detect(frame)` gives boxes in frame pixels with COCO (or custom) names."""

    def __init__(
        self,
        model: str | Path,
        *,
        conf_threshold: float = 0.3,
        iou_threshold: float = 0.5,
        threads: int = 2,
        imgsz: int | None = None,
        max_det: int = 300,
        rect: bool = False,
    ) -> None:
        self.path = resolve_model(str(model), what="detector model")
        self.conf_threshold = float(conf_threshold)
        self.iou_threshold = float(iou_threshold)
        self.max_det = int(max_det)
        self.threads = int(threads)
        self._square: object | None = _session(self.path, threads)
        self._square_ran = False
        meta = self.session.get_modelmeta().custom_metadata_map
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        shape = inp.shape  # [b, 3, h, w]; symbolic dims are str or None
        if len(shape) != 4:
            raise ConfigError(f"model file {self.path}: expected an image input [batch, 3, h, w], got {shape}")
        self.dynamic_batch = not isinstance(shape[0], int) or shape[0] < 1
        static_hw = tuple(shape[2:]) if all(isinstance(s, int) and s > 0 for s in shape[2:]) else None
        meta_hw = parse_imgsz(meta.get("imgsz"))
        if imgsz is not None and static_hw is None:
            self.input_size = (int(imgsz), int(imgsz))
        else:
            if imgsz is not None and static_hw is not None and tuple(static_hw) != (imgsz, imgsz):
                log.info("%s has a fixed input %s; imgsz=%s ignored", self.path.name, static_hw, imgsz)
            self.input_size = tuple(static_hw or meta_hw or (640, 640))
        out_shape = self.session.get_outputs()[0].shape
        self.end2end = str(meta.get("end2end", "False")) == "True" or (
            len(out_shape) == 3 and out_shape[-1] == 6 and isinstance(out_shape[1], int) and out_shape[1] != 6
        )
        n_classes = None
        if not self.end2end and len(out_shape) == 3 and isinstance(out_shape[1], int):
            n_classes = out_shape[1] - 4
        raw_names = meta.get("names")
        if n_classes is None:
            n_classes = len(ast.literal_eval(raw_names)) if raw_names else 80
        self.names = np.array(parse_names(raw_names, n_classes), dtype=object)
        # rectangular inputs: (h, w) -> session, None where the head could not be rewritten (square used)
        square = static_hw is not None and static_hw[0] == static_hw[1] and not self.dynamic_batch
        self.rect = bool(rect) and square and not self.end2end
        self._sessions: dict[tuple[int, int], object | None] = {}
        self._lock = threading.Lock()  # a detector may be shared by workers (onnxruntime runs are thread-safe)

    @property
    def session(self):
        """The model at its own (square) input; built again if it was let go for a rectangle."""
        sess = self._square
        if sess is None:
            with self._lock:
                if self._square is None:
                    self._square = _session(self.path, self.threads)
                sess = self._square
        return sess

    def _session_for(self, frame_hw: tuple[int, int]) -> tuple[object, tuple[int, int]]:
        """The session and input (h, w) for a frame of this size: the rectangle when rect is on and possible."""
        square = self.input_size[0]
        hw = rect_size(frame_hw, square) if self.rect else tuple(self.input_size)
        if hw != tuple(self.input_size) and hw not in self._sessions:
            with self._lock:
                if hw not in self._sessions:
                    self._build_rect(square, hw, frame_hw)
        sess = self._sessions.get(hw)
        if sess is None:
            self._square_ran = True
            return self.session, tuple(self.input_size)
        return sess, hw

    @property
    def model_name(self) -> str:
        return self.path.name

    def _build_rect(self, square: int, hw: tuple[int, int], frame_hw: tuple[int, int]) -> None:
        sess = self._rect_session(square, hw)
        self._sessions[hw] = sess
        if sess is not None:
            log.info("%s: frames of %dx%d run at a %dx%d input", self.path.name, frame_hw[1], frame_hw[0],
                     hw[1], hw[0])
            if not self._square_ran:
                self._square = None  # never used: its weights and buffers go (about 40 MB)
        release_freed_memory()  # the rewrite's transient copies of the model (tens of MB) go back to the system

    def _rect_session(self, square: int, hw: tuple[int, int]) -> object | None:
        """A session for the rewritten head, checked on one blank input; None: keep the square model."""
        rewritten = rect_model(self.path, square, hw)
        if rewritten is None:
            return None
        try:
            sess = _session(self.path, self.threads, rewritten)
            out = sess.run(None, {self.input_name: np.zeros((1, 3, *hw), np.float32)})[0]
        except Exception as exc:  # a head with more size-bound shapes (YOLO11's attention block): square it is
            log.info("%s: no rectangular input %dx%d (%s); frames run at the square input", self.path.name,
                     hw[1], hw[0], str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
            return None
        n = sum((hw[0] // st) * (hw[1] // st) for st in (8, 16, 32))
        return sess if out.shape[-1] == n else None

    def _prep(self, image: np.ndarray, size: tuple[int, int] | None = None) -> tuple[np.ndarray, Letterbox]:
        boxed, lb = letterbox(image, size or self.input_size)
        rgb = cv2.cvtColor(boxed, cv2.COLOR_BGR2RGB)
        return np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32) / 255.0, lb

    def _decode(self, out: np.ndarray, lb: Letterbox, width: int, height: int) -> Detections:
        if self.end2end:  # (N, 6): x1, y1, x2, y2, score, class
            keep = out[:, 4] >= self.conf_threshold
            xyxy, scores, cls = out[keep, :4], out[keep, 4], out[keep, 5].astype(np.int64)
        else:  # (4 + nc, N): cx, cy, w, h, class scores
            pred = out.T
            cls_scores = pred[:, 4:]
            cls = cls_scores.argmax(axis=1)
            scores = cls_scores[np.arange(len(cls)), cls]
            keep = scores >= self.conf_threshold
            xyxy, scores, cls = cxcywh_to_xyxy(pred[keep, :4]), scores[keep], cls[keep]
            idx = nms(xyxy, scores, self.iou_threshold, cls)[: self.max_det]
            xyxy, scores, cls = xyxy[idx], scores[idx], cls[idx]
        xyxy = clip_boxes(lb.to_image(xyxy), width, height)
        cls = cls.astype(np.int64)
        return Detections(
            xyxy=xyxy.astype(np.float32),
            confidence=scores.astype(np.float32),
            class_id=cls,
            class_name=self.names[np.clip(cls, 0, len(self.names) - 1)] if len(cls) else np.zeros((0,), object),
        )

    def detect_batch(self, images: list[np.ndarray]) -> list[Detections]:
        """BGR images of any size -> one Detections each, in each image's pixels."""
        if not images:
            return []
        if self.dynamic_batch and len(images) > 1:
            preps = [self._prep(im) for im in images]
            outs = self.session.run(None, {self.input_name: np.stack([p[0] for p in preps])})[0]
        else:
            preps, outs = [], []
            for im in images:
                sess, hw = self._session_for(im.shape[:2])
                preps.append(self._prep(im, hw))
                outs.append(sess.run(None, {self.input_name: preps[-1][0][None]})[0][0])
        return [
            self._decode(np.asarray(o), lb, im.shape[1], im.shape[0])
            for o, (_, lb), im in zip(outs, preps, images, strict=True)
        ]

    def detect(self, frame: Frame) -> Detections:
        return self.detect_batch([frame.image])[0]


@detector_backend("yolo_onnx", YoloOnnxConfig)
def build(cfg: YoloOnnxConfig) -> YoloOnnxDetector:
    return YoloOnnxDetector(
        cfg.model,
        conf_threshold=cfg.conf_threshold,
        iou_threshold=cfg.iou_threshold,
        threads=cfg.threads,
        imgsz=cfg.imgsz,
        rect=cfg.rect,
    )
