"""Pose rules on real photos with the real YOLO11n-pose model (dev set in COUNTERWATCH_DATA_DIR)."""

import cv2
import pytest

from pipeline.rules.base import RuleContext
from pipeline.rules.posture import HeadDown, LeanBack, LegsCrossed
from pipeline.scene.facts import PersonFact, SceneFacts

COPYING = ["anomaly_001_0-00-00_copying.jpg", "anomaly_013_0-00-02_copying.jpg", "anomaly_069_0-00-04_copying.jpg",
           "anomaly_192_0-00-08_copying.jpg", "anomaly_282_0-00-12_copying.jpg", "anomaly_352_0-00-15_copying.jpg"]


@pytest.fixture(scope="module")
def pose_model(model_file):
    from pipeline.detectors.yolo_pose import YoloPoseModel

    return YoloPoseModel(model_file("yolo11n-pose_int8.tflite"), threads=1)


def scene(pose_model, path):
    img = cv2.imread(str(path))
    assert img is not None, path
    xyxy, score, kp, kc = pose_model.infer(img)
    persons = tuple(PersonFact(i, xyxy[i], float(score[i]), "staff", None, kp[i], kc[i]) for i in range(len(score)))
    return SceneFacts("img", 0.0, None, (img.shape[1], img.shape[0]), persons)


def largest(facts, findings):
    area = {p.track_id: float((p.xyxy[2] - p.xyxy[0]) * (p.xyxy[3] - p.xyxy[1])) for p in facts.persons}
    return max(findings, key=lambda f: area[f.key[1]])


def test_reclining_people_lean_back(pose_model, data_dir):
    folder = data_dir / "dev/posture/jiayii03"
    rule = LeanBack(LeanBack.Params(), RuleContext())
    hits = []
    for name in ("bq_recline.jpg", "gabriel_recline.jpg", "sianghui_recline.jpg"):
        facts = scene(pose_model, folder / name)
        f = largest(facts, rule.judge(facts))
        hits.append(f.cond)
    assert hits.count(True) >= 2, hits


def test_crossed_legs_photo(pose_model, data_dir):
    facts = scene(pose_model, data_dir / "dev/posture/jiayii03/ks_crossed_legs.jpg")
    f = largest(facts, LegsCrossed(LegsCrossed.Params(), RuleContext()).judge(facts))
    assert f.cond is True, f.details
    up = largest(facts, LeanBack(LeanBack.Params(), RuleContext()).judge(facts))
    assert up.cond is False, up.details  # he sits upright


def test_writing_with_head_bowed_is_not_head_down(pose_model, data_dir):
    folder = data_dir / "dev/exam_hall_phone_headdown/vijaylaxmibiradar131"
    rule = HeadDown(HeadDown.Params(), RuleContext())
    judged = 0
    for name in COPYING:
        facts = scene(pose_model, folder / name)
        for f in rule.judge(facts):
            assert f.cond is not True, (name, f.details)
            judged += f.cond is False
    assert judged >= 4  # most writers are judged (not merely "not visible")
