"""Second detector pass on each staff person's upper body, for tiny phones in CCTV.

At 320 or 640 px a whole 1080p CCTV frame shrinks a phone to a few pixels and the
detector misses it. Cropping each staff member (hands and upper body) and letting the
detector's letterbox upscale the crop to its full input size gives the phone many
more pixels. Crops are sent as one batch, results are mapped back to frame pixels
and de-duplicated with per-class NMS (neighbouring crops overlap).
"""

from __future__ import annotations

import numpy as np

from pipeline.config.models import DetectorSettings, PhoneCascadeConfig
from pipeline.core.skeleton import KP
from pipeline.core.types import Detections, Frame
from pipeline.detectors.base import Detector, expand_box, nms

# Classes a hand-held or desk-top personal item comes out as: "phone" from the project's phone
# model (models/counterwatch_phone.onnx), the rest from COCO models. "remote" and "book" are kept
# because a COCO model often calls a phone held flat one of them.
SMALL_OBJECT_CLASSES = ("phone", "cell phone", "remote", "book", "cup", "bottle", "wine glass", "handbag")
HAND_CLASSES = np.array(["phone", "cell phone"], dtype=object)  # what the close crops around a wrist report


def crop_region(
    box: np.ndarray,
    keypoints: np.ndarray | None,
    kp_conf: np.ndarray | None,
    width: int,
    height: int,
    margin: float = 0.2,
    min_kp_conf: float = 0.4,
) -> tuple[int, int, int, int]:
    """The part of a person that holds a phone: upper body and hands.

    With confident shoulder/wrist keypoints the crop hugs them (plus a hand-sized
    margin); otherwise it is the person box, cut to the upper 70 % when the box is
    a standing full body (a seated person behind a counter is already cut at the desk).
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    bw, bh = x2 - x1, y2 - y1
    if keypoints is not None and kp_conf is not None:
        idx = [
            KP["left_shoulder"],
            KP["right_shoulder"],
            KP["left_wrist"],
            KP["right_wrist"],
            KP["left_elbow"],
            KP["right_elbow"],
            KP["nose"],
        ]
        ok = [i for i in idx if kp_conf[i] >= min_kp_conf]
        wrists = [i for i in (KP["left_wrist"], KP["right_wrist"]) if kp_conf[i] >= min_kp_conf]
        if wrists and len(ok) >= 3:
            pts = keypoints[ok]
            hand = 0.25 * max(bw, bh)  # a phone reaches this far beyond the wrist
            region = np.array(
                [pts[:, 0].min() - hand, pts[:, 1].min() - hand, pts[:, 0].max() + hand, pts[:, 1].max() + hand],
                np.float32,
            )
            return expand_box(region, 0.0, width, height)
    if bh > 2.2 * bw:
        y2 = y1 + 0.7 * bh
    return expand_box(np.array([x1, y1, x2, y2], np.float32), margin, width, height)


def hand_regions(box: np.ndarray, keypoints: np.ndarray | None, kp_conf: np.ndarray | None, width: int,
                 height: int, min_kp_conf: float = 0.4, scale: float = 0.45) -> list[tuple[int, int, int, int]]:
    """A square around each confident wrist: the phone gets more of the detector's input pixels."""
    if keypoints is None or kp_conf is None:
        return []
    bw, bh = float(box[2] - box[0]), float(box[3] - box[1])
    half = max(16.0, scale * max(bw, bh) / 2)
    out = []
    for k in (KP["left_wrist"], KP["right_wrist"]):
        if kp_conf[k] >= min_kp_conf:
            cx, cy = keypoints[k]
            r = expand_box(np.array([cx - half, cy - half, cx + half, cy + half], np.float32), 0.0, width, height)
            if r[2] - r[0] >= 8 and r[3] - r[1] >= 8:
                out.append(r)
    return out


class PhoneCascade:
    """`detect(frame, staff)`: small objects found on crops of the given staff persons.

    The result carries data["person_index"], the row in `staff` whose crop found it,
    so a rule can attach a phone to a person without guessing from distance alone.
    """

    def __init__(
        self,
        detector: Detector,
        conf_threshold: float = 0.2,
        *,
        classes: tuple[str, ...] = SMALL_OBJECT_CLASSES,
        iou_threshold: float = 0.5,
        margin: float = 0.2,
        hand_crops: bool = True,
    ) -> None:
        self.detector = detector
        self.hand_crops = hand_crops
        self.conf_threshold = float(conf_threshold)
        self.classes = np.array(classes, dtype=object)
        self.iou_threshold = iou_threshold
        self.margin = margin

    def detect(self, frame: Frame, staff: Detections) -> Detections:
        if len(staff) == 0:
            return _with_person_index(Detections.empty(), np.zeros((0,), np.int64))
        h, w = frame.height, frame.width
        regions, owners = [], []
        for i, box in enumerate(staff.xyxy):
            kp = None if staff.keypoints is None else staff.keypoints[i]
            kc = None if staff.keypoint_conf is None else staff.keypoint_conf[i]
            x1, y1, x2, y2 = crop_region(box, kp, kc, w, h, self.margin)
            if x2 - x1 >= 8 and y2 - y1 >= 8:
                regions.append((x1, y1, x2, y2))
                owners.append(i)
            if self.hand_crops:
                for r in hand_regions(box, kp, kc, w, h):
                    regions.append(r)
                    owners.append(-1 - i)  # negative: a hand crop, which only reports phones
        if not regions:
            return _with_person_index(Detections.empty(), np.zeros((0,), np.int64))
        results = self.detector.detect_batch([frame.image[y1:y2, x1:x2] for x1, y1, x2, y2 in regions])
        parts = []
        for (x1, y1, _, _), owner, det in zip(regions, owners, results, strict=True):
            classes = self.classes if owner >= 0 else HAND_CLASSES
            owner = owner if owner >= 0 else -1 - owner
            keep = np.isin(det.class_name, classes) & (det.confidence >= self.conf_threshold)
            det = det[keep]
            if len(det):
                shifted = det.xyxy + np.array([x1, y1, x1, y1], np.float32)
                parts.append(
                    _with_person_index(det.with_(xyxy=shifted.astype(np.float32)), np.full(len(det), owner, np.int64))
                )
        merged = Detections.merge(parts)
        if len(merged) == 0:
            return _with_person_index(Detections.empty(), np.zeros((0,), np.int64))
        keep = nms(merged.xyxy, merged.confidence, self.iou_threshold, merged.class_id)
        merged = merged[keep]
        merged = merged.with_(xyxy=np.clip(merged.xyxy, 0, [w, h, w, h]).astype(np.float32))
        return merged


def _with_person_index(d: Detections, idx: np.ndarray) -> Detections:
    return d.with_(data={**d.data, "person_index": idx})


def build_cascade(cfg: PhoneCascadeConfig, detector_cfg: DetectorSettings) -> PhoneCascade | None:
    """The cascade a site config asks for (None when disabled).

    It gets its own detector instance whose threshold is the cascade's, because the
    main detector's threshold is tuned for people and would drop faint phones.
    """
    if not cfg.enabled:
        return None
    from pipeline.detectors.registry import build_detector

    det_cfg = detector_cfg.model_copy(
        update={
            "model": cfg.model or detector_cfg.model,
            "conf_threshold": min(cfg.conf_threshold, detector_cfg.conf_threshold),
        }
    )
    return PhoneCascade(build_detector(det_cfg), cfg.conf_threshold)
