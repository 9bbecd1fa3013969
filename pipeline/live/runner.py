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
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.alerts.bus import AlertBus
from pipeline.alerts.feed import AlertFeed
from pipeline.alerts.mqtt import MqttPublisher
from pipeline.alerts.webhooks import WebhookOutbox
from pipeline.config.models import CameraConfig
from pipeline.core.errors import ConfigError
from pipeline.core.threads import cpu_cores, thread_plan
from pipeline.events.store import EventStore
from pipeline.live.filecam import PacedFileSource
from pipeline.live.health import HealthSnapshot
from pipeline.live.worker import CameraWorker, ModelPool
from pipeline.processor import Models, build_model_pool
from pipeline.scene.board import PresenceBoard
from pipeline.settings import SiteConfig, load_config
from pipeline.sources import is_live_spec, open_source
from pipeline.sources import resolve_source as resolve_spec

log = logging.getLogger(__name__)


def single_thread_cfg(cfg: SiteConfig) -> SiteConfig:
    """The same config with one inference thread per model (the pool supplies the parallelism)."""
    det = cfg.models.detector.with_threads(1)
    pose = cfg.models.pose.with_threads(1)  # backends without a thread count are left as they are
    return cfg.model_copy(update={"models": cfg.models.model_copy(update={"detector": det, "pose": pose})})


def default_pool_size() -> int:
    return cpu_cores()


def resolve_source(camera: CameraConfig, config_dir: Path | None) -> str:
    """A relative file path in the config is relative to the config file (pipeline.sources.resolve_source)."""
    if not camera.source:
        raise ConfigError(f"camera {camera.id!r} field source: empty (an rtsp:// URL, webcam:N or a video file)")
    return resolve_spec(camera.source, config_dir)


def _zones(cam: CameraConfig) -> tuple:
    return (tuple((p.id, p.seat, p.desk, p.customer) for p in cam.posts), cam.waiting, cam.staff_area)


def with_new_zones(old: CameraConfig, new: CameraConfig) -> CameraConfig | None:
    """`old` with the polygons of `new`; None when the posts differ (new posts need a restart: rules are per post)."""
    if [p.id for p in old.posts] != [p.id for p in new.posts]:
        return None
    posts = [op.model_copy(update={"seat": np.seat, "desk": np.desk, "customer": np.customer})
             for op, np in zip(old.posts, new.posts, strict=True)]
    return old.model_copy(update={"posts": posts, "waiting": new.waiting, "staff_area": new.staff_area})


class ConfigWatcher:
    """Polls the config file (through a symlink) and hands a changed, valid config to `on_change`;
    an invalid edit is logged once and the running zones stay."""

    def __init__(self, path: Path, on_change: Callable[[SiteConfig], Any], interval_s: float = 2.0):
        self.path, self.on_change, self.interval_s = Path(path), on_change, interval_s
        self._stop = threading.Event()
        self._seen = self._stamp()
        self._thread = threading.Thread(target=self._loop, name="config-watch", daemon=True)

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)  # follows the link
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def start(self) -> ConfigWatcher:
        self._thread.start()
        return self

    def check(self) -> bool:
        """Look once; True when a changed file was loaded and handed on."""
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return False
        self._seen = stamp
        try:
            cfg = load_config(self.path)
        except ConfigError as exc:
            log.error("config changed but is not valid; the running zones stay: %s", exc)
            return False
        self.on_change(cfg)
        return True

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check()
            except Exception:  # the watcher must never end the run
                log.exception("config watch: %s", self.path)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.interval_s + 1)


