"""`analyze_file`: one recording through one camera's pipeline into a data folder.

The data folder holds events.jsonl, counterwatch.db and clips/ + snapshots/; the
web server, the report and the batch read the same folder later.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from pipeline.config.models import CameraConfig
from pipeline.core.errors import CounterwatchError, SourceError
from pipeline.core.stages import stage
from pipeline.core.types import Event
from pipeline.events.chain import Made, SinkBase, SinkChain
from pipeline.events.evidence import EvidenceRecorder
from pipeline.events.reconcile import Reconciler, recording_keys
from pipeline.events.sinks import JsonlSink, PresenceRecorder, StoreSink, event_json
from pipeline.events.store import EventStore
from pipeline.processor import CameraPipeline, Models, build_models
from pipeline.rules.base import RULES
from pipeline.settings import SiteConfig
from pipeline.sources import open_source
from pipeline.sources.file import video_duration_s

log = logging.getLogger(__name__)


@dataclass
class AnalyzeResult:
    path: str
    camera_id: str
    video_s: float = 0.0
    wall_s: float = 0.0
    frames: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def x_realtime(self) -> float:
        return self.video_s / self.wall_s if self.wall_s > 0 else 0.0


def recording_start(path: Path, camera: CameraConfig, start: dt.datetime | None = None) -> dt.datetime | None:
    """Wall-clock start of a recording: explicit --start, else the camera's filename pattern, else camera.start."""
    if start is not None:
        return start
    if camera.filename_pattern:
        found = _strptime_in(path.stem, camera.filename_pattern)
        if found is not None:
            return found
        log.warning("camera %s: file name %s does not match filename_pattern %r", camera.id, path.name,
                    camera.filename_pattern)
    return camera.start.replace(tzinfo=None) if camera.start else None


def _strptime_in(stem: str, pattern: str) -> dt.datetime | None:
    """strptime on the whole stem, else on each substring of the right shape (prefixes vary)."""
    try:
        return dt.datetime.strptime(stem, pattern)
    except ValueError:
        pass
    rx = re.escape(pattern)
    for code, sub in (("%Y", r"\d{4}"), ("%m", r"\d{2}"), ("%d", r"\d{2}"), ("%H", r"\d{2}"),
                      ("%M", r"\d{2}"), ("%S", r"\d{2}")):
        rx = rx.replace(re.escape(code), sub)
    m = re.search(rx, stem)
    if m:
        try:
            return dt.datetime.strptime(m.group(0), pattern)
        except ValueError:
            return None
    return None


def default_camera(cfg: SiteConfig, camera_id: str | None) -> CameraConfig:
    if camera_id:
        return cfg.camera(camera_id)
    if cfg.cameras:
        return cfg.cameras[0]
    return CameraConfig(id="cam1")


