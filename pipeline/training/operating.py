"""Choose the phone score threshold on a held-out split, for a target precision.

Each image of the split goes through the ONNX model once at a low threshold; a phone box
matches a labelled phone at IoU >= 0.3 (the phone step needs the phone, not a tight box).
Per threshold: box precision and recall, and image-level precision and recall (an image is
positive when it holds a labelled phone). The chosen point is the lowest threshold whose
image precision reaches the target, so recall is as high as that precision allows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipeline.core.boxes import box_iou
from pipeline.core.errors import ConfigError
from pipeline.core.types import Frame
from pipeline.detectors.yolo_onnx import YoloOnnxDetector
from pipeline.training.dataset import label_path
from pipeline.training.spec import IMAGE_EXT


def sweep(
    model: str | Path,
    images_dir: Path,
    *,
    phone_class: str = "phone",
    phone_id: int = 1,
    thresholds: list[float] | None = None,
    min_iou: float = 0.3,
    progress=None,
) -> dict[str, Any]:
    """Figures per threshold on the YOLO images under images_dir (labels next to them in labels/)."""

    imgs = sorted(p for p in Path(images_dir).rglob("*") if p.suffix.lower() in IMAGE_EXT)
    if not imgs:
        raise ConfigError(f"{images_dir}: no images")
    thresholds = thresholds or [round(x, 2) for x in np.arange(0.05, 0.96, 0.05)]
    det = YoloOnnxDetector(model, conf_threshold=min(thresholds), threads=2)
    per_image = []
    it = progress(imgs, desc="sweep") if progress else imgs
    for p in it:
        img = cv2.imread(str(p))
        if img is None:
            continue
        h, w = img.shape[:2]
        gt = []
        lab = label_path(p)
        if lab.is_file():
            for line in lab.read_text().splitlines():
                f = line.split()
                if len(f) >= 5 and int(float(f[0])) == phone_id:
                    cx, cy, bw, bh = (float(v) for v in f[1:5])
                    gt.append([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h])
        d = det.detect(_frame(img))
        keep = d.class_name == phone_class
        per_image.append((p.name, np.asarray(gt, np.float32).reshape(-1, 4), d.xyxy[keep], d.confidence[keep]))
    rows = []
    for t in thresholds:
        tp = fp = fn = itp = ifp = ifn = itn = 0
        for _, gt, boxes, conf in per_image:
            b = boxes[conf >= t]
            if len(gt) and len(b):
                iou = box_iou(b, gt)
                matched_pred = iou.max(axis=1) >= min_iou
                matched_gt = iou.max(axis=0) >= min_iou
            else:
                matched_pred = np.zeros(len(b), bool)
                matched_gt = np.zeros(len(gt), bool)
            tp += int(matched_gt.sum())
            fn += int((~matched_gt).sum())
            fp += int((~matched_pred).sum())
            pos, pred = len(gt) > 0, len(b) > 0
            itp += pos and pred
            ifp += (not pos) and pred
            ifn += pos and not pred
            itn += (not pos) and not pred
        rows.append(
            {
                "threshold": t,
                "box_tp": tp,
                "box_fp": fp,
                "box_fn": fn,
                "box_precision": round(tp / (tp + fp), 3) if tp + fp else None,
                "box_recall": round(tp / (tp + fn), 3) if tp + fn else None,
                "image_tp": itp,
                "image_fp": ifp,
                "image_fn": ifn,
                "image_tn": itn,
                "image_precision": round(itp / (itp + ifp), 3) if itp + ifp else None,
                "image_recall": round(itp / (itp + ifn), 3) if itp + ifn else None,
            }
        )
    return {"images": len(per_image), "positives": sum(1 for _, g, _, _ in per_image if len(g)), "rows": rows}


def choose(rows: list[dict[str, Any]], target_precision: float = 0.9, key: str = "image") -> dict[str, Any]:
    """The lowest threshold with {key}_precision >= target (else the one with the best precision)."""
    ok = [r for r in rows if (r[f"{key}_precision"] or 0) >= target_precision]
    if ok:
        return min(ok, key=lambda r: r["threshold"])
    return max(rows, key=lambda r: ((r[f"{key}_precision"] or 0), -r["threshold"]))


def _frame(img: np.ndarray):
    return Frame("sweep", 0, 0.0, img)
