"""One live camera: source -> CameraPipeline -> sink chain (store, evidence, presence, alerts), in a thread.

Why a thread per camera with a shared pool of model sets: onnxruntime and LiteRT
release the GIL while they run, so K model sets (K = cores) keep every core busy
while tracking, rules and I/O interleave; a camera waiting for a model set keeps
only its newest frame. Frames that are already older than `max_lag_s` when a model
set frees up are skipped and counted, so a loaded machine drops frames instead of
falling behind real time. While the source is down the pipeline gets offline
frames (outage time is unknown to the rules and the presence log).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pipeline.alerts.feed import AlertFeed
from pipeline.alerts.sink import AlertSink
from pipeline.config.models import CameraConfig
from pipeline.core.clock import steady_time, steady_to_wall
from pipeline.core.types import Event
from pipeline.events.chain import SinkChain
from pipeline.events.clips import clip_relpath
from pipeline.events.evidence import EvidenceRecorder
from pipeline.events.sinks import PresenceRecorder, StoreSink
from pipeline.events.store import EventStore
from pipeline.live.health import CameraHealth
from pipeline.processor import CameraPipeline, Models
from pipeline.settings import SiteConfig

log = logging.getLogger(__name__)


class ModelPool:
    """K interchangeable model sets; a camera leases one per frame (FIFO among waiting cameras)."""

    def __init__(self, sets: list[Models]):
        if not sets:
            raise ValueError("ModelPool needs at least one model set")
        self.size = len(sets)
        self._q: queue.Queue[Models] = queue.Queue()
        for m in sets:
            self._q.put(m)

    @contextlib.contextmanager
    def lease(self, timeout_s: float | None = None) -> Iterator[Models | None]:
        try:
            models = self._q.get(timeout=timeout_s)
        except queue.Empty:
            yield None
            return
        try:
            yield models
        finally:
            self._q.put(models)


def evidence_paths(ev: Event) -> dict[str, str]:
    """Where the event's clip and snapshot are written (known before they exist: the alert links them)."""
    return {"clip": clip_relpath(ev.event_id), "snapshot": f"snapshots/{ev.event_id}.jpg"}


def live_wall_at(t: float) -> dt.datetime:
    """Live frames carry steady (monotonic, epoch-like) seconds; schedules and the store want local wall time."""
    return steady_to_wall(t)