def analyze_file(path: Path | str, cfg: SiteConfig, camera_id: str | None, out_dir: Path | str, *,
                 store: EventStore | None = None, source: str = "live", start: dt.datetime | None = None,
                 fps: float | None = None, progress: bool | int = True, models: Models | None = None,
                 echo: bool = False) -> AnalyzeResult:
    """Analyse one recording. Errors in the file are returned in `.error`; output errors raise."""
    path, out_dir = Path(path), Path(out_dir)
    camera = default_camera(cfg, camera_id)
    result = AnalyzeResult(path=str(path), camera_id=camera.id)
    own_store = store is None
    store = store or EventStore.for_dir(out_dir)
    models = models or build_models(cfg)
    fps = fps or cfg.analysis.fps
    wall0 = recording_start(path, camera, start)

    def wall_at(t: float) -> dt.datetime | None:
        return None if wall0 is None else wall0 + dt.timedelta(seconds=t)

    # a re-run over the same data folder: close what a crashed run left open, remove its orphan clip
    # files, and reconcile with the stored events of this recording instead of adding them again
    keys = recording_keys(path)
    store.close_interrupted(source=source, recordings=keys, site_id=cfg.site.id)
    reconciler = Reconciler(store, source=source, recordings=keys, site_id=cfg.site.id)
    if reconciler.stored:
        store.repair_evidence(out_dir, event_ids=reconciler.stored_ids, site_id=cfg.site.id)
    presence = PresenceRecorder(store, camera_id=camera.id, site_id=cfg.site.id, source=source,
                                wall_at=wall_at, recording=str(path))
    finished = _Finished(echo=echo)
    chain = SinkChain([StoreSink(store, source=source, recording=str(path)),
                       EvidenceRecorder(out_dir, cfg, camera, store),
                       JsonlSink(out_dir / "events.jsonl"), presence, finished], camera_id=camera.id)
    pipe = CameraPipeline(cfg, camera, models, wall_at=wall_at, fps=fps, references=store)
    presence.settling = pipe.settling  # the vote's first seconds are recorded as unknown
    pipe.identify = reconciler
    t0 = time.perf_counter()
    last_t = 0.0
    try:
        with open_source(str(path), camera_id=camera.id, fps=fps) as src:
            total = int(src.info.duration_s * fps) if src.info.duration_s else None
            bar = tqdm(total=total, desc=path.name[:28], unit="f", disable=progress is False,
                       position=progress if isinstance(progress, int) and progress is not True else None,
                       leave=True, dynamic_ncols=True)
            with bar:
                try:
                    for frame in src:
                        res = pipe.process(frame)
                        with stage("sinks"):
                            chain.frame(frame, res)
                        last_t = frame.timestamp_s
                        result.frames += 1
                        bar.update(1)
                except SourceError as exc:  # a truncated file: keep what was analysed
                    result.error = str(exc)
                    log.debug("%s", exc)
        result.video_s = last_t + (1.0 / fps if result.frames else 0.0)
        if result.error is None:
            result.error = _truncated(path, result.video_s, fps, result.frames)
    except SourceError as exc:
        result.error = str(exc)
    finally:
        chain.close(last_t, pipe.close(last_t))  # the events running at the end, then every sink's close
    # only reached when the analysis ran to its end (a truncated file counts up to where it stopped)
    reconciler.finish(None if result.error is None else last_t)
    if own_store:
        store.close()
    result.wall_s = time.perf_counter() - t0
    result.events = finished.events
    return result


class _Finished(SinkBase):
    """The console end of the chain: prints started events (`--echo`), keeps finished ones for the result."""

    stage = "alerts"

    def __init__(self, echo: bool = False):
        self.echo, self.events = echo, []

    def on_event(self, ev: Event, made: Made) -> None:
        if self.echo and ev.state == "start":
            tqdm.write(f"event {ev.event_id} {ev.rule_id} {ev.article} post={ev.post_id} "
                       f"t={ev.start_s:.1f}s severity={ev.severity}")
        if ev.state == "end":
            self.events.append(event_json(ev, evidence=made.evidence))


def _truncated(path: Path, video_s: float, fps: float, frames: int) -> str | None:
    """An error when decoding stopped well before the duration the container header promises."""
    if path.is_dir():
        return None
    if frames == 0:
        return f"{path}: no frame could be decoded (corrupt or empty recording)"
    expected = video_duration_s(path)
    if expected is None or video_s >= expected * 0.95 - max(2.0 / fps, 1.0):
        return None
    return (f"{path}: truncated: only {video_s:.1f} s of {expected:.1f} s could be decoded "
            f"(events from the readable part are kept)")


def summary_table(events: list[dict[str, Any]]) -> str:
    """Events per rule, as a small text table."""
    counts = Counter(e["rule_id"] for e in events)
    rows = [("rule", "article", "name", "events")]
    for rule_id in sorted(counts):
        cls = RULES.get(rule_id)
        rows.append((rule_id, cls.article if cls else "", f"{cls.name_zh} {cls.name_en}" if cls else "",
                     str(counts[rule_id])))
    if len(rows) == 1:
        rows.append(("(none)", "", "", "0"))
    widths = [max(_w(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c + " " * (widths[i] - _w(c)) for i, c in enumerate(r)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"total: {sum(counts.values())} event(s)")
    return "\n".join(lines)


def _w(s: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in s)


__all__ = ["AnalyzeResult", "analyze_file", "recording_start", "summary_table", "CounterwatchError"]
