"""`counterwatch eval images` end to end: real models on 8 labelled dev images."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from pipeline import cli
from pipeline.settings import SiteConfig

REPO = Path(__file__).resolve().parents[2]
SUBSET = [  # positives and negatives of several rules
    "classroom_cctv_behaviour/huyhoan286/D01_20240223064932.jpg",
    "exam_hall_phone_headdown/vijaylaxmibiradar131/anomaly_001_0-00-00_using mobile.jpg",
    "exam_hall_phone_headdown/vijaylaxmibiradar131/anomaly_017_0-00-02_using mobile.jpg",
    "exam_hall_phone_headdown/vijaylaxmibiradar131/anomaly_069_0-00-04_copying.jpg",
    "office_cctv_unattended_seat/pgplarosa/sample_frame.png",
    "posture/jiayii03/bq_recline.jpg",
    "posture/jiayii03/ks_crossed_legs.jpg",
    "posture/jiayii03/sianghui_recline.jpg",
]


@pytest.fixture(autouse=True)
def only_eval_commands(monkeypatch):
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["pipeline.commands.eval_cmd"])


def test_eval_images_counts_add_up(data_dir, models_dir, model_file, tmp_path, monkeypatch, capsys):
    defaults = SiteConfig().models
    model_file(defaults.detector.model)
    model_file(defaults.pose.model)
    if defaults.phone_cascade.model:
        model_file(defaults.phone_cascade.model)
    monkeypatch.setenv("COUNTERWATCH_MODELS_DIR", str(models_dir))
    dev = data_dir / "dev"
    rows = list(csv.reader((REPO / "tests/data/dev_labels.csv").read_text(encoding="utf-8").splitlines()))
    header, body = rows[0], [r for r in rows[1:] if r[0] in SUBSET]
    assert len(body) == len(SUBSET)
    labels = tmp_path / "subset.csv"
    with labels.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *body])
    out, page = tmp_path / "eval.json", tmp_path / "eval.html"

    rc = cli.main(["eval", "images", "--data", str(dev), "--labels", str(labels), "--json", str(out),
                   "--html", str(page), "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    doc = json.loads(out.read_text(encoding="utf-8"))

    rules = header[1:]
    assert set(doc["rules"]) == set(rules)
    assert set(doc["thresholds"]) == set(rules)
    assert doc["models"]["detector"]["model"] == defaults.detector.model
    assert len(doc["images"]) == len(SUBSET)
    for j, rule in enumerate(rules, start=1):
        r = doc["rules"][rule]
        judged = sum(1 for row in body if row[j] != "")
        positives = sum(1 for row in body if row[j] == "1")
        assert r["tp"] + r["fp"] + r["fn"] + r["tn"] == r["n"] == judged, rule
        assert r["tp"] + r["fn"] == positives, rule
        assert set(r) == {"tp", "fp", "fn", "tn", "precision", "recall", "f1", "n"}
        assert rule in text
        predicted = sum(1 for im in doc["images"] if im["predicted"].get(rule) and im["labels"].get(rule) is not None)
        assert r["tp"] + r["fp"] == predicted, rule
    # the models really saw people: pose rules judged someone in most images
    judged_images = sum(1 for im in doc["images"] if im["findings"]["posture.lean_back"])
    assert judged_images >= 6
    html = page.read_text(encoding="utf-8")
    errors = sum(r["fp"] + r["fn"] for r in doc["rules"].values())
    assert "<table>" in html and "精确率" in html
    assert html.count("data:image/jpeg;base64,") == errors
