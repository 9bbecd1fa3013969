"""One camera's per-frame work: detect -> track -> pose (staff) -> scene facts -> rules -> events.

`CameraPipeline.process(frame)` is the whole hot path; it returns a `FrameResult` and
does no I/O but the learned upright references. The caller hands the result to the
camera's sink chain (`pipeline.events.chain`: store, evidence, jsonl, presence, alerts).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from pipeline.config.hours import rule_active
from pipeline.config.models import CadenceConfig, CameraConfig, GatingConfig, rule_params
from pipeline.core.boxes import box_iou
from pipeline.core.stages import count, stage
from pipeline.core.types import Detections, Event, Frame
from pipeline.detectors.cascade import HAND_CLASSES, build_cascade
from pipeline.detectors.registry import build_detector, build_pose
from pipeline.detectors.yolo_pose import YoloPoseModel
from pipeline.gating import MotionGate, TrackMemo
from pipeline.rules.base import RULES, Rule, RuleContext
from pipeline.rules.upright import UprightModel
from pipeline.scene.assign import SceneAssigner
from pipeline.scene.facts import SceneFacts
from pipeline.scene.roi import post_rois
from pipeline.settings import SiteConfig
from pipeline.tracking.bytetrack import PersonTracker

log = logging.getLogger(__name__)
UPRIGHT_SAVE_EVERY_S = 60.0  # learned upright references are written to the store at most this often


@dataclass
class Models:
    detector: Any
    pose: Any | None
    cascade: Any | None
    crop_pose: Any | None = None  # YOLO-pose for the post crops (batched); None: the pose model's


@dataclass
class PerceiveMemory:
    """Per-camera memory of what each model last found, for motion gating and cadence."""

    gating: GatingConfig
    cadence: CadenceConfig
    gate: MotionGate = field(init=False)
    poses: TrackMemo = field(default_factory=TrackMemo)
    phones: TrackMemo = field(default_factory=TrackMemo)
    desk: TrackMemo = field(default_factory=TrackMemo)  # per track: desk items of the last body crop

    def __post_init__(self) -> None:
        self.gate = MotionGate(self.gating)

    def prune(self, t: float) -> None:
        """Forget results far older than anything could reuse: 4x the longest bound on their age."""
        for memo, cadence_s in ((self.poses, self.cadence.pose_s), (self.phones, self.cadence.phone_s),
                                (self.desk, self.cadence.desk_s)):
            memo.prune(t, 4 * max(self.gating.refresh_s, cadence_s, 1.0))

    def still_limit(self, limit_s: float, still: bool) -> float:
        """How long a result may be reused: the cadence, or up to the refresh bound in a still region."""
        if still and self.gating.enabled:
            return max(limit_s, self.gating.refresh_s)
        return limit_s


def build_models(cfg: SiteConfig) -> Models:
    """Load the detector, pose estimator and phone cascade named in the config (fails with a clear error)."""

    return Models(detector=build_detector(cfg.models.detector), pose=build_pose(cfg.models.pose),
                  cascade=build_cascade(cfg.models.phone_cascade, cfg.models.detector), crop_pose=_crop_pose(cfg))


def _crop_pose(cfg: SiteConfig) -> YoloPoseModel | None:
    if cfg.models.post_crops and cfg.models.post_crops_model and cfg.models.pose.type == "yolo_pose":
        return YoloPoseModel(cfg.models.post_crops_model, conf_threshold=cfg.models.pose.conf_threshold,
                             threads=cfg.models.pose.threads)
    return None


def build_model_pool(cfg: SiteConfig, n: int) -> list[Models]:
    """n model sets for n parallel workers, sharing what may be shared.

    onnxruntime sessions may be run from several threads at once, so an onnxruntime detector and
    the phone cascade are loaded once and shared by every set. A pose estimator that says it is
    `thread_safe` (YOLO-pose: a LiteRT interpreter runs under its own lock) is shared too; any
    other (MediaPipe keeps per-call state) is loaded once per set. One copy of those weights, not n.
    """
    first = build_models(cfg)
    if cfg.models.detector.type != "yolo_onnx":
        return [first] + [build_models(cfg) for _ in range(n - 1)]
    shared_pose = bool(getattr(first.pose, "thread_safe", False))
    return [first] + [Models(detector=first.detector,
                             pose=first.pose if shared_pose else build_pose(cfg.models.pose),
                             cascade=first.cascade,
                             crop_pose=first.crop_pose if shared_pose else _crop_pose(cfg)) for _ in range(n - 1)]


def split_persons(dets: Detections) -> tuple[Detections, Detections]:
    is_person = dets.class_name.astype(str) == "person"
    return dets[is_person], dets[~is_person]


def nms_merge(a: Detections, b: Detections, iou: float = 0.5) -> Detections:
    """Add the boxes of b that do not overlap a box of the same class in a."""
    if not len(b):
        return a
    if not len(a):
        return b
    keep = np.ones(len(b), bool)
    for i in range(len(b)):
        same = a.class_name.astype(str) == str(b.class_name[i])
        if same.any() and box_iou(b.xyxy[i], a.xyxy[same]).max() >= iou:
            keep[i] = False
    return Detections.merge([a, b[keep]])


def roi_persons_each(models: Models, frame: Frame, rois: list[np.ndarray]) -> list[Detections]:
    """Persons with keypoints found on each post crop (frame pixels), all crops in one batch when the model allows."""
    model = models.crop_pose or getattr(models.pose, "model", None)
    if model is None or not rois:
        return [Detections.empty() for _ in rois]
    boxes = [tuple(int(v) for v in r) for r in rois]
    crops = [frame.image[y1:y2, x1:x2] for x1, y1, x2, y2 in boxes]
    batch = getattr(model, "infer_batch", None)
    outs = batch(crops) if batch is not None else [model.infer(c) for c in crops]
    parts = []
    for (x1, y1, _, _), (bx, sc, kp, kc) in zip(boxes, outs, strict=True):
        if not len(bx):
            parts.append(Detections.empty())
            continue
        off = np.array([x1, y1], np.float32)
        n = len(bx)
        parts.append(Detections(
            xyxy=(bx + np.tile(off, 2)).astype(np.float32), confidence=sc.astype(np.float32),
            class_id=np.zeros(n, np.int64), class_name=np.full(n, "person", dtype=object),
            keypoints=(kp + off).astype(np.float32), keypoint_conf=kc.astype(np.float32),
        ))
    return parts


def merge_roi_persons(parts: list[Detections]) -> Detections:
    out = Detections.empty()
    for part in parts:  # neighbouring crops overlap: keep one box per person
        if len(part):
            out = nms_merge(out, part, iou=0.4) if len(out) else part
    return out


def roi_persons(models: Models, frame: Frame, rois: list[np.ndarray]) -> Detections:
    """Persons with keypoints from the YOLO-pose model run on each post's crop (frame pixels)."""
    return merge_roi_persons(roi_persons_each(models, frame, rois))


