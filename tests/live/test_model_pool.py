"""Model sets of the live pool: onnxruntime models and a thread-safe pose estimator shared by every set."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.core.types import Frame
from pipeline.processor import build_model_pool
from pipeline.settings import load_config

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"


def _at_once(n: int, call):
    """call(i) for i in range(n), each on its own thread started together; a thread's failure fails the test."""
    got: list = [None] * n
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            got[i] = call(i)
        except BaseException as exc:  # a thread's failure must fail the test, not vanish
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    return got


@pytest.mark.models
@pytest.mark.data
def test_sets_share_the_onnx_models_and_the_pose(models_dir, data_dir, monkeypatch):
    monkeypatch.setenv("COUNTERWATCH_MODELS_DIR", str(models_dir))
    image = cv2.imread(str(data_dir / "dev/office_cctv_unattended_seat/pgplarosa/sample_frame.png"))
    assert image is not None
    office_frame = Frame("cam", 0, 0.0, image)
    cfg = load_config(DEMO)
    pool = build_model_pool(cfg, 3)
    assert len(pool) == 3
    assert all(m.detector is pool[0].detector for m in pool)  # one copy of the detector's weights
    assert all(m.cascade is pool[0].cascade for m in pool)
    assert all(m.pose is pool[0].pose for m in pool)  # the LiteRT interpreter runs under its own lock
    assert build_model_pool(cfg, 1)[0].cascade is not None

    # the shared detector gives the same boxes when two workers call it at once
    want = pool[0].detector.detect(office_frame)
    got = _at_once(4, lambda i: pool[i % 2].detector.detect(office_frame))
    for d in got:
        assert np.array_equal(d.xyxy, want.xyxy) and np.array_equal(d.class_name, want.class_name)

    # the shared pose estimator gives the same skeletons when several workers call it at once
    persons = want[want.class_name.astype(str) == "person"]
    assert len(persons) >= 2
    want_pose = pool[0].pose.estimate(office_frame, persons)
    assert want_pose.keypoint_conf.max() > 0.5
    posed = _at_once(6, lambda i: pool[i % 3].pose.estimate(office_frame, persons))
    for p in posed:
        assert np.array_equal(p.keypoints, want_pose.keypoints)
        assert np.array_equal(p.keypoint_conf, want_pose.keypoint_conf)
