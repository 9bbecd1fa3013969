"""Image regions around a person: a box grown by a margin, the upper body and hands a phone is held in.

Pure geometry on pixel boxes and COCO-17 keypoints, shared by the phone step
(pipeline.detectors.cascade), the phone rule (which reports the crop it judged) and
the training crops (pipeline.training.synth).
"""

from __future__ import annotations

import numpy as np

from pipeline.core.skeleton import KP


def expand_box(box: np.ndarray, margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    """Grow an xyxy box by `margin` of its size on each side, clipped to the image; integer pixels."""
    x1, y1, x2, y2 = (float(v) for v in box)
    mw, mh = (x2 - x1) * margin, (y2 - y1) * margin
    return (
        max(0, int(np.floor(x1 - mw))),
        max(0, int(np.floor(y1 - mh))),
        min(width, int(np.ceil(x2 + mw))),
        min(height, int(np.ceil(y2 + mh))),
    )


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
