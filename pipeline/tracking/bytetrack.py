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
    """`update(detections, t) -> Detections` with tracker_id set; untracked boxes are dropped."""

    def __init__(self, fps: float, lost_s: float = 3.0, activation_conf: float = 0.35, min_frames: int = 1):
        self.fps = float(fps)
        self._tracker = ByteTrackTracker(
            lost_track_buffer=max(1, int(round(lost_s * 30))),
            frame_rate=self.fps,
            track_activation_threshold=activation_conf,
            minimum_consecutive_frames=min_frames,
            minimum_iou_threshold=0.1,
            high_conf_det_threshold=max(activation_conf, 0.5),
        )

    def update(self, dets: Detections, t: float) -> Detections:
        svd = sv.Detections(
            xyxy=dets.xyxy.astype(np.float32),
            confidence=dets.confidence.astype(np.float32),
            class_id=dets.class_id.astype(int),
            data={"_idx": np.arange(len(dets))},
        )
        out = self._tracker.update(svd, timestamp=t)
        if out.tracker_id is None or len(out) == 0:
            return dets[np.zeros(len(dets), bool)].with_(tracker_id=np.zeros(0, np.int64))
        keep = out.tracker_id >= 0
        idx = np.asarray(out.data["_idx"])[keep].astype(int)
        tracked = dets[idx]
        return tracked.with_(tracker_id=np.asarray(out.tracker_id)[keep].astype(np.int64))
