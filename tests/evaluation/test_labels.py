"""Both label formats, and errors that name the file, line and field."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.core.errors import ConfigError
from pipeline.evaluation.labels import load_class_map, load_csv, load_yolo

REPO = Path(__file__).resolve().parents[2]


def _img(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.zeros((8, 8, 3), np.uint8))


def test_csv_cells_and_unjudgeable(tmp_path):
    _img(tmp_path / "a.jpg")
    _img(tmp_path / "sub/b.png")
    f = tmp_path / "l.csv"
    f.write_text("image,phone.use,posture.head_down\na.jpg,1,\nsub/b.png,0,1\n")
    labels, rules = load_csv(f, tmp_path)
    assert rules == ["phone.use", "posture.head_down"]
    assert labels == {"a.jpg": {"phone.use": 1, "posture.head_down": None},
                      "sub/b.png": {"phone.use": 0, "posture.head_down": 1}}


def test_csv_notes_column_is_ignored(tmp_path):
    _img(tmp_path / "a.jpg")
    f = tmp_path / "l.csv"
    f.write_text("image,phone.use,notes\na.jpg,1,held under the desk\n")
    labels, rules = load_csv(f, tmp_path)
    assert rules == ["phone.use"] and labels == {"a.jpg": {"phone.use": 1}}


@pytest.mark.parametrize("text,msg", [
    ("img,phone.use\n", "line 1: header must start with 'image'"),
    ("image,phone.nope\n", "line 1: no rule id columns"),
    ("image,phone.use\na.jpg,2\n", "line 2 field 'phone.use': '2' must be 1, 0 or empty"),
    ("image,phone.use\na.jpg\n", "line 2: 1 fields, expected 2"),
    ("image,phone.use\nmissing.jpg,1\n", "line 2: image 'missing.jpg' not found"),
    ("image,phone.use\na.jpg,1\na.jpg,0\n", "line 3: image 'a.jpg' listed twice"),
    ("image,phone.use\n", "no labelled images"),
])
def test_csv_errors_name_line_and_field(tmp_path, text, msg):
    _img(tmp_path / "a.jpg")
    f = tmp_path / "l.csv"
    f.write_text(text)
    with pytest.raises(ConfigError, match=msg) as exc:
        load_csv(f, tmp_path)
    assert str(f) in str(exc.value)


def test_dev_labels_file_is_valid(data_dir):
    labels, rules = load_csv(REPO / "tests/data/dev_labels.csv", data_dir / "dev")
    assert "phone.use" in rules and len(rules) == 9
    assert len(labels) >= 70
    positives = sum(v["phone.use"] == 1 for v in labels.values())
    assert positives >= 20  # the exam-hall phone frames


def _yolo(tmp_path: Path, data_yaml: bool = True) -> Path:
    root = tmp_path / "ds"
    for name in ("x1.jpg", "x2.jpg", "x3.jpg", "x4.jpg"):
        _img(root / "images" / name)
    (root / "labels").mkdir(parents=True)
    (root / "labels/x1.txt").write_text("0 0.5 0.5 0.1 0.1\n1 0.2 0.2 0.1 0.1\n")  # phone + person
    (root / "labels/x2.txt").write_text("1 0.5 0.5 0.2 0.4\n")  # person only
    (root / "labels/x3.txt").write_text("2 0.5 0.5 0.2 0.4\n")  # sleeping
    # x4: no label file -> background, negative for every mapped rule
    if data_yaml:
        (root / "data.yaml").write_text("names: {0: cell-phone, 1: person, 2: sleep}\n")
    else:
        (root / "classes.txt").write_text("cell-phone\nperson\nsleep\n")
    return root


@pytest.mark.parametrize("data_yaml", [True, False])
def test_yolo_dataset_to_image_labels(tmp_path, data_yaml):
    root = _yolo(tmp_path, data_yaml)
    m = tmp_path / "map.yaml"
    m.write_text("classes:\n  cell-phone: phone.use\n  sleep: posture.head_down\n")
    labels, rules = load_yolo(root, load_class_map(m))
    assert rules == ["phone.use", "posture.head_down"]
    assert labels == {
        "images/x1.jpg": {"phone.use": 1, "posture.head_down": 0},
        "images/x2.jpg": {"phone.use": 0, "posture.head_down": 0},
        "images/x3.jpg": {"phone.use": 0, "posture.head_down": 1},
        "images/x4.jpg": {"phone.use": 0, "posture.head_down": 0},
    }


def test_yolo_errors(tmp_path):
    root = _yolo(tmp_path)
    with pytest.raises(ConfigError, match="dataset class 'phone' not in"):
        load_yolo(root, {"phone": "phone.use"})
    (root / "labels/x2.txt").write_text("7 0.5 0.5 0.2 0.4\n")
    with pytest.raises(ConfigError, match=r"x2.txt: line 1: class id 7 outside 0..2"):
        load_yolo(root, {"cell-phone": "phone.use"})
    m = tmp_path / "map.yaml"
    m.write_text("classes:\n  cell-phone: phone.nope\n")
    with pytest.raises(ConfigError, match="classes.cell-phone: unknown rule id 'phone.nope'"):
        load_class_map(m)
    (tmp_path / "classes.txt").write_text("cell-phone\n")
    with pytest.raises(ConfigError, match="no images/ folder"):
        load_yolo(tmp_path, {"cell-phone": "phone.use"})
