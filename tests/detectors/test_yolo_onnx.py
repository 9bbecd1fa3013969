"""The YOLO ONNX detector on real CCTV frames, with the shared int8 models."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.boxes import box_iou
from pipeline.core.errors import ConfigError, ModelNotFoundError
from pipeline.detectors.registry import build_detector
from pipeline.detectors.yolo_onnx import YoloOnnxDetector, parse_imgsz, parse_names
from pipeline.settings import DetectorConfig

pytestmark = [pytest.mark.models, pytest.mark.data]


def _sane(d, frame):
    assert d.xyxy.dtype == np.float32
    assert (d.xyxy[:, 0] < d.xyxy[:, 2]).all() and (d.xyxy[:, 1] < d.xyxy[:, 3]).all()
    assert (
        (d.xyxy >= 0).all() and (d.xyxy[:, [0, 2]] <= frame.width).all() and (d.xyxy[:, [1, 3]] <= frame.height).all()
    )
    assert ((d.confidence >= 0.3) & (d.confidence <= 1)).all()


def test_reads_size_and_names_from_metadata(yolo11n, yolov8n):
    assert yolo11n.input_size == (320, 320) and yolov8n.input_size == (640, 640)
    assert len(yolov8n.names) == 80 and yolov8n.names[0] == "person" and yolov8n.names[67] == "cell phone"


def test_office_cctv_staff_found_by_yolov8n(yolov8n, office_frame, office_persons):
    d = yolov8n.detect(office_frame)
    _sane(d, office_frame)
    assert 3 <= len(office_persons) <= 4
    # Three seated staff: left station (phone), back right, right; all in the middle band of the frame.
    cx = office_persons.centers[:, 0] / office_frame.width
    assert (cx > 0.3).all() and (cx < 0.95).all()
    h = office_persons.xyxy[:, 3] - office_persons.xyxy[:, 1]
    assert (h > 100).all() and (h < office_frame.height).all()
    # Persons do not overlap much: three different people, not one person boxed three times.
    iou = box_iou(office_persons.xyxy, office_persons.xyxy)
    assert (iou[~np.eye(len(iou), dtype=bool)] < 0.3).all()


def test_exam_room_students_found_by_yolo11n(yolo11n, exam_frame):
    d = yolo11n.detect(exam_frame)
    _sane(d, exam_frame)
    persons = d[d.class_name == "person"]
    assert 3 <= len(persons) <= 6
    assert persons.class_id.tolist() == [0] * len(persons)


def test_batch_equals_single(yolo11n, exam_frame, office_frame):
    both = yolo11n.detect_batch([exam_frame.image, office_frame.image[:540, :960]])
    assert len(both) == 2
    single = yolo11n.detect(exam_frame)
    np.testing.assert_allclose(both[0].xyxy, single.xyxy, atol=1e-3)
    assert yolo11n.detect_batch([]) == []


def test_registry_builds_detector(models_dir, monkeypatch):
    monkeypatch.setenv("COUNTERWATCH_MODELS_DIR", str(models_dir))
    det = build_detector(DetectorConfig(type="yolo_onnx", model="yolo11n_int8.onnx", threads=1))
    assert isinstance(det, YoloOnnxDetector) and det.conf_threshold == 0.3


def test_missing_model_names_file_and_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("COUNTERWATCH_MODELS_DIR", str(tmp_path))
    with pytest.raises(ModelNotFoundError) as err:
        build_detector(DetectorConfig(model="yolo11s_int8.onnx"))
    msg = str(err.value)
    assert "yolo11s_int8.onnx" in msg and str(tmp_path) in msg and "counterwatch models fetch" in msg


def test_corrupt_model_file_is_a_config_error(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(ConfigError, match="broken.onnx could not be loaded by onnxruntime"):
        YoloOnnxDetector(bad)


def test_metadata_parsers():
    assert parse_names("{0: 'person', 2: 'car'}", 3) == ["person", "class1", "car"]
    assert parse_names(None, 2) == ["class0", "class1"]
    assert parse_names("not python", 1) == ["class0"]
    assert parse_imgsz("[320, 320]") == (320, 320) and parse_imgsz("640") == (640, 640) and parse_imgsz("x") is None
