"""The phone cascade: crops of staff persons through the detector, boxes mapped back into the frame."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.config.models import PhoneCascadeConfig
from pipeline.core.regions import crop_region, hand_regions
from pipeline.core.skeleton import KP
from pipeline.core.types import Detections, Frame
from pipeline.detectors.cascade import PhoneCascade, build_cascade
from pipeline.settings import DetectorConfig


class RecordingDetector:
    """A detector double that records the crops it is given and finds one fixed box in each.

    It exercises the coordinate mapping independently of any model (the real-model
    test below covers the rest)."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, int]] = []

    def detect(self, frame: Frame) -> Detections:
        return self.detect_batch([frame.image])[0]

    def detect_batch(self, images):
        self.shapes += [im.shape[:2] for im in images]
        return [
            Detections(
                xyxy=np.array([[10, 20, 30, 40], [0, 0, 5, 5]], np.float32),
                confidence=np.array([0.9, 0.1], np.float32),
                class_id=np.array([67, 0]),
                class_name=np.array(["cell phone", "person"], object),
            )
            for _ in images
        ]


def _persons(boxes, kps=None, kpc=None) -> Detections:
    n = len(boxes)
    return Detections(
        np.array(boxes, np.float32),
        np.ones(n, np.float32),
        np.zeros(n, np.int64),
        np.array(["person"] * n, object),
        keypoints=kps,
        keypoint_conf=kpc,
    )


def test_crop_offsets_are_added_back():
    frame = Frame("c", 0, 0.0, np.zeros((400, 600, 3), np.uint8))
    det = RecordingDetector()
    out = PhoneCascade(det, 0.2, margin=0.0).detect(frame, _persons([[100, 50, 200, 300], [300, 100, 400, 180]]))
    # Tall box (h > 2.2 w) is cut to its upper 70 %; the wide one is kept whole.
    assert det.shapes == [(175, 100), (80, 100)]
    assert out.class_name.tolist() == ["cell phone", "cell phone"]  # low-score 'person' filtered out
    np.testing.assert_allclose(out.xyxy, [[110, 70, 130, 90], [310, 120, 330, 140]])
    assert out.data["person_index"].tolist() == [0, 1]


def test_overlapping_crops_are_deduplicated():
    frame = Frame("c", 0, 0.0, np.zeros((400, 600, 3), np.uint8))
    out = PhoneCascade(RecordingDetector(), 0.2, margin=0.0).detect(frame, _persons([[100, 50, 200, 250]] * 2))
    assert len(out) == 1


def test_crop_hugs_wrists_when_pose_is_known():
    kp = np.zeros((17, 2), np.float32)
    kc = np.zeros(17, np.float32)
    for name, xy in {
        "left_shoulder": (120, 100),
        "right_shoulder": (180, 100),
        "left_wrist": (130, 200),
        "right_wrist": (170, 210),
    }.items():
        kp[KP[name]], kc[KP[name]] = xy, 0.9
    x1, y1, x2, y2 = crop_region(np.array([100, 50, 200, 450]), kp, kc, 600, 500)
    assert (x1, y1) == (20, 0) and (x2, y2) == (280, 310)  # 0.25 * 400 px of reach around the joints
    assert crop_region(np.array([100, 50, 200, 450]), kp, np.zeros(17), 600, 500)[3] < 450  # no pose: upper part


def test_no_staff_no_work():
    out = PhoneCascade(RecordingDetector(), 0.2).detect(
        Frame("c", 0, 0.0, np.zeros((10, 10, 3), np.uint8)), Detections.empty()
    )
    assert len(out) == 0 and "person_index" in out.data


@pytest.mark.models
@pytest.mark.data
def test_real_cascade_boxes_inside_frame(yolov8n, office_frame, office_persons, models_dir, monkeypatch):
    monkeypatch.setenv("COUNTERWATCH_MODELS_DIR", str(models_dir))
    cascade = build_cascade(PhoneCascadeConfig(conf_threshold=0.1), DetectorConfig(model="yolo11n_int8.onnx"))
    assert cascade.detector.conf_threshold == 0.1  # its own detector, at the cascade's threshold
    out = cascade.detect(office_frame, office_persons)
    w, h = office_frame.width, office_frame.height
    assert (out.xyxy[:, [0, 2]] >= 0).all() and (out.xyxy[:, [0, 2]] <= w).all()
    assert (out.xyxy[:, [1, 3]] >= 0).all() and (out.xyxy[:, [1, 3]] <= h).all()
    assert (out.xyxy[:, 0] < out.xyxy[:, 2]).all() and (out.xyxy[:, 1] < out.xyxy[:, 3]).all()
    assert set(out.class_name.tolist()) <= set(cascade.classes.tolist())
    assert len(out) >= 1  # the staff crops hold books, cups and a phone
    owner = out.data["person_index"]
    # Every find lies inside (the margin of) the crop of the person it is attributed to.
    for box, i in zip(out.xyxy, owner, strict=True):
        px1, py1, px2, py2 = office_persons.xyxy[i]
        mw, mh = 0.3 * (px2 - px1), 0.3 * (py2 - py1)
        assert px1 - mw <= box[0] and box[2] <= px2 + mw and py1 - mh <= box[1] and box[3] <= py2 + mh
    assert build_cascade(PhoneCascadeConfig(enabled=False), DetectorConfig()) is None


def test_hand_regions_square_around_confident_wrists_inside_the_frame():
    import numpy as np

    from pipeline.core.skeleton import KP
    kp = np.zeros((17, 2), np.float32)
    kc = np.zeros(17, np.float32)
    kp[KP["left_wrist"]] = (100, 200)
    kp[KP["right_wrist"]] = (5, 395)  # near the frame corner: clipped
    kc[KP["left_wrist"]] = 0.9
    kc[KP["right_wrist"]] = 0.9
    box = np.array([0, 0, 200, 400], np.float32)  # 400 px tall: squares of 0.45 * 400 = 180 px
    left, right = hand_regions(box, kp, kc, 640, 400)
    assert left == (10, 110, 190, 290)
    assert right[0] == 0 and right[3] == 400 and right[2] - right[0] < 180
    kc[KP["right_wrist"]] = 0.1  # not visible: no crop guessed
    assert len(hand_regions(box, kp, kc, 640, 400)) == 1
    assert hand_regions(box, None, None, 640, 400) == []


def test_body_mask_skips_body_crops_and_marks_wrist_finds():
    frame = Frame("c", 0, 0.0, np.zeros((400, 600, 3), np.uint8))
    kp = np.zeros((2, 17, 2), np.float32)
    kc = np.zeros((2, 17), np.float32)
    for i, (x, y) in enumerate([(150, 200), (350, 150)]):
        kp[i, KP["left_wrist"]], kc[i, KP["left_wrist"]] = (x, y), 0.9
    staff = _persons([[100, 50, 200, 300], [300, 60, 400, 260]], kp, kc)
    det = RecordingDetector()
    both = PhoneCascade(det, 0.2, margin=0.0).detect(frame, staff)
    assert len(det.shapes) == 4  # two body crops, two wrist crops
    det.shapes.clear()
    out = PhoneCascade(det, 0.2, margin=0.0).detect(frame, staff, body=np.array([False, True]))
    assert len(det.shapes) == 3  # person 0: its wrist crop only
    mine = out.data["person_index"] == 0
    assert mine.any() and out.data["hand_crop"][mine].all()
    assert (~out.data["hand_crop"][~mine]).any()  # person 1's body crop ran
    assert both.data["hand_crop"].dtype == bool and len(both.data["hand_crop"]) == len(both)
