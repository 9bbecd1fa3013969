"""Pose on real person boxes: YOLO-pose (TFLite) and MediaPipe give anatomically plausible COCO-17 skeletons."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.errors import ConfigError, ModelNotFoundError
from pipeline.core.skeleton import KP
from pipeline.core.types import Detections
from pipeline.detectors.registry import build_pose
from pipeline.settings import PoseConfig

pytestmark = [pytest.mark.models, pytest.mark.data]
VIS = 0.5


@pytest.fixture(scope="module")
def yolo_pose_model(model_file):
    from pipeline.detectors.yolo_pose import YoloPoseModel

    return YoloPoseModel(model_file("yolo11n-pose_int8.tflite"), threads=2)


@pytest.fixture(scope="module")
def mp_pose(model_file):
    from pipeline.detectors.mediapipe_pose import MediaPipePoseEstimator

    est = MediaPipePoseEstimator(model_file("pose_landmarker_full.task"))
    yield est
    est.close()


def assert_plausible(posed: Detections, persons: Detections, min_people: int) -> None:
    """Same persons back, and each skeleton found looks like a person in its own box."""
    assert len(posed) == len(persons)
    np.testing.assert_array_equal(posed.xyxy, persons.xyxy)
    assert posed.keypoints.shape == (len(persons), 17, 2) and posed.keypoint_conf.shape == (len(persons), 17)
    assert ((posed.keypoint_conf >= 0) & (posed.keypoint_conf <= 1)).all()
    found = 0
    for i in range(len(posed)):
        kp, kc = posed.keypoints[i], posed.keypoint_conf[i]
        if (kc >= VIS).sum() < 5:
            continue
        found += 1
        x1, y1, x2, y2 = persons.xyxy[i]
        mx, my = 0.25 * (x2 - x1), 0.25 * (y2 - y1)
        seen = kp[kc >= VIS]
        assert (seen[:, 0] >= x1 - mx).all() and (seen[:, 0] <= x2 + mx).all(), f"person {i}: keypoints outside box"
        assert (seen[:, 1] >= y1 - my).all() and (seen[:, 1] <= y2 + my).all(), f"person {i}: keypoints outside box"
        sh = [KP["left_shoulder"], KP["right_shoulder"]]
        if (kc[sh] >= VIS).all():
            shoulder_y = kp[sh, 1].mean()
            if kc[KP["nose"]] >= VIS:
                assert kp[KP["nose"], 1] < shoulder_y, f"person {i}: nose below shoulders"
            hips = [KP["left_hip"], KP["right_hip"]]
            if (kc[hips] >= VIS).all():
                assert shoulder_y < kp[hips, 1].mean(), f"person {i}: shoulders below hips"
    assert found >= min_people, f"only {found} of {len(persons)} persons got a skeleton"


@pytest.mark.parametrize("mode", ["hybrid", "crops"])
def test_yolo_pose_office(yolo_pose_model, office_frame, office_persons, mode):
    from pipeline.detectors.yolo_pose import YoloPoseEstimator

    posed = YoloPoseEstimator(yolo_pose_model, mode=mode).estimate(office_frame, office_persons)
    assert_plausible(posed, office_persons, min_people=2)


def test_yolo_pose_exam_room(yolo_pose_model, exam_frame, exam_persons):
    from pipeline.detectors.yolo_pose import YoloPoseEstimator

    posed = YoloPoseEstimator(yolo_pose_model, mode="frame").estimate(exam_frame, exam_persons)
    assert_plausible(posed, exam_persons, min_people=3)


def test_mediapipe_pose_on_crops(mp_pose, office_frame, office_persons, exam_frame, exam_persons):
    assert_plausible(mp_pose.estimate(office_frame, office_persons), office_persons, min_people=2)
    assert_plausible(mp_pose.estimate(exam_frame, exam_persons), exam_persons, min_people=3)


def test_no_person_no_pose(yolo_pose_model, mp_pose, office_frame):
    """A box on a blank wall gets all-zero keypoint confidence (\"not visible\"), never a guess."""
    from pipeline.detectors.yolo_pose import YoloPoseEstimator

    wall = Detections(
        np.array([[20, 200, 220, 600]], np.float32),
        np.ones(1, np.float32),
        np.zeros(1, np.int64),
        np.array(["person"], object),
    )
    for est in (YoloPoseEstimator(yolo_pose_model, mode="hybrid"), mp_pose):
        posed = est.estimate(office_frame, wall)
        assert len(posed) == 1 and (posed.keypoint_conf < VIS).all()
    empty = YoloPoseEstimator(yolo_pose_model).estimate(office_frame, Detections.empty())
    assert len(empty) == 0 and empty.keypoints.shape == (0, 17, 2)


def test_registry_pose(models_dir, monkeypatch):
    monkeypatch.setenv("COUNTERWATCH_MODELS_DIR", str(models_dir))
    assert build_pose(PoseConfig(type="none")) is None
    from pipeline.detectors.yolo_pose import YoloPoseEstimator

    assert isinstance(build_pose(PoseConfig(type="yolo_pose")), YoloPoseEstimator)


def test_pose_model_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("COUNTERWATCH_MODELS_DIR", str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="yolo11n-pose_int8.tflite"):
        build_pose(PoseConfig(type="yolo_pose"))
    odd = tmp_path / "pose.bin"
    odd.write_bytes(b"x")
    with pytest.raises(ConfigError, match="neither .tflite nor .onnx"):
        build_pose(PoseConfig(type="yolo_pose", model=str(odd)))
