"""LiveRunner: every enabled camera of a site watched live, plus the alert transports.

Process layout (why): one process, one thread per camera, and a pool of K model
sets (K = CPU cores, each inference run on one thread). Inference releases the GIL,
so K frames are analysed at once on K cores without oversubscribing them, and the
web server (SSE/WebSocket) shares the process and the AlertBus with the cameras,
so an alert reaches a browser without another hop. Stopping ends running events,
finishes clips, flushes presence and the webhook outbox, and closes outages.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.alerts.bus import AlertBus
from pipeline.alerts.feed import AlertFeed
from pipeline.alerts.webhooks import WebhookOutbox
from pipeline.config.models import CameraConfig, SiteConfig
from pipeline.core.errors import ConfigError
from pipeline.events.store import EventStore
from pipeline.live.filecam import PacedFileSource
from pipeline.live.health import HealthSnapshot
from pipeline.live.worker import CameraWorker, ModelPool
from pipeline.processor import Models, build_models
from pipeline.scene.board import PresenceBoard
from pipeline.sources import is_live_spec, open_source

log = logging.getLogger(__name__)


def single_thread_cfg(cfg: SiteConfig) -> SiteConfig:
    """The same config with one inference thread per model (the pool supplies the parallelism)."""
    det = cfg.models.detector.model_copy(update={"threads": 1})
    pose = cfg.models.pose.model_copy(update={"threads": 1})  # read by backends that accept threads
    return cfg.model_copy(update={"models": cfg.models.model_copy(update={"detector": det, "pose": pose})})


def default_pool_size() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def resolve_source(camera: CameraConfig, config_dir: Path | None) -> str:
    """A relative file path in the config is relative to the config file."""
    spec = camera.source
    if not spec:
        raise ConfigError(f"camera {camera.id!r} field source: empty (an rtsp:// URL, webcam:N or a video file)")
    if is_live_spec(spec) or Path(spec).is_absolute() or config_dir is None:
        return spec
    return str((config_dir / spec).resolve())


class LiveRunner:
    def __init__(self, cfg: SiteConfig, data_dir: Path | str, store: EventStore, *, bus: AlertBus | None = None,
                 config_dir: Path | None = None, pool_size: int | None = None, fps: float | None = None,
                 max_lag_s: float = 2.0, cameras: list[str] | None = None, loop_files: bool = True,
                 models: list[Models] | None = None, live_options: dict[str, Any] | None = None,
                 on_frame: Callable[[str, Any, Any], None] | None = None):
        self.cfg, self.data_dir, self.store = cfg, Path(data_dir), store
        self.bus = bus or AlertBus()
        self.config_dir, self.fps, self.max_lag_s = config_dir, fps or cfg.analysis.fps, max_lag_s
        self.loop_files, self.live_options = loop_files, dict(live_options or {})
        self.on_frame = on_frame
        chosen = [c for c in cfg.cameras if c.enabled and (not cameras or c.id in cameras)]
        if cameras:
            unknown = sorted(set(cameras) - {c.id for c in cfg.cameras})
            if unknown:
                raise ConfigError(f"--camera: unknown camera(s) {unknown} (config has {[c.id for c in cfg.cameras]})")
        if not chosen:
            raise ConfigError("cameras: no enabled camera to watch")
        self.cameras = chosen
        self.sources = {c.id: resolve_source(c, config_dir) for c in chosen}
        for cam_id, spec in self.sources.items():
            if not is_live_spec(spec) and not Path(spec).exists():
                raise ConfigError(f"camera {cam_id!r} field source: file {spec} does not exist")
        self.pool_size = pool_size or default_pool_size()
        self._models = models
        self.outbox = WebhookOutbox(store, cfg.alerts.webhooks, retry_initial_s=cfg.alerts.retry_initial_s,
                                    retry_max_s=cfg.alerts.retry_max_s) if cfg.alerts.webhooks else None
        self.mqtt: Any = None
        if cfg.alerts.mqtt is not None:
            from pipeline.alerts.mqtt import MqttPublisher

            self.mqtt = MqttPublisher(cfg.alerts.mqtt)
        self.feed = AlertFeed(cfg, bus=self.bus, outbox=self.outbox, mqtt=self.mqtt)
        self.workers: dict[str, CameraWorker] = {}
        self.started_at: float | None = None
        self._stopped = False

    def _open(self, camera: CameraConfig, on_state: Callable[[str, str, str], None]) -> Any:
        spec = self.sources[camera.id]
        if is_live_spec(spec):
            opts = {"stall_timeout_s": camera.stall_timeout_s, **self.live_options}
            return open_source(spec, camera_id=camera.id, fps=self.fps, live=True, on_state=on_state, **opts)
        return PacedFileSource(spec, camera_id=camera.id, fps=self.fps, loop=self.loop_files, on_state=on_state)

    def start(self) -> LiveRunner:
        """Load models (fails fast with a clear error), then start the cameras and the outbox."""
        t0 = time.perf_counter()
        if self._models is None:
            from pipeline.core.threads import thread_plan

            plan = thread_plan(self.pool_size)  # K model sets x cores // K threads, OpenCV 1 thread when K > 1
            log.info("live: %s", plan.describe())
            one = plan.apply(self.cfg) if self.pool_size > 1 else self.cfg
            self._models = [build_models(one) for _ in range(self.pool_size)]
        pool = ModelPool(self._models)
        log.info("live: %d model set(s) loaded in %.1f s", pool.size, time.perf_counter() - t0)
        self.store.mark_unfinished_clips_partial()
        if self.outbox is not None:
            self.outbox.start()
        board = PresenceBoard()  # A/B duties whose posts sit in front of different cameras
        for cam in self.cameras:
            w = CameraWorker(self.cfg, cam, pool, self.store, self.data_dir, self.feed, self._open, fps=self.fps,
                             max_lag_s=self.max_lag_s, on_frame=self.on_frame, board=board)
            self.workers[cam.id] = w.start()
        self.started_at = time.time()
        return self

    def health(self) -> list[HealthSnapshot]:
        return [w.health.snapshot() for w in self.workers.values()]

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop every camera (ending events, finishing clips), then flush webhooks. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        for w in self.workers.values():
            w.stop()
        deadline = time.monotonic() + timeout_s
        for w in self.workers.values():
            w.join(max(0.1, deadline - time.monotonic()))
            if w.alive:
                log.error("camera %s: worker did not stop within %.0f s", w.camera.id, timeout_s)
        if self.outbox is not None:
            self.outbox.close(flush_timeout_s=3.0)
        if self.mqtt is not None:
            self.mqtt.close()
        log.info("live: stopped")