class LiveRunner:
    def __init__(self, cfg: SiteConfig, data_dir: Path | str, store: EventStore, *, bus: AlertBus | None = None,
                 config_dir: Path | None = None, pool_size: int | None = None, fps: float | None = None,
                 max_lag_s: float = 2.0, cameras: list[str] | None = None, loop_files: bool = True,
                 models: list[Models] | None = None, live_options: dict[str, Any] | None = None,
                 on_frame: Callable[[str, Any, Any], None] | None = None, config_path: Path | None = None):
        self.cfg, self.data_dir, self.store = cfg, Path(data_dir), store
        self.config_path = Path(config_path) if config_path is not None else None
        self.watcher: ConfigWatcher | None = None
        self.config_listeners: list[Callable[[SiteConfig], Any]] = []  # told of a changed config file
        self._reload_lock = threading.Lock()
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
                                    retry_max_s=cfg.alerts.retry_max_s,
                                    max_attempts=cfg.alerts.retry_max_attempts) if cfg.alerts.webhooks else None
        self.mqtt: Any = None
        if cfg.alerts.mqtt is not None:
            self.mqtt = MqttPublisher(cfg.alerts.mqtt)
        self.feed = AlertFeed(cfg, bus=self.bus, outbox=self.outbox, mqtt=self.mqtt)
        self.workers: dict[str, CameraWorker] = {}
        # A/B duties whose posts sit in front of different cameras; the hall board reads it too,
        # and each presence flip goes out on the bus (kind "presence") for the board's live feed
        self.board = PresenceBoard(on_change=self.bus.publish)
        self.started_at: float | None = None
        self._stopped = False

    def _open(self, camera: CameraConfig, on_health_state: Callable[[str, str, str], None]) -> Any:
        spec = self.sources[camera.id]

        def on_state(camera_id: str, state: str, reason: str) -> None:  # health first, then tell the board
            on_health_state(camera_id, state, reason)
            self.bus.publish({"kind": "camera", "camera_id": camera_id, "state": state, "reason": reason,
                              "at": time.time()})

        if is_live_spec(spec):
            opts = {"stall_timeout_s": camera.stall_timeout_s, **self.live_options}
            return open_source(spec, camera_id=camera.id, fps=self.fps, live=True, on_state=on_state, **opts)
        return PacedFileSource(spec, camera_id=camera.id, fps=self.fps, loop=self.loop_files, on_state=on_state)

    def start(self) -> LiveRunner:
        """Load models (fails fast with a clear error), then start the cameras and the outbox."""
        t0 = time.perf_counter()
        if self._models is None:
            plan = thread_plan(self.pool_size)  # K model sets x cores // K threads, OpenCV 1 thread when K > 1
            log.info("live: %s", plan.describe())
            one = plan.apply(self.cfg) if self.pool_size > 1 else self.cfg
            self._models = build_model_pool(one, self.pool_size)
        pool = ModelPool(self._models)
        log.info("live: %d model set(s) loaded in %.1f s", pool.size, time.perf_counter() - t0)
        # what a crashed earlier run left: this run's cameras' open events, unfinished clips, orphan files
        self.store.close_interrupted(source="live", camera_ids=[c.id for c in self.cameras], recorded=False,
                                    site_id=self.cfg.site.id)
        self.store.mark_unfinished_clips_partial()
        self.store.repair_evidence(self.data_dir, site_id=self.cfg.site.id)
        if self.outbox is not None:
            self.outbox.start()
        for cam in self.cameras:
            w = CameraWorker(self.cfg, cam, pool, self.store, self.data_dir, self.feed, self._open, fps=self.fps,
                             max_lag_s=self.max_lag_s, on_frame=self.on_frame, board=self.board)
            self.workers[cam.id] = w.start()
        self.started_at = time.time()
        if self.config_path is not None:  # hand edits, and saves by a `serve` process next to this one
            self.watcher = ConfigWatcher(self.config_path, self._config_changed).start()
        return self

    def _config_changed(self, cfg: SiteConfig) -> None:
        self.reload_zones(cfg)
        for listener in self.config_listeners:
            listener(cfg)

    def reload_zones(self, cfg: SiteConfig) -> list[str]:
        """Give running cameras the zones of `cfg` (after a zone-editor save or a file change);
        the ids of the cameras whose zones changed."""
        changed = []
        with self._reload_lock:
            for cam_id, w in self.workers.items():
                try:
                    new = cfg.camera(cam_id)
                except KeyError:
                    log.warning("camera %s: no longer in the config; it keeps running until a restart", cam_id)
                    continue
                if _zones(new) == _zones(w.camera):
                    continue
                merged = with_new_zones(w.camera, new)
                if merged is None:
                    log.warning("camera %s: its posts changed in the config; restart `counterwatch run` to apply",
                                cam_id)
                    continue
                w.update_zones(merged)
                w.camera = merged  # compared against by the next reload
                changed.append(cam_id)
            if changed:
                self.cameras = [self.workers[c.id].camera if c.id in self.workers else c for c in self.cameras]
                log.info("live: new zones for camera(s) %s", ", ".join(changed))
        return changed
    def worker_restarts(self) -> dict[str, int]:
        """Camera id -> restarts of its worker after an error (counter in /metrics)."""
        return {cid: w.restarts for cid, w in self.workers.items()}

    def health(self) -> list[HealthSnapshot]:
        return [w.health.snapshot() for w in self.workers.values()]

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop every camera (ending events, finishing clips), then flush webhooks. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self.watcher is not None:
            self.watcher.stop()
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
