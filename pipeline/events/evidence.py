"""Evidence for each event: an annotated snapshot at its start and an H.264 clip with pre/post-roll.

The evidence sink of the chain (`pipeline.events.chain`), after the store: every frame
goes into the clip ring buffer first (`on_frame`), so the frame that started an event is
already in its clip. The paths it makes reach the later sinks in `Made.evidence`; the
zones a snapshot draws come with the frame's result. Customers are blurred.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.config.models import CameraConfig
from pipeline.core import private
from pipeline.core.errors import OutputError
from pipeline.core.types import Event, Frame
from pipeline.events.chain import Made, SinkBase
from pipeline.events.clips import ClipRecorder, clip_relpath
from pipeline.events.snapshot import blur_regions, render_snapshot, write_snapshot
from pipeline.events.store import EventStore
from pipeline.rules.articles import ARTICLES
from pipeline.rules.base import RULES
from pipeline.settings import SiteConfig

log = logging.getLogger(__name__)


def customer_boxes(res: Any) -> list[np.ndarray]:
    """Customers' person boxes; the clip and snapshot writers blur the face part of each."""
    return [p.xyxy for p in res.facts.persons if p.role == "customer"]


class EvidenceRecorder(SinkBase):
    stage = "evidence"

    def __init__(self, out_dir: Path, cfg: SiteConfig, camera: CameraConfig, store: EventStore):
        self.out_dir = out_dir
        self.cfg, self.camera, self.store = cfg, camera, store
        a = cfg.analysis
        self.blur = a.blur_customers
        for sub in ("clips", "snapshots"):
            try:
                private.make_dir(out_dir / sub)  # 0700
            except OSError as exc:
                raise OutputError(f"{out_dir / sub}: cannot create folder ({exc.strerror})") from None
        self.clips = ClipRecorder(camera.id, out_dir, pre_roll_s=a.pre_roll_s, post_roll_s=a.post_roll_s,
                                  clip_fps=a.clip_fps, clip_max_width=a.clip_max_width, on_clip=self._clip_done,
                                  max_clip_s=a.max_clip_s)
        self._paths: dict[str, dict[str, str]] = {}
        self._unsaved: dict[str, dict[str, Any]] = {}  # clip results the store could not take yet
        self._blur: list[np.ndarray] = []  # the current frame's customer boxes

    def set_camera(self, camera: CameraConfig) -> None:
        """Post names for the snapshot titles after a zones reload (the zones come with each result)."""
        self.camera = camera

    def paths_of(self, event_id: str) -> dict[str, str]:
        return self._paths.get(event_id, {})

    def on_frame(self, frame: Frame | None, res: Any) -> None:
        if self._unsaved:
            self._save_unsaved()
        if frame is None:  # an offline tick: nothing to record
            self._blur = []
            return
        self._blur = customer_boxes(res) if self.blur else []
        self.clips.push(frame, blur_boxes=self._blur)

    def on_event(self, ev: Event, made: Made) -> None:
        if ev.state == "start" and made.frame is not None and made.result is not None:
            self._start(ev, made.frame, made.result, self._blur)
        elif ev.state == "end":
            self.clips.stop(ev.event_id, ev.end_s if ev.end_s is not None else ev.start_s)
        made.evidence = dict(self.paths_of(ev.event_id))

    def close(self, t: float | None = None) -> None:
        self.clips.close()
        if self._unsaved:
            self._save_unsaved()
        for eid in self._unsaved:
            log.error("camera %s: clip result of event %s could not be stored; its clip row is marked partial "
                      "at the next start", self.camera.id, eid)

    def _start(self, ev: Event, frame: Frame, res: Any, blur: list[np.ndarray]) -> None:
        rel_clip = clip_relpath(ev.event_id)
        rel_snap = f"snapshots/{ev.event_id}.jpg"
        self._paths[ev.event_id] = {"clip": rel_clip, "snapshot": rel_snap}
        self.clips.start(ev.event_id, ev.start_s)
        try:
            img = self._annotate(ev, frame, res, blur)
            write_snapshot(self.out_dir / rel_snap, img)
            self._write_crop(ev, frame, blur)
            self.store.set_evidence(ev.event_id, snapshot=rel_snap, clip=rel_clip, status="pending")
        except OutputError as exc:
            log.error("camera %s: %s", self.camera.id, exc)
            self.store.set_evidence(ev.event_id, clip=rel_clip, status="pending")

    def _save_unsaved(self) -> None:
        for eid, kw in list(self._unsaved.items()):
            try:
                self.store.set_evidence(eid, **kw)
            except Exception:  # noqa: BLE001 - still failing: kept for the next try
                continue
            del self._unsaved[eid]
            log.info("camera %s: clip result of event %s stored after a retry", self.camera.id, eid)
    def _write_crop(self, ev: Event, frame: Frame, blur: list[np.ndarray]) -> None:
        """The raw region the phone step saw (details crop_box), for `counterwatch train dataset`."""
        box = (ev.details or {}).get("crop_box")
        if not (isinstance(box, (list, tuple)) and len(box) == 4):
            return
        x1, y1, x2, y2 = (int(v) for v in box)
        x1, y1, x2, y2 = max(0, x1), max(0, y1), min(frame.width, x2), min(frame.height, y2)
        if x2 - x1 < 4 or y2 - y1 < 4:
            return
        crop = frame.image[y1:y2, x1:x2].copy()
        blur_regions(crop, [np.asarray(b[:4], np.float64) - [x1, y1, x1, y1] for b in blur])
        write_snapshot(self.out_dir / f"snapshots/{ev.event_id}_crop.jpg", crop)

    def _annotate(self, ev: Event, frame: Frame, res: Any, blur: list[np.ndarray]) -> np.ndarray:
        zp = res.zones or {"posts": {}, "waiting": [], "staff_area": []}
        zones: dict[str, list[np.ndarray]] = {"seat": [], "desk": [], "customer": [],
                                              "waiting": list(zp["waiting"]), "staff_area": list(zp["staff_area"])}
        for pz in zp["posts"].values():
            for k, poly in pz.items():
                zones[k].append(poly)
        persons = [(p.xyxy, f"{p.role}{' ' + p.post_id if p.post_id else ''} #{p.track_id}", p.role,
                    p.keypoints, p.keypoint_conf, p.track_id) for p in res.facts.persons]
        objects = [(o.xyxy, f"{o.class_name} {o.confidence:.2f}") for o in res.facts.objects]
        rule = RULES.get(ev.rule_id)
        art = ARTICLES.get(ev.article)
        post = next((p.name or p.id for p in self.camera.posts if p.id == ev.post_id), ev.post_id or "")
        where = f"{post} ({ev.post_id})" if ev.post_id and post != ev.post_id else post  # the name people use
        title_zh = f"{rule.name_zh if rule else ev.rule_id} · {ev.article} · {where}"
        title_en = f"{rule.name_en if rule else ev.rule_id} · {art.title_en if art else ev.article}"
        return render_snapshot(frame, zones=zones, persons=persons, objects=objects,
                               highlight_track_ids=set(ev.track_ids), title_zh=title_zh, title_en=title_en,
                               blur_boxes=blur)

    def _clip_done(self, event_id: str, relpath: str | None, status: str, duration_s: float | None) -> None:
        clip = relpath or None
        try:
            self.store.set_evidence(event_id, clip=clip, status=status, duration_s=duration_s)
        except Exception as exc:  # noqa: BLE001 - retried with the next frame, never left pending silently
            log.error("camera %s: cannot store clip result of event %s (%s); retried", self.camera.id, event_id, exc)
            self._unsaved[event_id] = {"clip": clip, "status": status, "duration_s": duration_s}
        if clip:
            self._paths.setdefault(event_id, {})["clip"] = clip