def _in_still(boxes: np.ndarray, rois: list[np.ndarray], due: list[bool]) -> np.ndarray:
    """Per box: its centre lies in a post region that was not analysed this frame (and in no due one)."""
    out = np.zeros(len(boxes), bool)
    if not rois or not len(boxes):
        return out
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    inside = np.array([(cx >= r[0]) & (cx <= r[2]) & (cy >= r[1]) & (cy <= r[3]) for r in rois])  # (rois, n)
    d = np.asarray(due, bool)[:, None]
    return (inside & ~d).any(axis=0) & ~(inside & d).any(axis=0)


def _with_pose_slots(d: Detections) -> Detections:
    if d.keypoints is not None:
        return d
    return d.with_(keypoints=np.zeros((len(d), 17, 2), np.float32), keypoint_conf=np.zeros((len(d), 17), np.float32))


def perceive(models: Models, frame: Frame, assigner: SceneAssigner, tracker: PersonTracker | None,
             pose_staff_only: bool = True, rois: list[np.ndarray] | None = None,
             memory: PerceiveMemory | None = None,
             ) -> tuple[Detections, Detections, tuple[list[str], list[str | None], list[bool]]]:
    """Detection, post crops, tracking, pose and the phone cascade for one frame.

    Returns (persons, objects, assignment); the assignment (roles, posts, staff-area
    flags from `SceneAssigner.roles`) is handed on to `SceneAssigner.facts`. With a
    `memory`, post regions where nothing moved reuse their last crop persons, and pose
    and the phone step run per track on their cadence; without one every model runs.
    """
    t = frame.timestamp_s
    with stage("detect"):
        dets = models.detector.detect(frame)
    persons, objects = split_persons(dets)
    due: list[bool] = []
    crop_t: dict[bytes, float] = {}  # a crop skeleton's keypoints -> when that crop was analysed
    if rois:
        with stage("gate"):
            due = memory.gate.due(frame.image, t, rois) if memory is not None else [True] * len(rois)
        todo = [r for r, d in zip(rois, due, strict=True) if d]
        fresh: list[Detections] = []
        if todo:
            with stage("post_crops"):
                fresh = roi_persons_each(models, frame, todo)
        count("post_crops_run", len(todo))
        count("post_crops_reused", len(rois) - len(todo))
        parts, it = [], iter(fresh)
        for i, d in enumerate(due):
            if d:
                part = next(it)
                if memory is not None:
                    memory.gate.store(i, part)
                t_part = t
            else:
                part = memory.gate.result(i) if memory is not None else None
                t_part = memory.gate.regions[i].t if memory is not None else t
            if part is not None and part.keypoints is not None:
                for kp in part.keypoints:
                    crop_t[_kp_key(kp)] = t if t_part is None else float(t_part)
            parts.append(part if part is not None else Detections.empty())
        near = merge_roi_persons(parts)
        if len(near):
            persons = nms_merge(_with_pose_slots(near), _with_pose_slots(persons), iou=0.4)
    if tracker is not None:
        with stage("track"):
            persons = tracker.update(persons, t)
    size = (frame.width, frame.height)
    with stage("scene"):
        assigned = assigner.roles(persons, size)
    roles = assigned[0]
    still = _in_still(persons.xyxy, rois or [], due) if memory is not None else np.zeros(len(persons), bool)
    tids = persons.tracker_id if persons.tracker_id is not None else np.zeros(len(persons), np.int64)
    if models.pose is not None and len(persons):
        if pose_staff_only:  # with zones, only staff are judged; without, everyone counts as staff
            judged = np.array([r == "staff" or (r == "unknown" and not assigner.has_zones) for r in roles])
        else:
            judged = np.ones(len(persons), bool)
        if persons.keypoint_conf is not None:  # crops already gave these persons a skeleton
            judged &= persons.keypoint_conf.max(axis=1) == 0
        base = _with_pose_slots(persons)
        kps, kpc = base.keypoints.copy(), base.keypoint_conf.copy()
        # when each skeleton was measured: reused ones keep their first time, so rules count them once
        pose_t = np.array([crop_t.get(_kp_key(kps[i]), t) if kpc[i].max() > 0 else np.nan
                           for i in range(len(persons))], np.float64)
        changed = False
        if memory is not None and judged.any():  # a tracked person who did not move keeps their skeleton
            cad = memory.cadence
            for i in np.flatnonzero(judged):
                found = memory.poses.lookup(int(tids[i]), t, persons.xyxy[i],
                                            memory.still_limit(cad.pose_s, bool(still[i])), cad.move_iou)
                if found is not None:
                    t0, got = found
                    shift = (persons.xyxy[i, :2] + persons.xyxy[i, 2:] - got[0][:2] - got[0][2:]) / 2
                    kps[i], kpc[i] = got[1] + shift, got[2]
                    pose_t[i] = t0
                    judged[i] = False
                    changed = True
                    count("pose_reused")
        if judged.any():
            with stage("pose"):
                posed = models.pose.estimate(frame, persons[judged])
            kps[judged], kpc[judged] = posed.keypoints, posed.keypoint_conf
            pose_t[judged] = t
            count("pose_run", int(judged.sum()))
            if memory is not None:
                for j, i in enumerate(np.flatnonzero(judged)):
                    memory.poses.put(int(tids[i]), t, persons.xyxy[i],
                                     (persons.xyxy[i].copy(), posed.keypoints[j].copy(), posed.keypoint_conf[j].copy()))
            changed = True
        if changed:
            persons = persons.with_(keypoints=kps, keypoint_conf=kpc)
            with stage("scene"):
                assigned = assigner.roles(persons, size)  # hips now known: re-anchor
            roles = assigned[0]
        persons = persons.with_(data={**persons.data, "pose_t": pose_t})
    if models.cascade is not None and len(persons):
        is_staff = np.array([r == "staff" for r in roles])
        if memory is None:
            if is_staff.any():
                with stage("phone"):
                    objects = nms_merge(objects, _plain(models.cascade.detect(frame, persons[is_staff])))
        else:
            objects = _phone_step(models, frame, persons, is_staff, still, tids, memory, objects)
    if memory is not None:
        memory.prune(t)
    return persons, objects, assigned


