"""`counterwatch train dataset`: reviewed phone.use events become a YOLO dataset (dismissed = hard negatives)."""

from __future__ import annotations

import json

import cv2
import pytest

from pipeline.cli import main
from pipeline.core.types import Event
from pipeline.events.store import EventStore
from pipeline.training.dataset import merge
from pipeline.training.reviewed import crop_relpath
from pipeline.training.spec import load_spec

FRAME = "train/bws_phone_usage/yolo_dataset/images/train/20250715_144536_9170ec05_f000001.jpg"
CROP = [200, 60, 460, 330]
PHONE = [300.0, 200.0, 330.0, 240.0]


def _event(i: int, rule: str = "phone.use", details=None) -> Event:
    return Event(
        event_id=f"e{i:03d}",
        rule_id=rule,
        article="第五十二条",
        source_id="cam1",
        post_id="P1",
        track_ids=(1,),
        state="end",
        severity="medium",
        start_s=float(i),
        end_s=float(i) + 5,
        details=details if details is not None else {"crop_box": CROP, "phone_box": PHONE, "phone_score": 0.7},
    )


@pytest.fixture
def reviewed_folder(tmp_path, data_dir):
    frame = cv2.imread(str(data_dir / FRAME))
    assert frame is not None
    store = EventStore.for_dir(tmp_path)
    for i in range(7):
        store.record_event(_event(i, details={"crop_box": CROP} if i == 6 else None))
    store.record_event(_event(9, rule="posture.head_down"))
    (tmp_path / "snapshots").mkdir(exist_ok=True)
    x1, y1, x2, y2 = CROP
    for i in (0, 1, 2, 3, 4, 6, 9):
        cv2.imwrite(str(tmp_path / crop_relpath(f"e{i:03d}")), frame[y1:y2, x1:x2])
    store.add_review("e000", "confirmed", "", "alice")
    store.add_review("e001", "confirmed", "", "alice")
    store.add_review("e002", "dismissed", "writing", "alice")
    store.add_review("e003", "confirmed", "", "alice")
    store.add_review("e003", "dismissed", "pen", "bob")  # the latest verdict counts
    # e004 unreviewed; e005 confirmed but has no raw crop; e006 confirmed with no phone box
    store.add_review("e005", "confirmed", "", "alice")
    store.add_review("e006", "confirmed", "", "alice")
    store.add_review("e009", "confirmed", "", "alice")  # another rule
    store.close()
    return tmp_path


def test_export_confirmed_boxes_and_dismissed_negatives(reviewed_folder, tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["train", "dataset", "--data", str(reviewed_folder), "--out", str(out)]) == 0
    text = capsys.readouterr()
    assert "2 confirmed" in text.out and "2 dismissed" in text.out and "2 skipped" in text.out
    assert "e005: no raw crop" in text.err and "e006: details have no phone_box" in text.err
    rep = json.loads((out / "export.json").read_text())
    assert rep["images"] == 4 and rep["events"] == 6
    labels = {p.stem.split("__")[1]: p.read_text().split() for p in (out / "labels").iterdir()}
    assert set(labels) == {"e000", "e001", "e002", "e003"}
    assert labels["e002"] == [] and labels["e003"] == []  # hard negatives: the crop, no box
    cls, cx, cy, w, h = labels["e000"]
    cw, ch = CROP[2] - CROP[0], CROP[3] - CROP[1]
    assert cls == "1"
    assert float(cx) * cw == pytest.approx((PHONE[0] + PHONE[2]) / 2 - CROP[0], abs=0.5)
    assert float(cy) * ch == pytest.approx((PHONE[1] + PHONE[3]) / 2 - CROP[1], abs=0.5)
    assert float(w) * cw == pytest.approx(PHONE[2] - PHONE[0], abs=0.5)
    img = cv2.imread(str(next((out / "images").glob("*e000.jpg"))))
    assert img.shape[:2] == (ch, cw)
    # the export is a source `counterwatch train` can merge as it is
    spec_file = tmp_path / "ds.yaml"
    spec_file.write_text(
        f"classes: [person, phone]\nsources:\n  - name: hall\n    path: {out}\n"
        "    names: [person, phone]\n    map: {person: person, phone: phone}\n"
    )
    rep = merge(load_spec(spec_file), tmp_path / "merged")
    assert sum(rep.counts["hall"].values()) == 4
    assert sum(b["phone"] for b in rep.boxes.values()) == 2


def test_export_needs_a_store(tmp_path, capsys):
    assert main(["train", "dataset", "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "counterwatch.db" in err[0]


def test_evidence_keeps_the_raw_crop_with_customers_blurred(tmp_path):
    import numpy as np

    from pipeline.config.models import CameraConfig
    from pipeline.core.types import Frame
    from pipeline.events.evidence import EvidenceRecorder
    from pipeline.settings import SiteConfig

    store = EventStore.for_dir(tmp_path)
    rec = EvidenceRecorder(tmp_path, SiteConfig(), CameraConfig(id="cam1"), store)
    yy, xx = np.mgrid[:480, :640]
    img = np.repeat((((yy // 16 + xx // 16) % 2) * 200 + 30).astype(np.uint8)[..., None], 3, axis=2)  # 16 px checks
    frame = Frame("cam1", 0, 0.0, img)
    ev = _event(1)
    rec._write_crop(ev, frame, [np.array([400.0, 60.0, 460.0, 200.0])])  # a customer at the crop's right edge
    crop = cv2.imread(str(tmp_path / crop_relpath("e001")))
    x1, y1, x2, y2 = CROP
    assert crop.shape[:2] == (y2 - y1, x2 - x1)
    raw = img[y1:y2, x1:x2].astype(float)
    left = np.abs(crop[:, :150].astype(float) - raw[:, :150]).mean()
    blurred = np.abs(crop[:60, 205:].astype(float) - raw[:60, 205:]).mean()
    assert left < 12 < blurred  # the staff part is the raw frame (JPEG), the customer's face is not
    rec._write_crop(_event(2, details={"phone_score": 0.5}), frame, [])  # no crop box: nothing written
    assert not (tmp_path / crop_relpath("e002")).exists()
    rec.close()
    store.close()
