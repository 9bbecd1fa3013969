"""Real frames and loaded models shared by the detector tests (loaded once per session)."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from pipeline.core.types import Frame

OFFICE = "dev/office_cctv_unattended_seat/pgplarosa/sample_frame.png"
EXAM = "dev/exam_hall_phone_headdown/vijaylaxmibiradar131/anomaly_009_0-00-00_using mobile.jpg"


def _frame(data_dir: Path, rel: str) -> Frame:
    path = data_dir / rel
    if not path.is_file():
        from tests.conftest import _need

        _need(path, f"image {rel}")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None, f"could not decode {path}"
    return Frame("test", 0, 0.0, img)


@pytest.fixture(scope="session")
def office_frame(data_dir) -> Frame:
    """1920x1080 office CCTV: 3 seated staff visible (a 4th is only a head at the bottom edge)."""
    return _frame(data_dir, OFFICE)


@pytest.fixture(scope="session")
def exam_frame(data_dir) -> Frame:
    """1280x720 exam room: 4 seated students, one holding a phone."""
    return _frame(data_dir, EXAM)


@pytest.fixture(scope="session")
def yolov8n(model_file):
    from pipeline.detectors.yolo_onnx import YoloOnnxDetector

    return YoloOnnxDetector(model_file("yolov8n_int8.onnx"), conf_threshold=0.3, threads=2)


@pytest.fixture(scope="session")
def yolo11n(model_file):
    from pipeline.detectors.yolo_onnx import YoloOnnxDetector

    return YoloOnnxDetector(model_file("yolo11n_int8.onnx"), conf_threshold=0.3, threads=2)


@pytest.fixture(scope="session")
def office_persons(yolov8n, office_frame):
    d = yolov8n.detect(office_frame)
    return d[d.class_name == "person"]


@pytest.fixture(scope="session")
def exam_persons(yolov8n, exam_frame):
    d = yolov8n.detect(exam_frame)
    return d[d.class_name == "person"]