_HAND_JOINTS = (7, 8, 9, 10)  # COCO elbows and wrists


def _kp_key(kp: np.ndarray) -> bytes:
    return np.asarray(kp, np.float32).tobytes()


def _phone_step(models: Models, frame: Frame, persons: Detections, is_staff: np.ndarray, still: np.ndarray,
                tids: np.ndarray, memory: PerceiveMemory, objects: Detections) -> Detections:
    """The phone cascade per staff track, on its cadence; reused findings are merged like fresh ones."""
    cad = memory.cadence
    t = frame.timestamp_s
    due, reused = [], []
    for i in np.flatnonzero(is_staff):
        if cad.phone_needs_hands and persons.keypoint_conf is not None:
            if float(persons.keypoint_conf[i, list(_HAND_JOINTS)].max()) < 0.4:
                continue  # hands not visible: nothing for the phone step to look at
        got = memory.phones.get(int(tids[i]), t, persons.xyxy[i], memory.still_limit(cad.phone_s, bool(still[i])))
        if got is None:
            due.append(i)
        else:
            reused.append(got)
    count("phone_reused", len(reused))
    if due:
        count("phone_run", len(due))
        # the body crop (desk items and phones) on its own slower cadence; the wrist crops at every phone step
        kept = [memory.desk.get(int(tids[i]), t, persons.xyxy[i], memory.still_limit(cad.desk_s, bool(still[i])))
                for i in due]
        body = np.array([k is None for k in kept])
        count("phone_body_run", int(body.sum()))
        with stage("phone"):
            found = models.cascade.detect(frame, persons[np.asarray(due)], body=body)
        owner = found.data.get("person_index") if len(found) else None
        for j, i in enumerate(due):
            mine = _plain(found[owner == j]) if owner is not None else Detections.empty()
            if body[j]:
                memory.desk.put(int(tids[i]), t, persons.xyxy[i], _desk_items(mine))
            else:
                mine = Detections.merge([mine, kept[j]])
            memory.phones.put(int(tids[i]), t, persons.xyxy[i], mine)
            reused.append(mine)
    found_all = Detections.merge([p for p in reused if len(p)])
    return nms_merge(objects, found_all) if len(found_all) else objects


