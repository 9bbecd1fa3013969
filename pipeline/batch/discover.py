"""Find one day's recordings per camera.

A camera with `filename_pattern` owns the files whose stem parses with that
strptime pattern; the parsed time is the recording's wall-clock start and its
date picks the day. A camera without a pattern owns the files in a folder named
after it (or whose stem starts with its id); their day comes from the file's
modification time, which marks the end of the recording, so the start is the
modification time minus the video's duration.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from pipeline.config.models import CameraConfig
from pipeline.core.errors import SourceError
from pipeline.settings import SiteConfig
from pipeline.sources.file import video_duration_s

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".avi", ".ts", ".m4v", ".flv", ".webm", ".mpg", ".mpeg"})


@dataclass(frozen=True)
class Recording:
    path: Path
    camera_id: str
    start: dt.datetime | None  # local wall-clock time of the first frame


@dataclass
class Discovery:
    recordings: list[Recording]
    unmatched: list[Path]  # video files no camera claimed (for the log)


def parse_start(stem: str, pattern: str) -> dt.datetime | None:
    """Wall-clock start parsed from a file stem, or None when the stem does not fit the pattern."""
    try:
        return dt.datetime.strptime(stem, pattern)
    except ValueError:
        return None


def _owned_without_pattern(path: Path, root: Path, cam: CameraConfig) -> bool:
    rel = path.relative_to(root)
    if cam.id in rel.parts[:-1]:
        return True
    stem = path.stem
    return stem == cam.id or any(stem.startswith(cam.id + sep) for sep in ("_", "-", "."))


def discover(recordings_dir: str | Path, cfg: SiteConfig, day: dt.date) -> Discovery:
    """The day's recordings, sorted by camera and start. Disabled cameras are left out."""
    root = Path(recordings_dir)
    if not root.is_dir():
        raise SourceError(f"{root}: recordings folder not found")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    cams = [c for c in cfg.cameras if c.enabled]
    found: list[Recording] = []
    unmatched: list[Path] = []
    for path in files:
        rec = None
        for cam in cams:
            if cam.filename_pattern:
                start = parse_start(path.stem, cam.filename_pattern)
                if start is not None:
                    rec = Recording(path, cam.id, start) if start.date() == day else None
                    break
            elif _owned_without_pattern(path, root, cam):
                end = dt.datetime.fromtimestamp(path.stat().st_mtime)
                dur = video_duration_s(path)
                start = end - dt.timedelta(seconds=dur) if dur else end
                rec = Recording(path, cam.id, start) if start.date() == day else None
                break
        else:
            unmatched.append(path)
            continue
        if rec is not None:
            found.append(rec)
    found.sort(key=lambda r: (r.camera_id, r.start or dt.datetime.min, str(r.path)))
    return Discovery(found, unmatched)
