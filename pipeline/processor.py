"""One camera's per-frame work: detect -> track -> pose (staff) -> scene facts -> rules -> sinks.

`CameraPipeline.process(frame)` is the whole hot path. Sinks (store, clips,
alert feed) are passed in at the edge; rules never do I/O.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from pipeline.config.models import CameraConfig, SiteConfig, rule_params
from pipeline.core.errors import OutputError
from pipeline.core.hours import rule_active
from pipeline.core.types import Detections, Event, Frame
from pipeline.rules.base import RULES, Rule, RuleContext
from pipeline.scene.assign import SceneAssigner
from pipeline.scene.facts import SceneFacts
from pipeline.scene.roi import post_rois
from pipeline.tracking.bytetrack import PersonTracker

log = logging.getLogger(__name__)


class EventSink(Protocol):
    def handle(self, event: Event, frame: Frame | None, facts: SceneFacts | None) -> None: ...


@dataclass
class Models:
    detector: Any
    pose: Any | None
    cascade: Any | None


def build_models(cfg: SiteConfig) -> Models:
    """Load the detector, pose estimator and phone cascade named in the config (fails with a clear error)."""
    from pipeline.detectors.cascade import build_cascade
    from pipeline.detectors.registry import build_detector, build_pose

    return Models(detector=build_detector(cfg.models.detector), pose=build_pose(cfg.models.pose),
                  cascade=build_cascade(cfg.models.phone_cascade, cfg.models.detector))


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
        if same.any() and _iou(b.xyxy[i], a.xyxy[same]).max() >= iou:
            keep[i] = False
    return Detections.merge([a, b[keep]])


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area - inter, 1e-6)


def roi_persons(models: Models, frame: Frame, rois: list[np.ndarray]) -> Detections:
    """Persons with keypoints from the YOLO-pose model run on each post's crop (frame pixels)."""
    infer = getattr(getattr(models.pose, "model", None), "infer", None)
    if infer is None or not rois:
        return Detections.empty()
    parts = []
    for x1, y1, x2, y2 in (r.astype(int) for r in rois):
        bx, sc, kp, kc = infer(frame.image[y1:y2, x1:x2])
        if not len(bx):
            continue
        off = np.array([x1, y1], np.float32)
        n = len(bx)
        parts.append(Detections(
            xyxy=(bx + np.tile(off, 2)).astype(np.float32), confidence=sc.astype(np.float32),
            class_id=np.zeros(n, np.int64), class_name=np.full(n, "person", dtype=object),
            keypoints=(kp + off).astype(np.float32), keypoint_conf=kc.astype(np.float32),
        ))
    out = Detections.empty()
    for part in parts:  # neighbouring crops overlap: keep one box per person
        out = nms_merge(out, part, iou=0.4) if len(out) else part
    return out


def _with_pose_slots(d: Detections) -> Detections:
    if d.keypoints is not None:
        return d
    return d.with_(keypoints=np.zeros((len(d), 17, 2), np.float32), keypoint_conf=np.zeros((len(d), 17), np.float32))


def perceive(models: Models, frame: Frame, assigner: SceneAssigner, tracker: PersonTracker | None,
             pose_staff_only: bool = True, rois: list[np.ndarray] | None = None,
             ) -> tuple[Detections, Detections, tuple[list[str], list[str | None], list[bool]]]:
    """Detection, post crops, tracking, pose and the phone cascade for one frame.

    Returns (persons, objects, assignment); the assignment (roles, posts, staff-area
    flags from `SceneAssigner.roles`) is handed on to `SceneAssigner.facts`.
    """
    dets = models.detector.detect(frame)
    persons, objects = split_persons(dets)
    if rois:
        near = roi_persons(models, frame, rois)
        if len(near):
            persons = nms_merge(_with_pose_slots(near), _with_pose_slots(persons), iou=0.4)
    if tracker is not None:
        persons = tracker.update(persons, frame.timestamp_s)
    size = (frame.width, frame.height)
    assigned = assigner.roles(persons, size)
    roles = assigned[0]
    if models.pose is not None and len(persons):
        if pose_staff_only:  # with zones, only staff are judged; without, everyone counts as staff
            judged = np.array([r == "staff" or (r == "unknown" and not assigner.has_zones) for r in roles])
        else:
            judged = np.ones(len(persons), bool)
        if persons.keypoint_conf is not None:  # crops already gave these persons a skeleton
            judged &= persons.keypoint_conf.max(axis=1) == 0
        if judged.any():
            posed = models.pose.estimate(frame, persons[judged])
            base = _with_pose_slots(persons)
            kps, kpc = base.keypoints.copy(), base.keypoint_conf.copy()
            kps[judged], kpc[judged] = posed.keypoints, posed.keypoint_conf
            persons = persons.with_(keypoints=kps, keypoint_conf=kpc)
            assigned = assigner.roles(persons, size)  # hips now known: re-anchor
            roles = assigned[0]
    if models.cascade is not None and len(persons):
        staff = persons[np.array([r == "staff" for r in roles])]
        if len(staff):
            objects = nms_merge(objects, models.cascade.detect(frame, staff))
    return persons, objects, assigned


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