def _desk_items(found: Detections) -> Detections:
    """What a body crop found that is not a phone (phones are judged from fresh crops only); `found` is plain."""
    if not len(found):
        return Detections.empty()
    return found[~np.isin(found.class_name.astype(str), HAND_CLASSES.astype(str))]


def _plain(d: Detections) -> Detections:
    return d.with_(data={}) if len(d) else Detections.empty()


def image_facts(models: Models, image: np.ndarray, cfg: SiteConfig,
                camera: CameraConfig | None = None) -> tuple[SceneFacts, Detections]:
    """Facts and persons of one image (no tracking, no time): what `counterwatch eval images` judges.

    With no zones every person counts as staff (post None), and objects on a table
    surface count as on the desk.
    """
    camera = camera or CameraConfig(id="image")
    frame = Frame(source_id=camera.id, index=0, timestamp_s=0.0, image=image)
    assigner = SceneAssigner(camera)
    size = (frame.width, frame.height)
    rois = post_rois(camera, size) if cfg.models.post_crops else []
    persons, objects, assigned = perceive(models, frame, assigner, None, cfg.models.pose.staff_only, rois=rois)
    return assigner.facts(camera.id, 0.0, None, size, persons, objects, assigned=assigned), persons


@dataclass
class FrameResult:
    facts: SceneFacts
    persons: Detections
    objects: Detections
    events: list[Event] = field(default_factory=list)
    zones: dict | None = None  # the camera's zones in pixels at this frame's size (snapshots draw them)


