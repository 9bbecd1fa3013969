"""One camera's per-frame work: detect -> track -> pose (staff) -> scene facts -> rules -> sinks.

`CameraPipeline.process(frame)` is the whole hot path. Sinks (store, clips,
alert feed) are passed in at the edge; rules never do I/O.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np

from pipeline.config.models import CameraConfig, SiteConfig, rule_params
from pipeline.core.hours import rule_active
from pipeline.core.types import Detections, Event, Frame
from pipeline.rules.base import RULES, Rule, RuleContext
from pipeline.scene.assign import SceneAssigner
from pipeline.scene.facts import SceneFacts
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
    from pipeline.detectors.cascade import PhoneCascade
    from pipeline.detectors.registry import build_detector, build_pose

    detector = build_detector(cfg.models.detector)
    pose = build_pose(cfg.models.pose)
    cascade = None
    pc = cfg.models.phone_cascade
    if pc.enabled:
        crop_det = detector
        if pc.model:
            crop_det = build_detector(cfg.models.detector.model_copy(update={"model": pc.model}))
        cascade = PhoneCascade(crop_det, conf_threshold=pc.conf_threshold)
    return Models(detector=detector, pose=pose, cascade=cascade)


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


def perceive(models: Models, frame: Frame, assigner: SceneAssigner, tracker: PersonTracker | None,
             pose_staff_only: bool = True) -> tuple[Detections, Detections, list[str]]:
    """Detection, tracking, pose and the phone cascade for one frame -> (persons, objects, roles)."""
    dets = models.detector.detect(frame)
    persons, objects = split_persons(dets)
    if tracker is not None:
        persons = tracker.update(persons, frame.timestamp_s)
    size = (frame.width, frame.height)
    roles, _, _ = assigner.roles(persons, size)
    if models.pose is not None and len(persons):
        judged = np.array([r != "customer" for r in roles]) if pose_staff_only else np.ones(len(persons), bool)
        if judged.any():
            posed = models.pose.estimate(frame, persons[judged])
            kps = np.zeros((len(persons), posed.keypoints.shape[1], 2), np.float32)
            kpc = np.zeros((len(persons), posed.keypoints.shape[1]), np.float32)
            kps[judged], kpc[judged] = posed.keypoints, posed.keypoint_conf
            persons = persons.with_(keypoints=kps, keypoint_conf=kpc)
            roles, _, _ = assigner.roles(persons, size)  # hips now known: re-anchor
    if models.cascade is not None and len(persons):
        staff = persons[np.array([r == "staff" for r in roles])]
        if len(staff):
            objects = nms_merge(objects, models.cascade.detect(frame, staff))
    return persons, objects, roles


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
                 sinks: list[EventSink] | None = None, fps: float | None = None):
        self.cfg, self.camera, self.models = cfg, camera, models
        self.wall_at = wall_at
        self.sinks = list(sinks or [])
        self.tracker = PersonTracker(fps or cfg.analysis.fps, lost_s=cfg.analysis.track_lost_s)
        self.assigner = SceneAssigner(camera)
        self.rules = build_rules(cfg, camera, wall_at)
        self.online = True
        self.last_t: float | None = None

    def process(self, frame: Frame) -> FrameResult:
        persons, objects, _ = perceive(self.models, frame, self.assigner, self.tracker, self.cfg.models.pose.staff_only)
        facts = self.assigner.facts(self.camera.id, frame.timestamp_s, self.wall_at(frame.timestamp_s),
                                    (frame.width, frame.height), persons, objects, online=True)
        events = self._run_rules(facts)
        self.last_t = frame.timestamp_s
        for ev in events:
            self._emit(ev, frame, facts)
        return FrameResult(facts=facts, persons=persons, objects=objects, events=events)

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
        for ev in out:
            self._emit(ev, None, None)
        return out

    def _run_rules(self, facts: SceneFacts) -> list[Event]:
        out: list[Event] = []
        for rule in self.rules:
            out += rule.update(facts)
        return out

    def _emit(self, ev: Event, frame: Frame | None, facts: SceneFacts | None) -> None:
        for sink in self.sinks:
            try:
                sink.handle(ev, frame, facts)
            except Exception:  # one failing sink must not stop the others or the camera
                log.exception("camera %s: sink %s failed on event %s", self.camera.id, type(sink).__name__, ev.event_id)


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