class CameraPipeline:
    """All per-camera state: tracker, scene, rule instances. Not thread-safe; one per camera."""

    def __init__(self, cfg: SiteConfig, camera: CameraConfig, models: Models, *,
                 wall_at: Callable[[float], dt.datetime | None] = lambda t: None,
                 sinks: list[EventSink] | None = None, fps: float | None = None, board: Any = None):
        self.cfg, self.camera, self.models = cfg, camera, models
        self.board = board  # PresenceBoard shared by the cameras of one process, or None
        self.wall_at = wall_at
        self.sinks = list(sinks or [])
        self.tracker = PersonTracker(fps or cfg.analysis.fps, lost_s=cfg.analysis.track_lost_s)
        self.assigner = SceneAssigner(camera)
        self.rules = build_rules(cfg, camera, wall_at)
        self.online = True
        self.last_t: float | None = None
        self._rois: tuple[tuple[int, int], list[np.ndarray]] | None = None
        self._last_staff: dict[str, tuple[int, ...]] = {}  # post -> track ids seen last
        self._presence: dict[str, deque[tuple[float, bool]]] = {}  # post -> recent (t, staff seen)
        self.identify: Callable[[Event], Event] | None = None  # re-analysis: maps new ids onto stored ones
        self._retry: deque[tuple[EventSink, Event]] = deque()  # event states a sink failed on, retried in order

    def process(self, frame: Frame) -> FrameResult:
        size = (frame.width, frame.height)
        if self._rois is None or self._rois[0] != size:
            self._rois = (size, post_rois(self.camera, size) if self.cfg.models.post_crops else [])
        persons, objects, assigned = perceive(self.models, frame, self.assigner, self.tracker,
                                              self.cfg.models.pose.staff_only, rois=self._rois[1])
        facts = self.assigner.facts(self.camera.id, frame.timestamp_s, self.wall_at(frame.timestamp_s),
                                    size, persons, objects, assigned=assigned)
        facts = self._hold_presence(facts)
        if self.board is not None:
            self.board.publish(facts.t, facts.posts)
            facts = replace(facts, remote_posts=self.board.others(facts.t, frozenset(facts.posts)))
        events = self._run_rules(facts)
        self.last_t = frame.timestamp_s
        for ev in events:
            self._emit(ev, frame, facts)
        return FrameResult(facts=facts, persons=persons, objects=objects, events=events)

    def _hold_presence(self, facts: SceneFacts) -> SceneFacts:
        """Smooth per-post presence over `presence_window_s` by majority vote.

        The detector both misses a seated clerk now and then and sometimes sees a
        person in a coat left on a chair; both flicker. A post counts as staffed
        when staff were seen in at least half of its frames over the window, and
        then by the track ids seen last.
        """
        window = self.cfg.analysis.presence_window_s
        if window <= 0 or not facts.posts:
            return facts
        posts = dict(facts.posts)
        changed = False
        for pid, pf in facts.posts.items():
            hist = self._presence.setdefault(pid, deque())
            hist.append((facts.t, pf.staff_present))
            while hist and facts.t - hist[0][0] > window:
                hist.popleft()
            if pf.staff_present:
                self._last_staff[pid] = pf.staff_track_ids
            staffed = 2 * sum(1 for _, seen in hist if seen) >= len(hist)
            if staffed != pf.staff_present:
                ids = self._last_staff.get(pid, ()) if staffed else ()
                if staffed and not ids:
                    continue
                posts[pid] = replace(pf, staff_track_ids=ids)
                changed = True
        return replace(facts, posts=posts) if changed else facts

    def outage(self, t: float) -> list[Event]:
        """The camera is offline at t: rules see an offline frame (unknown time)."""
        facts = SceneFacts(source_id=self.camera.id, t=t, wall=self.wall_at(t), frame_size=(0, 0), online=False)
        events = self._run_rules(facts)
        for ev in events:
            self._emit(ev, None, facts)
        return events

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
        for ev in out:
            self._emit(ev, None, None)
        self.flush_retries()
        return out

    def _run_rules(self, facts: SceneFacts) -> list[Event]:
        out: list[Event] = []
        for rule in self.rules:
            out += rule.update(facts)
        if self.identify is not None:
            out = [self.identify(ev) for ev in out]
        return out

    def _emit(self, ev: Event, frame: Frame | None, facts: SceneFacts | None) -> None:
        if self._retry:
            self._flush_retry()
        for sink in self.sinks:
            if any(q is sink and e.event_id == ev.event_id for q, e in self._retry):
                self._queue_retry(sink, ev)  # an earlier state of this event still waits: keep the order
                continue
            try:
                sink.handle(ev, frame, facts)
            except OutputError:
                raise  # the database or disk cannot take events: stop with a clear error
            except Exception:  # one failing sink must not stop the others or the camera, nor drop the event
                log.exception("camera %s: sink %s failed on event %s (%s); retried with the next event",
                              self.camera.id, type(sink).__name__, ev.event_id, ev.state)
                self._queue_retry(sink, ev)

    def _queue_retry(self, sink: EventSink, ev: Event) -> None:
        if len(self._retry) >= RETRY_LIMIT:
            old_sink, old = self._retry.popleft()
            log.error("camera %s: sink %s dropped event %s (%s) after repeated failures", self.camera.id,
                      type(old_sink).__name__, old.event_id, old.state)
        self._retry.append((sink, ev))

    def _flush_retry(self) -> None:
        pending, self._retry = self._retry, deque()
        failed: set[tuple[int, str]] = set()
        for sink, ev in pending:
            if (id(sink), ev.event_id) in failed:
                self._retry.append((sink, ev))
                continue
            try:
                sink.handle(ev, None, None)
            except OutputError:
                raise
            except Exception as exc:  # noqa: BLE001 - still failing: keep it (bounded), in order
                log.warning("camera %s: sink %s still fails on event %s (%s): %s", self.camera.id,
                            type(sink).__name__, ev.event_id, ev.state, exc)
                failed.add((id(sink), ev.event_id))
                self._retry.append((sink, ev))

    def flush_retries(self) -> int:
        """Try the held-back sink calls once more (end of a file, shutdown); returns what is still failing."""
        if self._retry:
            self._flush_retry()
        for sink, ev in self._retry:
            log.error("camera %s: sink %s dropped event %s (%s): it kept failing", self.camera.id,
                      type(sink).__name__, ev.event_id, ev.state)
        n = len(self._retry)
        self._retry.clear()
        return n


RETRY_LIMIT = 1000  # held-back sink calls per camera; the oldest is dropped (and logged) beyond this


def build_rules(cfg: SiteConfig, camera: CameraConfig,
                wall_at: Callable[[float], dt.datetime | None] = lambda t: None) -> list[Rule]:
    """Instantiate every enabled rule for one camera, with post-level switches folded in."""
    site = cfg.site
    ctx = RuleContext(site_id=site.id, camera_id=camera.id,
                      active=lambda params, wall: rule_active(site, params, wall),
                      roster=cfg.roster, post_ids=tuple(p.id for p in camera.posts), wall_at=wall_at,
                      site=site)
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
