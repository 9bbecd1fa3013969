"""The per-file task: hash, check the ledger, analyse, record. Runs in a worker process or a Ray task.

Everything it needs travels in a `Job` of plain values (the config as a JSON
dict), so the same function runs under a spawn-context process pool and under
Ray without pickling live objects. Each call opens its own store connection;
SQLite's WAL mode and busy_timeout let the workers write side by side.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.analyze import analyze_file
from pipeline.batch import ledger
from pipeline.core.errors import ConfigError, CounterwatchError, ModelNotFoundError, OutputError
from pipeline.core.fetch import sha256_file
from pipeline.core.memory import limit_malloc_arenas
from pipeline.events.store import EventStore
from pipeline.processor import build_models
from pipeline.settings import SiteConfig
from pipeline.sources.file import video_duration_s

# Errors of the installation, not of the recording: a missing model, a bad config, a full or
# unwritable disk. They are never remembered in the ledger, so the next run tries the file again.
INSTALLATION_ERRORS = (ModelNotFoundError, ConfigError, OutputError)

log = logging.getLogger(__name__)
_SLOT: int | None = None  # this worker process's tqdm line (0 is the overall bar)
_MODELS: dict[str, Any] = {}  # loaded models per config version, reused for every file of this worker


@dataclass(frozen=True)
class Job:
    path: str
    camera_id: str
    start: dt.datetime | None
    config: dict[str, Any]
    config_version: str
    data_dir: str
    db_url: str | None = None
    fps: float | None = None
    progress: bool = True
    retry_failed: bool = False
    threads: int | None = None  # inference threads per worker, so workers x threads fits the cores


@dataclass
class Outcome:
    path: str
    camera_id: str
    status: str  # done | skipped | failed (the recording) | error (the installation: not in the ledger)
    events: int = 0
    video_s: float = 0.0
    wall_s: float = 0.0
    error: str = ""
    note: str = ""


def init_worker(slots: Any) -> None:
    """Process-pool initializer: cap the malloc arenas as `cli.main` does, take a free progress-bar line."""
    global _SLOT
    limit_malloc_arenas()  # a spawned worker starts a fresh interpreter: the parent's cap is not inherited
    try:
        _SLOT = int(slots.get(timeout=5))
    except Exception:  # noqa: BLE001 - no line free: bars just share the last line
        _SLOT = 1


def _position(job: Job) -> bool | int:
    if not job.progress:
        return False
    return _SLOT if _SLOT is not None else True


def _short(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{exc.__class__.__name__}: {msg}" if not isinstance(exc, CounterwatchError) else msg


def analyze_one(job: Job) -> Outcome:
    """Analyse one recording unless the ledger says it is done; never raises for a bad file."""
    path = Path(job.path)
    out = Outcome(path=job.path, camera_id=job.camera_id, status="failed")
    try:
        sha = sha256_file(path)
    except OSError as exc:
        out.error = f"{path}: cannot read recording ({exc.strerror})"
        return out
    try:
        store = EventStore.for_dir(job.data_dir, job.db_url)
    except OutputError as exc:
        out.status, out.error = "error", str(exc)
        return out
    aid: int | None = None
    try:
        prev = ledger.previous(store, sha, job.config_version)
        if prev is not None and (prev.status == "done" or not job.retry_failed):
            out.status = "skipped"
            out.video_s = prev.video_s
            out.note = "already analysed" if prev.status == "done" else f"failed before: {prev.error}"
            out.events = ledger.batch_event_count(store, path)
            return out
        cfg = SiteConfig.model_validate(job.config)
        if job.threads:
            det = cfg.models.detector.with_threads(job.threads)
            cfg = cfg.model_copy(update={"models": cfg.models.model_copy(update={"detector": det})})
        aid = ledger.begin(store, path, sha, job.config_version, job.camera_id)
        t0 = time.perf_counter()
        try:
            res = _run_analysis(path, cfg, job, store)
        except INSTALLATION_ERRORS as exc:
            raise _Installation(str(exc)) from None
        except OSError as exc:  # disk full, permissions: the installation, never the recording
            raise _Installation(f"{job.data_dir}: {exc.strerror or exc}") from None
        except CounterwatchError as exc:
            out.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
            out.error = f"{path}: {_short(exc)}"
            if os.environ.get("COUNTERWATCH_DEBUG"):
                out.error += "\n" + traceback.format_exc()
        else:
            out.video_s = float(getattr(res, "video_s", 0.0) or 0.0)
            err = getattr(res, "error", None)
            if err:
                out.error = err if str(path.name) in str(err) else f"{path}: {err}"
            elif out.video_s <= 0:
                out.error = f"{path}: no frame could be decoded (corrupt or empty recording)"
            else:
                out.error = _truncation(path, out.video_s, job.fps or cfg.analysis.fps)
            evs = list(getattr(res, "events", []) or [])
            out.events = len({e.get("event_id") for e in evs if isinstance(e, dict)}) or len(evs)
        out.wall_s = time.perf_counter() - t0
        out.status = "failed" if out.error else "done"
        ledger.finish(store, aid, out.status, error=out.error, video_s=out.video_s, wall_s=out.wall_s)
        return out
    except (_Installation, *INSTALLATION_ERRORS) as exc:
        out.status, out.error = "error", str(exc)
        if aid is not None:
            try:
                ledger.abandon(store, aid)
            except Exception:  # noqa: BLE001 - the database itself may be the broken part
                log.exception("%s: cannot remove the running ledger row %d", path, aid)
        return out
    finally:
        store.close()


class _Installation(CounterwatchError):
    """An installation error raised out of the analysis (see INSTALLATION_ERRORS)."""


def _truncation(path: Path, video_s: float, fps: float) -> str:
    """An error when decoding stopped well before the duration the container header promises."""
    expected = video_duration_s(path)
    if expected is None or video_s >= expected * 0.95 - max(2.0 / fps, 1.0):
        return ""
    return (f"{path}: truncated: only {video_s:.1f} s of {expected:.1f} s could be decoded "
            f"(events from the readable part are kept)")


def _run_analysis(path: Path, cfg: Any, job: Job, store: Any) -> Any:
    """Call the shared single-file analysis (the same code path as `counterwatch analyze`)."""
    key = f"{job.config_version}/{job.threads}"
    if key not in _MODELS:
        _MODELS.clear()
        _MODELS[key] = build_models(cfg)
    return analyze_file(path, cfg, job.camera_id, Path(job.data_dir), store=store, source="batch",
                        start=job.start, fps=job.fps, progress=_position(job), models=_MODELS[key])
