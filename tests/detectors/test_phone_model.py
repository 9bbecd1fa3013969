"""The project's own phone model (models/counterwatch_phone.onnx) on real dev frames, through the real pipeline."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import pytest

from pipeline.modelsfetch import find_entry, load_manifest
from pipeline.settings import SiteConfig

REPO = Path(__file__).resolve().parents[2]
EXAM = "dev/exam_hall_phone_headdown/vijaylaxmibiradar131"
# A student holds a phone at the desk (labelled 1 in tests/data/dev_labels.csv) / students write (labelled 0).
# HOLDING was fixed before the model was evaluated; WRITING is every labelled writing frame. The model still fires on some writing frames
# (a pen held like a phone): the floor below is what it reached, so a drop fails.
HOLDING = ["anomaly_001_0-00-00_using mobile.jpg", "anomaly_004_0-00-00_using mobile.jpg",
           "anomaly_009_0-00-00_using mobile.jpg", "anomaly_014_0-00-01_using mobile.jpg"]
def _writing() -> list[str]:
    """Every writing frame ("copying", "copy cheat") labelled 0 for phone.use in the dev labels."""
    import csv

    with (REPO / "tests/data/dev_labels.csv").open(newline="", encoding="utf-8") as fh:
        return [r["image"].split("/")[-1] for r in csv.DictReader(fh)
                if r["image"].startswith("exam_hall") and "cop" in r["image"] and r["phone.use"] == "0"]


WRITING = _writing()


def test_shipped_file_metadata_and_manifest(model_file):
    path = model_file("counterwatch_phone.onnx")
    assert path.parent == REPO / "models" and path.stat().st_size <= 12 * 1024 * 1024
    entry = find_entry(load_manifest(), "counterwatch_phone.onnx")
    assert entry.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (REPO / "models/counterwatch_phone.md").is_file()
    from pipeline.detectors.yolo_onnx import YoloOnnxDetector

    det = YoloOnnxDetector(path, threads=1)
    assert det.names[0] == "person" and det.names[1] == "phone" and det.dynamic_batch
    assert SiteConfig().models.phone_cascade.model == "counterwatch_phone.onnx"


@pytest.fixture(scope="module")
def pipeline_models(models_dir, data_dir):
    import os

    os.environ.setdefault("COUNTERWATCH_MODELS_DIR", str(models_dir))
    from pipeline.processor import build_models

    cfg = SiteConfig()
    return cfg, build_models(cfg)


def _phone_use(cfg, models, path: Path) -> bool:
    from pipeline.evaluation.images import build_judges, judge_image
    from pipeline.processor import image_facts

    img = cv2.imread(str(path))
    assert img is not None, path
    facts, _ = image_facts(models, img, cfg)
    predicted, _ = judge_image(build_judges(cfg, ["phone.use"]), facts)
    return predicted["phone.use"]


def test_phone_found_in_hand_and_not_on_writing_frames(pipeline_models, data_dir):
    cfg, models = pipeline_models
    found = [_phone_use(cfg, models, data_dir / EXAM / name) for name in HOLDING]
    assert len(WRITING) == 14
    writing = [_phone_use(cfg, models, data_dir / EXAM / name) for name in WRITING]
    assert sum(found) >= MIN_HOLDING_FOUND, found
    assert sum(writing) <= MAX_WRITING_FLAGGED, writing


MIN_HOLDING_FOUND = 3  # of 4; this machine: 4 (the build trained with the licensed synthetic crops, see
# models/counterwatch_phone.md), one frame of margin for the int8 pose model's CPU-dependent rounding
MAX_WRITING_FLAGGED = 9  # of 14; this machine: 8 (the build before it flagged 12-13): still far from the "none"
# the rule needs; pens held like phones remain its main error (see models/counterwatch_phone.md)
