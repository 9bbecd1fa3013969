"""Person tracking with ByteTrack from the `trackers` library (roboflow), not a home-made tracker.

The library counts its lost-track buffer in 30 fps frames and scales it by the
frame rate; we convert from seconds so that configs stay in seconds. Timestamps
are passed through, so uneven frame spacing (dropped frames) is handled by the
Kalman step.
"""

from __future__ import annotations

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from pipeline.core.types import Detections


class PersonTracker:
    """`update(detections, t) -> Detections` with tracker_id set.

    Every input box comes back. Boxes the tracker has not (yet) confirmed, such as a
    person on their first frame or a weak detection, get a negative id unique to
    this frame: they still count for presence, while rules that need a stable
    identity over time only build up state on confirmed (positive) ids.
    """

    def __init__(self, fps: float, lost_s: float = 3.0, activation_conf: float = 0.25, min_frames: int = 1):
        self.fps = float(fps)
        self._tracker = ByteTrackTracker(
            lost_track_buffer=max(1, int(round(lost_s * 30))),
            frame_rate=self.fps,
            track_activation_threshold=activation_conf,
            minimum_consecutive_frames=min_frames,
            minimum_iou_threshold=0.1,
            high_conf_det_threshold=max(activation_conf, 0.3),
        )

    def update(self, dets: Detections, t: float) -> Detections:
        svd = sv.Detections(
            xyxy=dets.xyxy.astype(np.float32),
            confidence=dets.confidence.astype(np.float32),
            class_id=dets.class_id.astype(int),
            data={"_idx": np.arange(len(dets))},
        )
        out = self._tracker.update(svd, timestamp=t)
        ids = -1 - np.arange(len(dets), dtype=np.int64)  # provisional
        if out.tracker_id is not None and len(out):
            idx = np.asarray(out.data["_idx"]).astype(int)
            tid = np.asarray(out.tracker_id).astype(np.int64)
            ok = tid >= 0
            ids[idx[ok]] = tid[ok] + 1  # library ids start at 0; ours are positive
        return dets.with_(tracker_id=ids)
