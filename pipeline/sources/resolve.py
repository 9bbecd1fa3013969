"""Where a camera's `source` points, and one clean frame from it.

`resolve_source` is the one place that turns a config's `source` into something to
open: stream URLs and webcams as they are, absolute paths as they are, and a relative
path against the folder of the config file (never the working directory), so
`analyze`, `run` and the web app find the same file from anywhere. A relative path
that lands in the project's sample folder (`sample_videos/`, where `counterwatch
samples fetch` puts the clips) and is missing there is taken from the sample mirror
in COUNTERWATCH_SAMPLES_DIR, as `samples fetch` would copy it.

`still_frame` reads one current frame through the same sources the pipeline uses:
the zone editor draws on it, so it carries no banner, zones or skeletons.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline import samples
from pipeline.core.errors import SourceError
from pipeline.sources.open import is_live_spec, open_source

if TYPE_CHECKING:
    import numpy as np

    from pipeline.config.models import CameraConfig


def config_dir(config_path: str | os.PathLike[str]) -> Path:
    """The folder that relative sources are relative to: the config file's own (through a symlink)."""
    return Path(os.path.realpath(config_path)).parent


def _sample_mirror(path: Path) -> Path | None:
    """The mirrored copy of a sample clip that is missing from the project's sample folder."""

    mirror = os.environ.get("COUNTERWATCH_SAMPLES_DIR")
    if not mirror or path.parent != samples.SAMPLES_DIR.resolve():
        return None
    try:
        entries = samples.manifest()
    except Exception:  # a broken manifest only disables the fallback
        return None
    for s in entries:
        if s.get("file") == path.name and s.get("mirror_path"):
            cand = Path(mirror) / s["mirror_path"]
            return cand if cand.is_file() else None
    return None


def resolve_source(spec: str, base_dir: str | os.PathLike[str] | None) -> str:
    """The source to open for a config's `source` value (see the module docstring).

    `base_dir` is the config file's folder (`config_dir(path)`); None keeps a relative
    path relative to the working directory (a config that came from no file).
    """
    if not spec or is_live_spec(spec):
        return spec
    p = Path(spec).expanduser()
    if p.is_absolute() or base_dir is None:
        return str(p)
    cand = (Path(base_dir) / p).resolve()
    if not cand.exists():
        sample = _sample_mirror(cand)
        if sample is not None:
            return str(sample)
    return str(cand)


def still_frame(camera: CameraConfig, base_dir: str | os.PathLike[str] | None, *, timeout_s: float = 8.0) -> np.ndarray:
    """One clean BGR frame from the camera's source (the first of a file or folder, the
    next of a stream); SourceError names the camera and what could not be read."""
    spec = resolve_source(camera.source, base_dir)
    if not spec:
        raise SourceError(f"camera {camera.id!r} field source: empty (an rtsp:// URL, webcam:N or a video file)")
    if is_live_spec(spec):
        wait = max(1.0, timeout_s)
        src = open_source(
            spec, camera_id=camera.id, fps=1.0, live=True, open_timeout_s=wait, stall_timeout_s=wait, backoff_max_s=wait
        )
        try:
            frame = src.next_frame(timeout_s=wait)
        finally:
            src.close()
        if frame is None:
            raise SourceError(f"camera {camera.id!r}: no frame from {spec} within {wait:.0f} s")
        return frame.image
    if not Path(spec).exists():
        raise SourceError(f"camera {camera.id!r} field source: {spec} does not exist")
    with open_source(spec, camera_id=camera.id, fps=1.0) as src:
        frame = next(iter(src), None)
    if frame is None:
        raise SourceError(f"camera {camera.id!r}: {spec} holds no readable frame")
    return frame.image
