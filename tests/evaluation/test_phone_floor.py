"""Accuracy floor of phone.use on the dev labels: `counterwatch eval images` with the default config.

The floors are the figures the shipped model (models/counterwatch_phone.onnx) and the rule defaults
reached on all of tests/data/dev_labels.csv; a drop fails. The COCO cascade it replaced reached
P 0.500 / R 0.781 on the same images and command (README, "Phone use").
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline import cli

REPO = Path(__file__).resolve().parents[2]
# The figures of the model trained with the licensed synthetic crops (synth_licensed), on this machine:
# TP 32 FP 33 FN 0 TN 10, P 0.492 / R 1.000 (the build before it: P 0.431 / R 0.875 / TP 28), the same
# with the FP32 detector at its rectangular input and with the int8 one. The detector is FP32 now (the same
# boxes on every CPU), but the pose model is int8, whose kernels round differently across CPU instruction
# sets (an earlier build moved by 3 true positives between two machines): the floor is one image below
# the figures, so a drop fails and the machine does not.
FLOOR = {"precision": 0.47, "recall": 0.96, "tp": 31}


def test_phone_use_floor_on_dev_labels(data_dir, models_dir, model_file, tmp_path, monkeypatch):
    model_file("counterwatch_phone.onnx")
    monkeypatch.setenv("COUNTERWATCH_MODELS_DIR", str(models_dir))
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["pipeline.commands.eval_cmd"])
    out = tmp_path / "eval.json"
    rc = cli.main(["eval", "images", "--data", str(data_dir / "dev"), "--labels",
                   str(REPO / "tests/data/dev_labels.csv"), "--json", str(out), "--no-progress"])
    assert rc == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    r = doc["rules"]["phone.use"]
    assert doc["models"]["phone_cascade"]["model"] == "counterwatch_phone.onnx"
    assert r["precision"] >= FLOOR["precision"], r
    assert r["recall"] >= FLOOR["recall"], r
    assert r["tp"] >= FLOOR["tp"], r
