"""Second detector pass on each staff person's upper body, for tiny phones in CCTV.

At 320 or 640 px a whole 1080p CCTV frame shrinks a phone to a few pixels and the
detector misses it. Cropping each staff member (hands and upper body) and letting the
detector's letterbox upscale the crop to its full input size gives the phone many
more pixels. Crops are sent as one batch, results are mapped back to frame pixels
and de-duplicated with per-class NMS (neighbouring crops overlap).
"""

from __future__ import annotations

import numpy as np

from pipeline.config.backends import BackendConfig
from pipeline.config.models import PhoneCascadeConfig
from pipeline.core.boxes import nms
from pipeline.core.regions import crop_region, hand_regions
from pipeline.core.types import Detections, Frame
from pipeline.detectors.base import Detector
from pipeline.detectors.registry import build_detector

# Classes a hand-held or desk-top personal item comes out as: "phone" from the project's phone
# model (models/counterwatch_phone.onnx), the rest from COCO models. "remote" and "book" are kept
# because a COCO model often calls a phone held flat one of them.
SMALL_OBJECT_CLASSES = ("phone", "cell phone", "remote", "book", "cup", "bottle", "wine glass", "handbag")
HAND_CLASSES = np.array(["phone", "cell phone"], dtype=object)  # what the close crops around a wrist report


class PhoneCascade:
    """`detect(frame, staff)`: small objects found on crops of the given staff persons.

    Each person gets a body crop (upper body and hands: every small-object class) and a
    close crop around each confident wrist (phones only). The result carries
    data["person_index"], the row in `staff` whose crop found it, so a rule can attach a
    phone to a person without guessing from distance alone, and data["hand_crop"], True
    for what a wrist crop found.
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

    def detect(self, frame: Frame, staff: Detections, body: np.ndarray | None = None) -> Detections:
        """`body`: per person, whether to run the body crop (default all); wrist crops always run."""
        if len(staff) == 0:
            return _with_person_index(Detections.empty(), np.zeros((0,), np.int64))
        h, w = frame.height, frame.width
        regions, owners = [], []
        for i, box in enumerate(staff.xyxy):
            kp = None if staff.keypoints is None else staff.keypoints[i]
            kc = None if staff.keypoint_conf is None else staff.keypoint_conf[i]
            x1, y1, x2, y2 = crop_region(box, kp, kc, w, h, self.margin)
            if (body is None or body[i]) and x2 - x1 >= 8 and y2 - y1 >= 8:
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
            hand = owner < 0
            classes = HAND_CLASSES if hand else self.classes
            owner = -1 - owner if hand else owner
            keep = np.isin(det.class_name, classes) & (det.confidence >= self.conf_threshold)
            det = det[keep]
            if len(det):
                shifted = det.xyxy + np.array([x1, y1, x1, y1], np.float32)
                parts.append(_with_person_index(det.with_(xyxy=shifted.astype(np.float32)),
                                                np.full(len(det), owner, np.int64), np.full(len(det), hand)))
        merged = Detections.merge(parts)
        if len(merged) == 0:
            return _with_person_index(Detections.empty(), np.zeros((0,), np.int64))
        keep = nms(merged.xyxy, merged.confidence, self.iou_threshold, merged.class_id)
        merged = merged[keep]
        merged = merged.with_(xyxy=np.clip(merged.xyxy, 0, [w, h, w, h]).astype(np.float32))
        return merged


def _with_person_index(d: Detections, idx: np.ndarray, hand: np.ndarray | None = None) -> Detections:
    hand = np.zeros(len(idx), bool) if hand is None else hand
    return d.with_(data={**d.data, "person_index": idx, "hand_crop": hand})


def build_cascade(cfg: PhoneCascadeConfig, detector_cfg: BackendConfig) -> PhoneCascade | None:
    """The cascade a site config asks for (None when disabled).

    It gets its own detector instance whose threshold is the cascade's, because the
    main detector's threshold is tuned for people and would drop faint phones.
    """
    if not cfg.enabled:
        return None

    det_cfg = detector_cfg.model_copy(
        update={
            "model": cfg.model or detector_cfg.model,
            "conf_threshold": min(cfg.conf_threshold, detector_cfg.conf_threshold),
        }
    )
    return PhoneCascade(build_detector(det_cfg), cfg.conf_threshold)