class CameraWorker:
    def __init__(self, cfg: SiteConfig, camera: CameraConfig, pool: ModelPool, store: EventStore,
                 data_dir: Path, feed: AlertFeed, open_source: Callable[[CameraConfig, Callable], Any], *,
                 fps: float | None = None, max_lag_s: float = 2.0, outage_tick_s: float = 1.0,
                 on_frame: Callable[[str, Any, Any], None] | None = None, board: Any = None):
        self.cfg, self.camera, self.pool, self.store = cfg, camera, pool, store
        self.board = board  # PresenceBoard shared with the other cameras (A/B duties across cameras)
        self.data_dir, self.feed, self.open_source = Path(data_dir), feed, open_source
        self.fps = fps or cfg.analysis.fps
        self.max_lag_s, self.outage_tick_s = max_lag_s, outage_tick_s
        self.on_frame = on_frame
        self.health = CameraHealth(camera.id, cfg.site.id, store, target_fps=self.fps)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run_safe, name=f"camera-{camera.id}", daemon=True)
        self.error: str | None = None
        self.source: Any = None
        self.restarts = 0  # times the worker was restarted after an unexpected error (/metrics)
        self.restart_initial_s, self.restart_max_s = 1.0, 60.0
        self._new_zones: CameraConfig | None = None  # set by LiveRunner.reload_zones, taken by the camera thread
        self._zones_lock = threading.Lock()

    def update_zones(self, camera: CameraConfig) -> None:
        """Hand the camera thread a config with new zones; it takes them before its next frame."""
        with self._zones_lock:
            self._new_zones = camera

    def _take_new_zones(self) -> CameraConfig | None:
        with self._zones_lock:
            cam, self._new_zones = self._new_zones, None
        return cam

    def start(self) -> CameraWorker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout_s: float | None = None) -> None:
        self._thread.join(timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run_safe(self) -> None:
        """Run the camera; an unexpected error restarts it with backoff (counted), never ends it for good.

        An OutputError (database or disk gone) is retried the same way: the camera resumes when
        the storage is back. A clean end (stop, or a file source that ended) is not restarted.
        """
        delay = self.restart_initial_s
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._run()
                return
            except Exception as exc:  # the camera restarts, the others and the web app go on
                self.error = f"{type(exc).__name__}: {exc}"
                self.restarts += 1
                if time.monotonic() - started > 10 * self.restart_max_s:
                    delay = self.restart_initial_s  # it ran fine for a long while: restart fast
                log.exception("camera %s: worker failed (restart %d in %.0f s)", self.camera.id, self.restarts,
                              delay)
                self.health.state, self.health.reason = "offline", f"worker error: {self.error}"
                self.health.stopping = False
                self.health.write(force=True)
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2.0, self.restart_max_s)

    def _run(self) -> None:
        cam, cfg = self.camera, self.cfg
        evidence = EvidenceRecorder(self.data_dir, cfg, cam, self.store)
        presence = PresenceRecorder(self.store, camera_id=cam.id, site_id=cfg.site.id, source="live",
                                    wall_at=live_wall_at)
        outbox = getattr(self.feed, "outbox", None)
        # the outbox rows of each state are written in the event's own transaction, with the paths
        # its evidence will have (the alert links them before they exist)
        store = StoreSink(self.store, source="live", outbox=outbox,
                          alert_of=lambda ev, frame_s: self.feed.alert(ev, frame_s=frame_s, evidence=evidence_paths(ev)))
        chain = SinkChain([store, evidence, presence, AlertSink(self.feed, enqueued=outbox is not None)],
                          camera_id=cam.id)
        pipe: CameraPipeline | None = None
        last_t: float | None = None
        last_outage_tick = 0.0
        src = self.open_source(cam, self.health.on_state)
        self.source = src
        self.health.attach_source(src)
        try:
            while not self._stop.is_set():
                frame = src.next_frame(timeout_s=0.25)
                now = steady_time()
                if frame is None:
                    if self.health.down and pipe is not None and now - last_outage_tick >= self.outage_tick_s:
                        last_outage_tick = now
                        chain.frame(None, pipe.outage(now))
                    if getattr(src, "ended", False):
                        break
                    continue
                with self.pool.lease() as models:
                    if steady_time() - frame.timestamp_s > self.max_lag_s:
                        self.health.lagged_frame()  # too old by the time a model set was free
                        continue
                    new_cam = self._take_new_zones()
                    if new_cam is not None:
                        cam = self.camera = new_cam
                        evidence.set_camera(cam)
                        if pipe is not None:
                            pipe.set_zones(cam)
                        log.info("camera %s: zones reloaded", cam.id)
                    if pipe is None:
                        pipe = CameraPipeline(cfg, cam, models, wall_at=live_wall_at, fps=self.fps,
                                              board=self.board, references=self.store)
                        presence.settling = pipe.settling
                    res = pipe.process(frame, models=models)
                chain.frame(frame, res)
                if self.board is not None:  # queue length for the hall board
                    self.board.note_waiting(cam.id, res.facts.t, res.facts.waiting_count)
                last_t = frame.timestamp_s
                self.health.analysed_frame(frame.timestamp_s, sum(e.state == "start" for e in res.events))
                if self.on_frame is not None:
                    self.on_frame(cam.id, frame, res)
        finally:
            self.health.stopping = True
            src.close()
            end_t = steady_time()
            # the events that end at shutdown, then every sink's close: clips finish (post-roll cut
            # at shutdown), presence is flushed
            closing = pipe.close(last_t if last_t is not None else end_t) if pipe is not None else []
            chain.close(end_t, closing)
            self.health.close()
