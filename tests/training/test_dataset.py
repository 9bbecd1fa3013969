"""Dataset YAML checks and the merge: one clear line per bad input, splits by source clip, pseudo-labels."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.core.errors import ConfigError
from pipeline.training.dataset import merge
from pipeline.training.spec import load_spec
from pipeline.training.split import group_of, split_of

REPO = Path(__file__).resolve().parents[2]


def _yolo_set(root: Path, rows: dict[str, list[str]]) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir(parents=True)
    import cv2
    import numpy as np

    for stem, lines in rows.items():
        cv2.imwrite(str(root / "images" / f"{stem}.jpg"), np.full((64, 64, 3), 127, np.uint8))
        (root / "labels" / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    return root


def _spec(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "ds.yaml"
    p.write_text(body)
    return p


GOOD = """classes: [person, phone]
sources:
  - name: s
    path: set
    names: [phone, wallet]
    map: {phone: phone, wallet: null}
    group: '^(clip\\d)'
"""


def _one_line_error(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    return err[0]


def test_missing_folder_names_file_and_field(tmp_path, capsys):
    ds = _spec(tmp_path, GOOD)
    line = _one_line_error(["train", "--dataset", str(ds), "--check"], capsys)
    assert str(ds) in line and "sources[0] (s).path" in line and "set not found" in line


def test_unknown_class_names_file_and_field(tmp_path, capsys):
    _yolo_set(tmp_path / "set", {"clip1_a": ["0 0.5 0.5 0.2 0.2"]})
    ds = _spec(tmp_path, GOOD.replace("wallet: null", "wallet: purse"))
    line = _one_line_error(["train", "--dataset", str(ds), "--check"], capsys)
    assert str(ds) in line and "sources[0] (s).map.wallet" in line and "unknown class 'purse'" in line
    ds = _spec(tmp_path, GOOD.replace("wallet: null", "airpods: null"))
    line = _one_line_error(["train", "--dataset", str(ds), "--check"], capsys)
    assert "sources[0] (s).map" in line and "unknown source class 'airpods'" in line


@pytest.mark.parametrize(
    "row,field",
    [
        ("0 1.5 0.5 0.2 0.2", "cx=1.5"),
        ("7 0.5 0.5 0.2 0.2", "class id 7"),
        ("0 0.5 0.5 0.2", "expected 'class cx cy w h'"),
        ("0 0.5 x 0.2 0.2", "not a number"),
    ],
)
def test_labels_out_of_range_name_file_line_and_field(tmp_path, capsys, row, field):
    _yolo_set(tmp_path / "set", {"clip1_a": ["0 0.5 0.5 0.2 0.2"], "clip2_b": [row]})
    ds = _spec(tmp_path, GOOD)
    line = _one_line_error(["train", "--dataset", str(ds), "--check"], capsys)
    assert "clip2_b.txt:1" in line and field in line


def test_check_passes_and_counts(tmp_path, capsys):
    _yolo_set(tmp_path / "set", {"clip1_a": ["0 0.5 0.5 0.2 0.2"], "clip2_b": []})
    assert main(["train", "--dataset", str(_spec(tmp_path, GOOD)), "--check"]) == 0
    assert "s: 2 images" in capsys.readouterr().out


def test_missing_checkpoint_says_how_to_get_one(tmp_path):
    from pipeline.training.deps import load_yolo

    with pytest.raises(ConfigError, match=r"no_such\.pt not found.*models directory.*yolo11n_dequant\.pt"):
        load_yolo(tmp_path / "no_such.pt")
    with pytest.raises(ConfigError, match="counterwatch models fetch"):
        load_yolo("no_such.pt")


def test_missing_ultralytics_says_what_to_install(tmp_path, monkeypatch, capsys):
    _yolo_set(tmp_path / "set", {"clip1_a": ["0 0.5 0.5 0.2 0.2"]})
    monkeypatch.setitem(sys.modules, "ultralytics", None)
    line = _one_line_error(["train", "--dataset", str(_spec(tmp_path, GOOD)), "--out", str(tmp_path / "o")], capsys)
    assert "pip install 'counterwatch[ultralytics]'" in line


def test_merge_splits_by_clip_and_keeps_copies_out_of_evaluation(tmp_path):
    rows = {}
    for c in range(12):
        for k in range(3):
            rows[f"clip{c:02d}_f{k}"] = ["0 0.5 0.5 0.2 0.2", "1 0.3 0.3 0.1 0.1"]
            rows[f"clip{c:02d}_f{k}_rot15"] = ["0 0.5 0.5 0.3 0.3"]
    _yolo_set(tmp_path / "set", rows)
    ds = _spec(
        tmp_path,
        GOOD.replace("'^(clip\\d)'", "'^(clip\\d\\d)'") + "    exclude_eval: '_rot'\n"
        "    force: {test: 'clip00'}\nsplit: {val: 0.2, test: 0.2, seed: 3}\n",
    )
    rep = merge(load_spec(ds), tmp_path / "out")
    where: dict[str, set[str]] = {}
    for split in ("train", "val", "test"):
        for f in (tmp_path / "out/images" / split).iterdir():
            where.setdefault(f.name.split("__")[1][:6], set()).add(split)
            if split != "train":
                assert "_rot" not in f.name  # an augmented copy never lands in val/test
    assert all(len(s) == 1 for s in where.values())  # a clip lives in one split
    assert where["clip00"] == {"test"}
    assert rep.counts["s"]["train"] > 0 and rep.counts["s"]["test"] > 0
    # wallets dropped, phones mapped to class 1 of [person, phone]
    lab = next((tmp_path / "out/labels/train").glob("*_f0.txt")).read_text().split()
    assert lab[0] == "1" and len(lab) == 5
    doc = (tmp_path / "out/data.yaml").read_text()
    assert "person" in doc and "phone" in doc


def test_group_and_split_helpers():
    assert (
        group_of("20250715_142638_e37e7821_f000001_rot15", r"^(\d{8}_\d{6}_[0-9a-f]{8})") == "20250715_142638_e37e7821"
    )
    assert group_of("opencv_frame_101_png.rf.2e0b", r"opencv_frame_(\d+)") == "block4"
    assert split_of("anything", 0.5, 0.4, force={"test": "any"}) == "test"
    assert {split_of(f"g{i}", 0.2, 0.2) for i in range(50)} == {"train", "val", "test"}


def test_project_dataset_yaml_is_valid(data_dir):
    spec = load_spec(REPO / "configs/train/phone.yaml", data_dir)
    assert spec.classes == ["person", "phone"]
    assert {s.name for s in spec.sources} == {"bws_cctv", "ait_webcam", "bsai_cabin"}
    # the synthetic sections never see a dev image: all of tests/data/dev_labels.csv is excluded
    n_dev = len((REPO / "tests/data/dev_labels.csv").read_text().splitlines()) - 1
    assert all(len(s.exclude_images) == n_dev for s in spec.synthetic)
    assert all("pgplarosa" not in str(v) for s in spec.synthetic for v in s.videos)
