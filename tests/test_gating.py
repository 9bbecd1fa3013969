"""Motion gating per post region and per-track cadence in the camera pipeline.

The models here are counting doubles with fixed answers: what is tested is which
model runs on which frame and what the pipeline reuses, not what a model finds
(the real models are exercised by the scenario tests).
"""

from __future__ import annotations

import numpy as np

from pipeline.config.models import CadenceConfig, GatingConfig
from pipeline.core.types import Detections, Frame
from pipeline.gating import MotionGate, TrackMemo
from pipeline.processor import CameraPipeline, Models
from pipeline.scene.roi import post_rois
from pipeline.settings import SiteConfig
from tests.builders import detections

W, H = 1280, 720
# Two posts far apart: P1 on the left, P2 on the right (normalised seat zones).
P1_SEAT = [[0.05, 0.30], [0.20, 0.30], [0.20, 0.60], [0.05, 0.60]]
P2_SEAT = [[0.75, 0.30], [0.90, 0.30], [0.90, 0.60], [0.75, 0.60]]


def _cfg(gating: dict | None = None, cadence: dict | None = None, post_crops: bool = True) -> SiteConfig:
    return SiteConfig.model_validate({
        "site": {"opening_hours": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                    "start": "00:00", "end": "24:00"}]},
        "models": {"post_crops": post_crops},
        "analysis": {"fps": 2, "presence_window_s": 0, "gating": gating or {}, "cadence": cadence or {}},
        "cameras": [{"id": "cam1", "posts": [{"id": "P1", "seat": P1_SEAT}, {"id": "P2", "seat": P2_SEAT}]}],
        "rules": {"post.unattended": {"min_duration_s": 2.0, "clear_after_s": 1.0, "active": "always"}},
    })


class CountingDetector:
    """Returns the same person boxes on every frame."""

    def __init__(self, boxes=()):
        self.boxes = [list(b) for b in boxes]
        self.calls = 0

    def detect(self, frame: Frame) -> Detections:
        self.calls += 1
        return detections(self.boxes) if self.boxes else Detections.empty()

    def detect_batch(self, images):
        return [self.detect(Frame("x", 0, 0.0, im)) for im in images]


class CountingCropPose:
    """Post-crop pose model: records the size of each crop it is given, finds nobody."""

    def __init__(self):
        self.batches: list[list[tuple[int, int]]] = []

    def infer_batch(self, images):
        self.batches.append([im.shape[:2] for im in images])
        empty = (np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0, 17, 2), np.float32),
                 np.zeros((0, 17), np.float32))
        return [empty for _ in images]


class CountingPose:
    """PoseEstimator: a fixed skeleton inside each given box; counts persons posed."""

    def __init__(self):
        self.posed: list[int] = []

    def estimate(self, frame: Frame, persons: Detections) -> Detections:
        self.posed.append(len(persons))
        n = len(persons)
        cx = (persons.xyxy[:, 0] + persons.xyxy[:, 2]) / 2
        cy = (persons.xyxy[:, 1] + persons.xyxy[:, 3]) / 2
        kps = np.repeat(np.stack([cx, cy], 1)[:, None, :], 17, axis=1).astype(np.float32)
        return persons.with_(keypoints=kps, keypoint_conf=np.full((n, 17), 0.9, np.float32))


def _frame(t: float, image: np.ndarray, i: int = 0) -> Frame:
    return Frame("cam1", i, t, image)


