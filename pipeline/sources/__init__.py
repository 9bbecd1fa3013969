"""Frame sources: video files, image folders, RTSP/HTTP streams and webcams.

`open_source(spec, camera_id=..., fps=...)` picks the kind from the spec:
  * a directory                    -> ImageFolderSource (timestamps index / fps)
  * an existing file               -> VideoFileSource (container timestamps)
  * rtsp://, rtsps://, rtmp://     -> LiveSource (wall-clock timestamps, reconnect)
  * http://, https://, udp://, srt:// -> LiveSource
  * webcam:N or webcam:/dev/videoN -> LiveSource on a local camera
Every source is an iterator of Frame with `info`, `stats`, `close()` and `with`.
`resolve_source(spec, config_dir(path))` turns a config's `source` into what to open
(relative paths against the config file's folder) and `still_frame(camera, base_dir)`
reads one clean frame (the zone editor's background).
"""

from __future__ import annotations

from pipeline.sources.base import Sampler, Source, SourceInfo
from pipeline.sources.file import VIDEO_EXTENSIONS, VideoFileSource
from pipeline.sources.folder import IMAGE_EXTENSIONS, ImageFolderSource
from pipeline.sources.live import LiveSource, LiveStats
from pipeline.sources.open import is_live_spec, open_source
from pipeline.sources.resolve import config_dir, resolve_source, still_frame

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "ImageFolderSource",
    "LiveSource",
    "LiveStats",
    "Sampler",
    "Source",
    "SourceInfo",
    "VideoFileSource",
    "config_dir",
    "is_live_spec",
    "open_source",
    "resolve_source",
    "still_frame",
]
