"""Posture and gesture rules on the real dev frames with the real models: floors that fail CI on a drop.

One run of `evaluate_images` over every labelled dev image (default site config, the
same code as `counterwatch eval images`), then per-rule floors from
tests/data/posture_floors.json and the two behaviours the rules must keep: crowded
exam-hall frames raise no slouch / lean-back / hands-on-hips alarm, and the recline
photos still lean back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.evaluation.images import evaluate_images
from pipeline.evaluation.labels import load_csv
from pipeline.settings import SiteConfig

REPO = Path(__file__).resolve().parents[2]
FLOORS = json.loads((REPO / "tests/data/posture_floors.json").read_text(encoding="utf-8"))
RULES = sorted(k for k in FLOORS if not k.startswith("_"))


@pytest.fixture(scope="module")
def dev_eval(data_dir, models_dir, model_file):
    import os

    defaults = SiteConfig().models
    model_file(defaults.detector.model)
    model_file(defaults.pose.model)
    old = os.environ.get("COUNTERWATCH_MODELS_DIR")
    os.environ["COUNTERWATCH_MODELS_DIR"] = str(models_dir)
    try:
        labels, _ = load_csv(REPO / "tests/data/dev_labels.csv", data_dir / "dev")
        cfg = SiteConfig()
        cfg = cfg.model_copy(update={"models": cfg.models.model_copy(
            update={"phone_cascade": cfg.models.phone_cascade.model_copy(update={"enabled": False})})})
        return evaluate_images(data_dir / "dev", labels, RULES, cfg, progress=False, keep_facts=False)
    finally:
        if old is None:
            os.environ.pop("COUNTERWATCH_MODELS_DIR", None)
        else:
            os.environ["COUNTERWATCH_MODELS_DIR"] = old


@pytest.mark.parametrize("rule", RULES)
def test_accuracy_floor(dev_eval, rule):
    c, floor = dev_eval.counts[rule], FLOORS[rule]
    persons = dev_eval.extra["persons"][rule]
    assert c.tp >= floor["min_tp"], (rule, c.as_dict())
    assert c.fp <= floor["max_fp"], (rule, c.as_dict())
    assert (persons["false_alarms_per_person"] or 0.0) <= floor["max_false_alarms_per_person"], (rule, persons)
    assert persons["persons_judged_on_negatives"] >= 40, persons  # the rule still judges people, not only declines


def test_exam_hall_frames_raise_no_slouch_lean_back_or_hands_on_hips(dev_eval):
    hall = [r for r in dev_eval.images if r.image.startswith("exam_hall_phone_headdown/")]
    assert len(hall) >= 60
    judged = 0
    for r in hall:
        for rule in ("posture.slouch", "posture.lean_back", "gesture.hands_on_hips"):
            hits = [f for f in r.findings[rule] if f["cond"] is True]
            assert not hits, (r.image, rule, hits)
            judged += sum(f["cond"] is False for f in r.findings[rule])
    assert judged >= 200  # many seated people were judged, not merely declared not visible


def test_recline_photos_still_lean_back(dev_eval):
    recline = [r for r in dev_eval.images if r.image.startswith("posture/jiayii03/") and "recline" in r.image]
    assert len(recline) == 3
    assert all(r.predicted["posture.lean_back"] for r in recline), [r.findings["posture.lean_back"] for r in recline]