def _scene(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(60, 200, (H // 8, W // 8, 3), dtype=np.uint8)
    return np.kron(img, np.ones((8, 8, 1), np.uint8))  # blocky texture: stable under downscaling


def _pipe(cfg: SiteConfig, detector=None, pose=None) -> tuple[CameraPipeline, CountingCropPose]:
    crop = CountingCropPose()
    models = Models(detector=detector or CountingDetector(), pose=pose, cascade=None, crop_pose=crop)
    return CameraPipeline(cfg, cfg.cameras[0], models, fps=2), crop


def test_static_scene_reuses_post_crops_and_dwell_timers_advance():
    cfg = _cfg(gating={"refresh_s": 60})
    det = CountingDetector()
    pipe, crop = _pipe(cfg, det)
    img = _scene()
    events, first_seen = [], {}
    for k in range(12):  # 6 s of the same frame
        for e in pipe.process(_frame(k * 0.5, img.copy(), k)).events:
            events.append(e)
            first_seen.setdefault((e.rule_id, e.post_id), k * 0.5)
    assert len(crop.batches) == 1  # both post crops once, on the first frame
    assert len(crop.batches[0]) == len(post_rois(cfg.cameras[0], (W, H))) == 2
    assert det.calls == 12  # person detection on every analysed frame
    starts = [e for e in events if e.state == "start" and e.rule_id == "post.unattended"]
    assert sorted(e.post_id for e in starts) == ["P1", "P2"]  # the unattended timers ran on reused results
    # raised once the 2 s dwell had passed, on frames whose crops were all reused
    assert all(first_seen[("post.unattended", p)] >= 2.0 for p in ("P1", "P2"))


def test_change_inside_one_post_region_refreshes_only_that_post():
    cfg = _cfg(gating={"refresh_s": 60})
    pipe, crop = _pipe(cfg)
    img = _scene()
    pipe.process(_frame(0.0, img.copy()))
    pipe.process(_frame(0.5, img.copy(), 1))
    rois = post_rois(cfg.cameras[0], (W, H))
    left = min(range(len(rois)), key=lambda i: rois[i][0])
    x1, y1, x2, y2 = (int(v) for v in rois[left])
    moved = img.copy()
    moved[y1 + 40:y1 + 200, x1 + 40:x1 + 160] = 255  # someone sits down at the left post
    pipe.process(_frame(1.0, moved, 2))
    assert len(crop.batches) == 2
    assert crop.batches[1] == [(y2 - y1, x2 - x1)]  # only the left post's crop ran
    pipe.process(_frame(1.5, moved.copy(), 3))  # and then it is still again
    assert len(crop.batches) == 2


def test_sub_threshold_noise_does_not_refresh():
    cfg = _cfg(gating={"refresh_s": 60, "pixel_delta": 18})
    pipe, crop = _pipe(cfg)
    img = _scene()
    pipe.process(_frame(0.0, img))
    noisy = np.clip(img.astype(np.int16) + np.random.default_rng(1).integers(-6, 7, img.shape), 0, 255)
    pipe.process(_frame(0.5, noisy.astype(np.uint8), 1))
    assert len(crop.batches) == 1


def test_refresh_bound_is_honoured():
    cfg = _cfg(gating={"refresh_s": 2.0})
    pipe, crop = _pipe(cfg)
    img = _scene()
    for k in range(11):  # t = 0 .. 5 s
        pipe.process(_frame(k * 0.5, img.copy(), k))
    assert len(crop.batches) == 3  # t = 0, 2, 4: no reused result is 2 s old or older
    gate = pipe.memory.gate
    assert all(5.0 - r.t < 2.0 for r in gate.regions)


def test_gating_off_runs_every_crop_every_frame():
    cfg = _cfg(gating={"enabled": False})
    pipe, crop = _pipe(cfg)
    img = _scene()
    for k in range(4):
        pipe.process(_frame(k * 0.5, img.copy(), k))
    assert [len(b) for b in crop.batches] == [2, 2, 2, 2]


def test_pose_cadence_per_track_in_seconds():
    # No post crops; one staff member at P1, tracked and still: pose every pose_s seconds.
    cfg = _cfg(cadence={"pose_s": 1.5}, post_crops=False)
    box = [0.08 * W, 0.32 * H, 0.17 * W, 0.58 * H]
    pose = CountingPose()
    pipe, _ = _pipe(cfg, CountingDetector([box]), pose)
    img = _scene()
    kept, posed_at = [], []
    for k in range(8):  # t = 0 .. 3.5 s
        before = len(pose.posed)
        res = pipe.process(_frame(k * 0.5, img.copy(), k))
        kept.append(res.persons.keypoint_conf is not None and float(res.persons.keypoint_conf.max()) > 0)
        if len(pose.posed) > before:
            posed_at.append(k * 0.5)
    assert all(kept)  # every frame has the skeleton, fresh or reused
    # t=0: not yet a confirmed track (never reused); confirmed at 0.5, then every 1.5 s
    assert posed_at == [0.0, 0.5, 2.0, 3.5]


def test_a_reused_skeleton_keeps_the_time_it_was_measured():
    cfg = _cfg(cadence={"pose_s": 1.5}, post_crops=False)
    box = [0.08 * W, 0.32 * H, 0.17 * W, 0.58 * H]
    pipe, _ = _pipe(cfg, CountingDetector([box]), CountingPose())
    img = _scene()
    measured = []
    for k in range(6):  # posed at 0.0, 0.5 and 2.0 (see the cadence test); reused in between
        res = pipe.process(_frame(k * 0.5, img.copy(), k))
        measured.append(res.facts.persons[0].pose_t)
    assert measured == [0.0, 0.5, 0.5, 0.5, 2.0, 2.0]


def test_pose_runs_again_when_the_track_moves():
    cfg = _cfg(cadence={"pose_s": 10.0, "move_iou": 0.8}, post_crops=False)
    box = [0.08 * W, 0.32 * H, 0.17 * W, 0.58 * H]
    det = CountingDetector([box])
    pose = CountingPose()
    pipe, _ = _pipe(cfg, det, pose)
    img = _scene()
    for k in range(3):  # provisional at t=0, confirmed (and posed) at 0.5, reused at 1.0
        pipe.process(_frame(k * 0.5, img, k))
    assert len(pose.posed) == 2
    det.boxes = [[box[0] + 40, box[1], box[2] + 40, box[3]]]  # leans over: IoU with the old box < 0.8
    pipe.process(_frame(1.5, img, 3))
    assert len(pose.posed) == 3


def test_zero_cadence_poses_every_frame():
    cfg = _cfg(cadence={"pose_s": 0}, post_crops=False)
    box = [0.08 * W, 0.32 * H, 0.17 * W, 0.58 * H]
    pose = CountingPose()
    pipe, _ = _pipe(cfg, CountingDetector([box]), pose)
    for k in range(4):
        pipe.process(_frame(k * 0.5, _scene(), k))
    assert pose.posed == [1, 1, 1, 1]


def test_track_memory_ages_in_seconds():
    m = TrackMemo()
    box = np.array([0, 0, 10, 10], np.float32)
    m.put(3, 10.0, box, "x")
    assert m.get(3, 10.9, box, 1.0) == "x"
    assert m.get(3, 11.0, box, 1.0) is None  # 1 s old: due again
    assert m.get(-1, 10.1, box, 1.0) is None  # an unconfirmed person is looked up by place: none kept there
    assert m.get(3, 10.1, box + 8, 1.0, move_iou=0.5) is None  # moved
    m.prune(30.0, 5.0)
    assert m.entries == {}


def test_gate_changed_fraction_is_per_region():
    gate = MotionGate(GatingConfig(width=160, min_area=0.01, refresh_s=100))
    img = _scene()
    boxes = [np.array([0, 0, 400, 400], np.float32), np.array([800, 0, 1200, 400], np.float32)]
    assert gate.due(img, 0.0, boxes) == [True, True]
    img2 = img.copy()
    img2[800 // 4:, :] = img2[800 // 4:, :]  # nothing inside the boxes changes
    img2[500:700, 0:1280] = 0
    assert gate.due(img2, 0.5, boxes) == [False, False]
    img2[100:300, 900:1100] = 0
    assert gate.due(img2, 1.0, boxes) == [False, True]
    assert gate.last_changed[1] > 0.01 >= gate.last_changed[0]


def test_cadence_config_defaults_and_naive():
    from pipeline.commands.bench_pipeline import naive_config

    cfg = _cfg()
    assert cfg.analysis.gating.enabled and cfg.analysis.gating.refresh_s == 5.0
    assert cfg.analysis.cadence == CadenceConfig()
    naive = naive_config(cfg)
    assert not naive.analysis.gating.enabled
    assert naive.analysis.cadence.pose_s == naive.analysis.cadence.phone_s == naive.analysis.cadence.desk_s == 0
    assert not naive.analysis.cadence.phone_needs_hands


def test_a_drop_in_persons_is_rechecked_until_it_has_lasted_refresh_s():
    gate = MotionGate(GatingConfig(refresh_s=2.0, moving_every_s=0.5))
    img = _scene()
    boxes = [np.array([0, 0, 400, 400], np.float32)]
    assert gate.due(img, 0.0, boxes) == [True]
    gate.store(0, [1, 2])
    assert gate.due(img, 0.5, boxes) == [False]  # still: reused
    gate.regions[0].ref = None  # (the caller refreshes, e.g. motion elsewhere forced it)
    assert gate.due(img, 1.0, boxes) == [True]
    gate.store(0, [1])  # one person fewer: not trusted yet
    assert gate.due(img, 1.25, boxes) == [False]  # re-checked at the moving cadence, not before
    assert gate.due(img, 1.5, boxes) == [True]
    gate.store(0, [1])  # still fewer, but for less than refresh_s since two were seen
    assert gate.due(img, 2.0, boxes) == [True]
    gate.store(0, [1, 2])  # back at 2.0: the miss is never held
    assert gate.due(img, 2.5, boxes) == [False]
    gate.regions[0].ref = None
    assert gate.due(img, 3.0, boxes) == [True]
    gate.store(0, [1])  # a real departure: re-checked every moving_every_s ...
    assert gate.due(img, 3.5, boxes) == [True]
    gate.store(0, [1])
    assert gate.due(img, 4.0, boxes) == [True]
    gate.store(0, [1])  # ... until it has lasted refresh_s (two seen last at 2.0): now believed
    assert gate.due(img, 4.5, boxes) == [False]


def test_a_drop_is_rechecked_every_moving_every_s_not_every_frame():
    gate = MotionGate(GatingConfig(refresh_s=5.0, moving_every_s=1.0))
    img = _scene()
    boxes = [np.array([0, 0, 400, 400], np.float32)]
    assert gate.due(img, 0.0, boxes) == [True]
    gate.store(0, [1, 2])
    gate.regions[0].ref = None
    assert gate.due(img, 0.5, boxes) == [True]
    gate.store(0, [1])  # a flickering second person: the drop is looked at again once a second
    due = []
    for k in range(2, 8):  # t = 1.0 .. 3.5, 2 analysed fps
        got = gate.due(img, k * 0.5, boxes)[0]
        if got:
            gate.store(0, [1])
        due.append(got)
    assert due == [False, True, False, True, False, True]


def test_a_region_that_keeps_moving_is_analysed_every_moving_every_s():
    gate = MotionGate(GatingConfig(refresh_s=60, moving_every_s=1.0))
    boxes = [np.array([0, 0, 400, 400], np.float32)]
    due = []
    for k in range(7):  # t = 0 .. 3 s, the region changes on every frame (a clerk typing)
        img = _scene(seed=k)
        got = gate.due(img, k * 0.5, boxes)
        if got[0]:
            gate.store(0, [1])
        due.append(got[0])
    assert due == [True, False, True, False, True, False, True]
    gate.regions[0].ref = None  # a drop in persons is re-checked on the next frame, not a second later
    assert gate.due(_scene(seed=9), 3.5, boxes) == [True]


def test_moving_every_s_zero_analyses_a_moving_region_on_every_frame():
    gate = MotionGate(GatingConfig(refresh_s=60, moving_every_s=0))
    boxes = [np.array([0, 0, 400, 400], np.float32)]
    assert [gate.due(_scene(seed=k), k * 0.5, boxes)[0] for k in range(4)] == [True] * 4
    assert gate.due(_scene(seed=3), 2.0, boxes) == [False]  # no change: still reused


def test_unconfirmed_persons_are_remembered_by_place():
    m = TrackMemo()
    seat = np.array([100, 100, 200, 300], np.float32)
    m.put(-1, 10.0, seat, "clerk")
    assert m.get(-3, 10.5, seat + 4, 1.0) == "clerk"  # another provisional id, the same place
    assert m.get(-3, 10.5, seat + 60, 1.0) is None  # somewhere else
    assert m.get(-3, 11.0, seat, 1.0) is None  # too old
    assert m.get(5, 10.5, seat, 1.0) is None  # a confirmed track is looked up by its id only
    assert m.lookup(-2, 10.5, seat, 1.0) == (10.0, "clerk")
    m.put(-2, 10.6, seat + 2, "newer")  # the same place: replaces the older spot
    assert len(m.spots) == 1 and m.get(-1, 10.7, seat, 1.0) == "newer"
    m.put(-1, 10.6, seat + 500, "other")
    assert len(m.spots) == 2
    m.prune(20.0, 5.0)
    assert m.spots == []


def test_a_weak_seated_person_the_tracker_never_confirms_is_posed_on_the_cadence():
    # conf 0.28 is below the tracker's threshold for new tracks: a new provisional id every frame
    cfg = _cfg(cadence={"pose_s": 1.5}, post_crops=False)
    box = [0.08 * W, 0.32 * H, 0.17 * W, 0.58 * H]
    det = CountingDetector([box])
    det.detect = lambda frame: detections([box], conf=[0.28])
    pose = CountingPose()
    pipe, _ = _pipe(cfg, det, pose)
    img = _scene()
    posed_at = []
    for k in range(8):
        before = len(pose.posed)
        res = pipe.process(_frame(k * 0.5, img.copy(), k))
        assert int(res.persons.tracker_id[0]) < 0 and float(res.persons.keypoint_conf.max()) > 0
        if len(pose.posed) > before:
            posed_at.append(k * 0.5)
    assert posed_at == [0.0, 1.5, 3.0]


class CountingCascade:
    """Phone step double. A wrist crop finds a phone at the person's right edge; a body crop finds a cup
    and a second phone at the left edge. Records which persons got a body crop."""

    def __init__(self):
        self.bodies: list[list[int]] = []

    def detect(self, frame: Frame, staff: Detections, body=None) -> Detections:
        body = np.ones(len(staff), bool) if body is None else np.asarray(body, bool)
        self.bodies.append(body.astype(int).tolist())
        boxes, names, owner, hand = [], [], [], []
        for i, (x1, y1, x2, _) in enumerate(staff.xyxy):
            boxes.append([x2 - 20, y1 + 50, x2, y1 + 70])
            names.append("phone")
            owner.append(i)
            hand.append(True)
            if body[i]:
                boxes += [[x1, y1 + 100, x1 + 30, y1 + 130], [x1, y1 + 20, x1 + 20, y1 + 40]]
                names += ["cup", "phone"]
                owner += [i, i]
                hand += [False, False]
        d = detections(boxes, classes=names)
        return d.with_(data={"person_index": np.array(owner), "hand_crop": np.array(hand)})


def test_body_crop_runs_on_the_desk_cadence_and_its_items_are_kept_between():
    cfg = _cfg(cadence={"pose_s": 0.5, "phone_s": 0.5, "desk_s": 1.5}, post_crops=False)
    box = [0.08 * W, 0.32 * H, 0.17 * W, 0.58 * H]
    cascade = CountingCascade()
    models = Models(detector=CountingDetector([box]), pose=CountingPose(), cascade=cascade)
    pipe = CameraPipeline(cfg, cfg.cameras[0], models, fps=2)
    img = _scene()
    seen = []
    for k in range(8):  # t = 0 .. 3.5 s
        res = pipe.process(_frame(k * 0.5, img.copy(), k))
        names = res.objects.class_name.astype(str).tolist()
        seen.append((names.count("cup"), names.count("phone")))
    # t=0 provisional (its own body crop), 0.5 confirmed track 1 (first body crop), then every 1.5 s
    assert cascade.bodies == [[1], [1], [0], [0], [1], [0], [0], [1]]
    assert all(cups == 1 for cups, _ in seen)  # the desk item stays between body crops
    # phones are never reused from a body crop: two on body-crop frames, the wrist phone alone otherwise
    assert [phones for _, phones in seen] == [2, 2, 1, 1, 2, 1, 1, 2]
