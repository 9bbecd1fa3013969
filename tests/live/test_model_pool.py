"""Model sets of the live pool: onnxruntime models shared by every set, a pose model per set."""

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


@pytest.mark.models
@pytest.mark.data
def test_sets_share_the_onnx_models_and_own_their_pose(models_dir, data_dir, monkeypatch):
    monkeypatch.setenv("COUNTERWATCH_MODELS_DIR", str(models_dir))
    image = cv2.imread(str(data_dir / "dev/office_cctv_unattended_seat/pgplarosa/sample_frame.png"))
    assert image is not None
    office_frame = Frame("cam", 0, 0.0, image)
    cfg = load_config(DEMO)
    pool = build_model_pool(cfg, 3)
    assert len(pool) == 3
    assert all(m.detector is pool[0].detector for m in pool)  # one copy of the detector's weights
    assert all(m.cascade is pool[0].cascade for m in pool)
    assert len({id(m.pose) for m in pool}) == 3  # a LiteRT interpreter runs one call at a time
    assert len({id(m.pose.model) for m in pool}) == 3
    assert build_model_pool(cfg, 1)[0].cascade is not None

    # the shared detector gives the same boxes when two workers call it at once
    want = pool[0].detector.detect(office_frame)
    got: list = [None] * 4
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            got[i] = pool[i % 2].detector.detect(office_frame)
        except BaseException as exc:  # a thread's failure must fail the test, not vanish
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for d in got:
        assert np.array_equal(d.xyxy, want.xyxy) and np.array_equal(d.class_name, want.class_name)
