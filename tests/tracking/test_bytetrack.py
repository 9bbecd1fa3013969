import warnings

import numpy as np

from pipeline.tracking.bytetrack import PersonTracker
from tests.builders import detections


def test_ids_persist_through_motion_and_short_gap():
    tr = PersonTracker(fps=2.0, lost_s=3.0)
    ids = []
    for i in range(12):
        boxes = [(100 + 3 * i, 100, 180 + 3 * i, 300)]
        if i not in (5, 6):  # person missed for 1 s (< lost_s)
            boxes.append((400, 120, 470, 310))
        out = tr.update(detections(boxes, conf=[0.9] * len(boxes)), t=100 + i * 0.5)
        ids.append(dict(zip(out.xyxy[:, 0].round().astype(int).tolist(), out.tracker_id.tolist(), strict=True)))
    walker = {d[min(d)] for d in ids[1:]}
    sitter = {d[400] for d in ids[1:] if 400 in d}
    assert len(walker) == 1 and len(sitter) == 1 and walker != sitter


def test_keypoints_and_data_follow_their_box():
    tr = PersonTracker(fps=2.0)
    d = detections([(0, 0, 50, 100), (200, 0, 250, 100)])
    d = d.with_(keypoints=np.arange(2 * 17 * 2, dtype=np.float32).reshape(2, 17, 2),
                keypoint_conf=np.ones((2, 17), np.float32))
    for i in range(3):
        out = tr.update(d, t=float(i))
    for j in range(len(out)):
        src = int(np.argmin(np.abs(d.xyxy[:, 0] - out.xyxy[j, 0])))
        assert np.array_equal(out.keypoints[j], d.keypoints[src])


def test_tracker_state_bounded_over_long_run():
    tr = PersonTracker(fps=2.0, lost_s=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(2000):  # a new person every 2 s, each seen for 1 s
            x = (i // 4) * 7 % 900
            tr.update(detections([(x, 0, x + 40, 90)]) if i % 4 < 2 else detections([]), t=i * 0.5)
    assert len(tr._tracker.tracks) < 10


def test_unconfirmed_boxes_are_kept_with_negative_ids():
    tr = PersonTracker(fps=2.0)
    out = tr.update(detections([(0, 0, 50, 100), (200, 0, 250, 100)], conf=[0.9, 0.2]), t=0.0)
    assert len(out) == 2 and (out.tracker_id < 0).all() and len(set(out.tracker_id.tolist())) == 2
    out = tr.update(detections([(0, 0, 50, 100), (200, 0, 250, 100)], conf=[0.9, 0.2]), t=0.5)
    assert out.tracker_id[0] > 0  # confirmed on its second frame
    assert out.tracker_id[1] < 0  # a weak box never starts a track
