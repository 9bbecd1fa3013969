"""Rectangular input for static square YOLO exports: same boxes, no padding computed."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from pipeline.core.boxes import box_iou
from pipeline.detectors.rect import anchor_grid, rect_model, rect_size
from pipeline.detectors.yolo_onnx import YoloOnnxConfig, YoloOnnxDetector, build


def test_rect_size_rounds_the_short_side_up_to_the_stride():
    assert rect_size((900, 1600), 640) == (384, 640)  # 16:9 -> 360 content rows, 384 with the stride
    assert rect_size((1080, 1920), 640) == (384, 640)
    assert rect_size((1600, 900), 640) == (640, 384)  # portrait
    assert rect_size((480, 640), 640) == (480, 640)  # 4:3 is already a stride multiple
    assert rect_size((720, 720), 640) == (640, 640)
    assert rect_size((900, 1600), 320) == (192, 320)
    with pytest.raises(ValueError):
        rect_size((0, 10), 640)


def test_anchor_grid_follows_the_ultralytics_order():
    pts, strides = anchor_grid((64, 96))  # levels 8x12, 4x6, 2x3
    assert pts.shape == (2, 96 + 24 + 6) and strides.shape == (126,)
    assert pts[:, 0].tolist() == [0.5, 0.5] and pts[:, 1].tolist() == [1.5, 0.5]  # x runs fastest
    assert pts[:, 12].tolist() == [0.5, 1.5]  # second row of the stride-8 grid
    assert strides[:96].tolist() == [8.0] * 96 and strides[96:120].tolist() == [16.0] * 24
    assert strides[120:].tolist() == [32.0] * 6


def _found_in(a, b, strong: float = 0.4) -> int:
    """Every box of `a` scoring `strong` or more is in `b`: same class, IoU >= 0.9, score within 0.05."""
    keep = a.confidence >= strong
    assert keep.any()
    for box, cls, conf in zip(a.xyxy[keep], a.class_name[keep], a.confidence[keep], strict=True):
        same = b.class_name == cls
        assert same.any(), f"no {cls} at the other input"
        iou = box_iou(box[None], b.xyxy[same])[0]
        k = int(iou.argmax())
        assert iou[k] >= 0.9 and abs(float(b.confidence[same][k]) - float(conf)) <= 0.05, (cls, iou[k])
    return int(keep.sum())


def _matched(a, b) -> None:
    """The same boxes both ways; a box near the score threshold may fall either side of it."""
    assert _found_in(a, b) and _found_in(b, a)
    assert (a.class_name == "person").sum() == (b.class_name == "person").sum()


@pytest.mark.models
@pytest.mark.data
def test_yolov8n_gives_the_same_boxes_at_the_rectangle(model_file, office_frame, exam_frame):
    square = YoloOnnxDetector(model_file("yolov8n_fp32_640.onnx"), threads=1)
    rect = YoloOnnxDetector(model_file("yolov8n_fp32_640.onnx"), threads=1, rect=True)
    for frame in (office_frame, exam_frame):  # 1920x1080 and 1280x720
        _matched(square.detect(frame), rect.detect(frame))
    assert rect._sessions[(384, 640)] is not None  # the frames ran at 640x384, not on a padded square
    assert rect._square is None  # the square model was never needed, so it was let go
    assert square._sessions == {} and square._square is not None  # rect off: only the square model
    square_frame = type(office_frame)("t", 0, 0.0, office_frame.image[:, :1080])  # 1080x1080: the square input
    _matched(square.detect(square_frame), rect.detect(square_frame))
    assert rect._square is not None  # built again when a square frame came


@pytest.mark.models
@pytest.mark.data
def test_the_config_turns_rect_on_by_default(model_file, office_frame):
    det = build(YoloOnnxConfig(model=str(model_file("yolov8n_fp32_640.onnx")), threads=1))
    assert det.rect
    det.detect(office_frame)
    assert det._sessions.get((384, 640)) is not None
    off = build(YoloOnnxConfig(model=str(model_file("yolov8n_fp32_640.onnx")), threads=1, rect=False))
    assert not off.rect


@pytest.mark.models
@pytest.mark.data
def test_yolo11_keeps_the_square_input(model_file, office_frame):
    """YOLO11's attention block has size-bound reshapes of its own: the rewrite fails its check, square it is."""
    square = YoloOnnxDetector(model_file("yolo11n_fp32_960.onnx"), threads=1)
    rect = YoloOnnxDetector(model_file("yolo11n_fp32_960.onnx"), threads=1, rect=True)
    a, b = square.detect(office_frame), rect.detect(office_frame)
    assert rect._sessions[(544, 960)] is None
    assert np.array_equal(a.xyxy, b.xyxy) and np.array_equal(a.confidence, b.confidence)


@pytest.mark.models
def test_an_unfamiliar_anchor_table_is_not_rewritten(model_file, tmp_path):
    path = model_file("yolov8n_fp32_640.onnx")
    assert rect_model(path, 640, (384, 640)) is not None
    model = onnx.load(str(path))
    for node in model.graph.node:  # shift the anchor grid: no longer the one Ultralytics builds
        for attr in node.attribute:
            arr = numpy_helper.to_array(attr.t) if attr.name == "value" else None
            if arr is not None and arr.dtype.kind == "f" and arr.size == 2 * 8400:
                attr.t.CopyFrom(numpy_helper.from_array(arr + 1.0, attr.t.name))
    odd = tmp_path / "odd.onnx"
    onnx.save(model, str(odd))
    assert rect_model(odd, 640, (384, 640)) is None
    assert rect_model(path, 640, (380, 640)) is None  # not a stride multiple
    assert rect_model(path, 320, (192, 320)) is None  # not the model's input size