class CameraPipeline:
    """All per-camera state: tracker, scene, rule instances. Not thread-safe; one per camera."""

    def __init__(self, cfg: SiteConfig, camera: CameraConfig, models: Models, *,
                 wall_at: Callable[[float], dt.datetime | None] = lambda t: None,
                 fps: float | None = None, board: Any = None, references: Any = None):
        self.cfg, self.camera, self.models = cfg, camera, models
        self.board = board  # PresenceBoard shared by the cameras of one process, or None
        self.wall_at = wall_at
        self.tracker = PersonTracker(fps or cfg.analysis.fps, lost_s=cfg.analysis.track_lost_s)
        self.assigner = SceneAssigner(camera)
        self.upright = UprightModel(camera)
        self.references = references  # a store with load_upright/save_upright: learned uprights survive restarts
        self._upright_saved_t: float | None = None
        if references is not None:
            self.upright.load(references.load_upright(camera.id, cfg.site.id))
        self.rules = build_rules(cfg, camera, wall_at, upright=self.upright)
        self.online = True
        self.last_t: float | None = None
        self._rois: tuple[tuple[int, int], list[np.ndarray]] | None = None
        self._last_staff: dict[str, tuple[int, ...]] = {}  # post -> track ids seen last
        self._presence: dict[str, deque[tuple[float, bool]]] = {}  # post -> recent (t, staff seen)
        self.identify: Callable[[Event], Event] | None = None  # re-analysis: maps new ids onto stored ones
        self._presence_since: dict[str, float] = {}  # post -> time of its first frame
        self._staffed: dict[str, bool] = {}  # post -> smoothed presence
        self.memory = PerceiveMemory(cfg.analysis.gating, cfg.analysis.cadence)

    def set_zones(self, camera: CameraConfig) -> None:
        """Take a camera config with new zones (same posts): scene and post crops follow at the next frame."""
        self.camera = camera
        self.assigner = SceneAssigner(camera)
        self._rois = None

    def process(self, frame: Frame, *, models: Models | None = None) -> FrameResult:
        """One frame; `models`: the model set leased for this frame (live cameras share a pool)."""
        size = (frame.width, frame.height)
        if self._rois is None or self._rois[0] != size:
            self._rois = (size, post_rois(self.camera, size) if self.cfg.models.post_crops else [])
        persons, objects, assigned = perceive(models or self.models, frame, self.assigner, self.tracker,
                                              self.cfg.models.pose.staff_only, rois=self._rois[1],
                                              memory=self.memory)
        with stage("scene"):
            facts = self.assigner.facts(self.camera.id, frame.timestamp_s, self.wall_at(frame.timestamp_s),
                                        size, persons, objects, assigned=assigned)
            facts = self._hold_presence(facts)
            if self.board is not None:
                self.board.publish(facts.t, facts.posts)
                facts = replace(facts, remote_posts=self.board.others(facts.t, frozenset(facts.posts)))
        with stage("rules"):
            events = self._run_rules(facts)
        self.last_t = frame.timestamp_s
        if self._upright_saved_t is None or facts.t - self._upright_saved_t >= UPRIGHT_SAVE_EVERY_S:
            self._save_upright(facts.t)
        return FrameResult(facts=facts, persons=persons, objects=objects, events=events,
                           zones=self.assigner.zones_px(size))

    def _hold_presence(self, facts: SceneFacts) -> SceneFacts:
        """Smooth per-post presence over `presence_window_s` by majority vote, with hysteresis.

        The detector both misses a seated clerk now and then and sometimes sees a
        person in a coat left on a chair; both flicker. Once a post has been watched
        for half a window, its state changes only when more than half of its frames
        over the window disagree with it (a tie keeps it; the first state is staffed
        only on a strict majority). Before that (the start of a recording, or after a
        gap longer than the window) the vote has too few frames: it is the plain
        majority, and the presence log records that time as unknown
        (`settling`). A staffed post keeps the track ids seen last. This is the
        presence the rules judge with, and the one the report shows.
        """
        window = self.cfg.analysis.presence_window_s
        if window <= 0 or not facts.posts:
            return facts
        posts = dict(facts.posts)
        changed = False
        for pid, pf in facts.posts.items():
            hist = self._presence.setdefault(pid, deque())
            if pid not in self._presence_since or (hist and facts.t - hist[-1][0] > window):
                self._presence_since[pid] = facts.t  # a new start: the vote settles again
                self._staffed.pop(pid, None)
                hist.clear()
            hist.append((facts.t, pf.staff_present))
            while hist and facts.t - hist[0][0] > window:
                hist.popleft()
            if pf.staff_present:
                self._last_staff[pid] = pf.staff_track_ids
            seen, n = sum(1 for _, s in hist if s), len(hist)
            if self.settling(pid, facts.t):
                staffed = 2 * seen >= n
            else:
                staffed = self._staffed.get(pid)
                if staffed is None:
                    staffed = 2 * seen > n
                elif staffed and 2 * (n - seen) > n:
                    staffed = False
                elif not staffed and 2 * seen > n:
                    staffed = True
                self._staffed[pid] = staffed
            if staffed != pf.staff_present:
                ids = self._last_staff.get(pid, ()) if staffed else ()
                if staffed and not ids:
                    continue
                posts[pid] = replace(pf, staff_track_ids=ids)
                changed = True
        return replace(facts, posts=posts) if changed else facts

    def settling(self, post_id: str, t: float) -> bool:
        """True while the presence vote of `post_id` has watched it for less than half a window."""
        window = self.cfg.analysis.presence_window_s
        since = self._presence_since.get(post_id)
        return window > 0 and (since is None or t - since < window / 2)

    def outage(self, t: float) -> FrameResult:
        """The camera is offline at t: rules see an offline frame (unknown time)."""
        facts = SceneFacts(source_id=self.camera.id, t=t, wall=self.wall_at(t), frame_size=(0, 0), online=False)
        return FrameResult(facts=facts, persons=Detections.empty(), objects=Detections.empty(),
                           events=self._run_rules(facts))

    def close(self, t: float | None = None) -> list[Event]:
        """End every running event (end of a file, shutdown)."""
        t = self.last_t if t is None else t
        out: list[Event] = []
        if t is None:
            return out
        for rule in self.rules:
            out += rule.flush(t)
        if self.identify is not None:
            out = [self.identify(ev) for ev in out]
        self._save_upright(t)
        return out

    def _save_upright(self, t: float) -> None:
        self._upright_saved_t = t
        if self.references is None or not self.upright.dirty:
            return
        rows = self.upright.export(self.upright.dirty)
        self.upright.dirty.clear()
        self.references.save_upright(rows, self.cfg.site.id)

    def _run_rules(self, facts: SceneFacts) -> list[Event]:
        out: list[Event] = []
        for rule in self.rules:
            out += rule.update(facts)
        if self.identify is not None:
            out = [self.identify(ev) for ev in out]
        return out


def build_rules(cfg: SiteConfig, camera: CameraConfig,
                wall_at: Callable[[float], dt.datetime | None] = lambda t: None,
                upright: UprightModel | None = None) -> list[Rule]:
    """Instantiate every enabled rule for one camera, with post-level switches folded in."""
    site = cfg.site
    ctx = RuleContext(site_id=site.id, camera_id=camera.id,
                      active=lambda params, wall: rule_active(site, params, wall),
                      roster=cfg.roster, post_ids=tuple(p.id for p in camera.posts), wall_at=wall_at,
                      site=site, upright=upright if upright is not None else UprightModel(camera))
    rules: list[Rule] = []
    for rule_id, cls in sorted(RULES.items()):
        params = rule_params(cfg.rules, rule_id)
        if not params.enabled or rule_id in camera.disabled_rules or camera.id in params.disabled_cameras:
            continue
        off_posts = [p.id for p in camera.posts if rule_id in p.disabled_rules]
        if off_posts:
            params = params.model_copy(update={"disabled_posts": sorted(set(params.disabled_posts) | set(off_posts))})
        rules.append(cls(params, ctx))
    return rules
