"""`open_source`: the kind of source a spec names (see the package docstring), opened for one camera."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pipeline.core.errors import SourceError
from pipeline.sources.base import Source
from pipeline.sources.file import VideoFileSource
from pipeline.sources.folder import ImageFolderSource
from pipeline.sources.live import LiveSource

_STREAM_SCHEMES = {
    "rtsp": "rtsp",
    "rtsps": "rtsp",
    "rtmp": "rtsp",
    "http": "http",
    "https": "http",
    "udp": "http",
    "tcp": "http",
    "srt": "http",
}


def is_live_spec(spec: str) -> bool:
    """True for stream URLs and webcams: sources with wall-clock time and no end."""
    scheme = spec.split("://", 1)[0].lower() if "://" in spec else ""
    return scheme in _STREAM_SCHEMES or spec.lower().startswith("webcam:")


def open_source(
    spec: str | os.PathLike[str], *, camera_id: str, fps: float, live: bool | None = None, **live_options: Any
) -> Source:
    """Open a source for one camera; `live_options` go to LiveSource (on_state, stall_timeout_s, ...).

    `live=None` decides from the spec; a mismatch (live=True on a path, live=False
    on a stream URL) is a SourceError rather than a silent guess.
    """
    spec_s = os.fspath(spec)
    if fps <= 0:
        raise SourceError(f"camera {camera_id!r}: analysis fps must be > 0, but got {fps}")
    if live is None:
        live = is_live_spec(spec_s)
    if live:
        if spec_s.lower().startswith("webcam:"):
            dev = spec_s.split(":", 1)[1].strip()
            if dev.isdigit():
                target: str | int = int(dev)
            elif dev.startswith("/dev/"):
                target = dev
            else:
                raise SourceError(
                    f"camera {camera_id!r}: webcam spec {spec_s!r} must be webcam:N or webcam:/dev/videoN"
                )
            return LiveSource(target, camera_id=camera_id, fps=fps, kind="webcam", **live_options)
        scheme = spec_s.split("://", 1)[0].lower() if "://" in spec_s else ""
        if scheme not in _STREAM_SCHEMES:
            raise SourceError(
                f"camera {camera_id!r}: live source {spec_s!r} is not a stream URL (rtsp://, http://, ...) or webcam:N"
            )
        return LiveSource(
            spec_s,
            camera_id=camera_id,
            fps=fps,
            kind=_STREAM_SCHEMES[scheme],  # type: ignore[arg-type]
            **live_options,
        )
    if live_options:
        raise SourceError(f"camera {camera_id!r}: options {sorted(live_options)} apply to live sources only")
    if "://" in spec_s:
        raise SourceError(
            f"camera {camera_id!r}: {spec_s!r} is a URL; only local files and folders are read as recordings"
        )
    path = Path(spec_s)
    if path.is_dir():
        return ImageFolderSource(path, camera_id=camera_id, fps=fps)
    return VideoFileSource(path, camera_id=camera_id, fps=fps)
