"""Reviewed phone.use events as a YOLO dataset: a hall's own verdicts become training data.

Confirmed events give the phone box inside the crop the phone step saw; dismissed events
(a pen, a paper, a hand) give the same crop with no box: hard negatives. The image is the
raw crop kept with the evidence (`snapshots/<event>_crop.jpg`, customers blurred), never the
annotated snapshot, whose drawn boxes would teach the model to find drawings. The latest
verdict of each event counts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import cv2
import yaml

from pipeline.core.errors import ConfigError
from pipeline.events.store import EventStore

CLASSES = ["person", "phone"]


def crop_relpath(event_id: str) -> str:
    return f"snapshots/{event_id}_crop.jpg"


def export_reviewed(
    data_dir: str | Path, out: Path, *, rule_id: str = "phone.use", db_url: str | None = None, limit: int = 100_000
) -> dict[str, Any]:
    data = Path(data_dir)
    if db_url is None and not (data / "counterwatch.db").is_file():
        raise ConfigError(f"data folder {data}: no counterwatch.db (give --db-url for another database)")
    store = EventStore.for_dir(data, db_url)
    try:
        events = store.list_events(rule_id=rule_id, limit=limit)
    finally:
        store.close()
    if out.exists():
        shutil.rmtree(out)
    (out / "images").mkdir(parents=True)
    (out / "labels").mkdir(parents=True)
    rep: dict[str, Any] = {"events": 0, "images": 0, "positives": 0, "negatives": 0, "skipped": 0, "skipped_why": []}
    for ev in events:
        verdict = ev.get("verdict")
        if verdict not in ("confirmed", "dismissed"):
            continue
        rep["events"] += 1
        eid = ev["event_id"]
        det = ev.get("details") or {}
        crop_p = data / crop_relpath(eid)
        img = cv2.imread(str(crop_p)) if crop_p.is_file() else None
        if img is None:
            rep["skipped"] += 1
            rep["skipped_why"].append(f"{eid}: no raw crop {crop_relpath(eid)} (recorded before crops were kept)")
            continue
        lines = []
        if verdict == "confirmed":
            box, crop = det.get("phone_box"), det.get("crop_box")
            if not (isinstance(box, list) and len(box) == 4 and isinstance(crop, list) and len(crop) == 4):
                rep["skipped"] += 1
                rep["skipped_why"].append(f"{eid}: details have no phone_box/crop_box")
                continue
            h, w = img.shape[:2]
            x1, y1 = max(0.0, box[0] - crop[0]), max(0.0, box[1] - crop[1])
            x2, y2 = min(float(w), box[2] - crop[0]), min(float(h), box[3] - crop[1])
            if x2 - x1 < 1 or y2 - y1 < 1:
                rep["skipped"] += 1
                rep["skipped_why"].append(f"{eid}: phone_box lies outside crop_box")
                continue
            lines.append(f"1 {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}")
            rep["positives"] += 1
        else:
            rep["negatives"] += 1
        name = f"{ev.get('camera_id') or 'cam'}__{eid}"
        shutil.copy2(crop_p, out / "images" / f"{name}.jpg")
        (out / "labels" / f"{name}.txt").write_text("".join(ln + "\n" for ln in lines))
        rep["images"] += 1
    (out / "data.yaml").write_text(
        yaml.safe_dump(
            {"path": str(out.resolve()), "train": "images", "val": "images", "names": dict(enumerate(CLASSES))},
            sort_keys=False,
        )
    )
    (out / "export.json").write_text(json.dumps(rep, indent=1, ensure_ascii=False))
    return rep
