"""Recorded video files, sampled at the analysis fps on the container's own clock.

Timestamps come from the container (CAP_PROP_POS_MSEC), not from frame counts,
so variable-frame-rate recordings and dropped frames keep real time. Frames that
fall between sampling instants are only `grab()`ed (demuxed and decoded but not
colour-converted or copied), which makes a 2 fps pass over a 30 fps file cheap.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2

from pipeline.core.errors import SourceError
from pipeline.core.stages import stage
from pipeline.core.types import Frame
from pipeline.sources.base import Sampler, Source, SourceInfo

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mkv", ".mov", ".m4v", ".ts", ".webm", ".flv", ".mpg", ".mpeg"})


class VideoFileSource(Source):
    """A video file read once from start to end.

    A truncated or partly corrupt file yields the frames it has and then stops
    (with a warning); a file with no decodable frame raises SourceError.
    """

    def __init__(self, path: str | os.PathLike[str], *, camera_id: str, fps: float) -> None:
        self.path = Path(path)
        self.camera_id = camera_id
        where = f"camera {camera_id!r}: video file {str(self.path)!r}"
        if not self.path.exists():
            raise SourceError(f"{where} not found")
        if not self.path.is_file():
            raise SourceError(f"{where} is not a file")
        if not os.access(self.path, os.R_OK):
            raise SourceError(f"{where} is not readable (permission denied)")
        if self.path.stat().st_size == 0:
            raise SourceError(f"{where} is empty")
        self._where = where
        self._sampler = Sampler(fps)
        self._cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"{where} cannot be opened as video (not a video, or corrupt/truncated container)")
        width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if width <= 0 or height <= 0:
            self._cap.release()
            raise SourceError(f"{where} has no video stream")
        native = float(self._cap.get(cv2.CAP_PROP_FPS)) or None
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        count_or_none = count if count > 0 else None
        duration = count / native if (native and count > 0) else None
        self.info = SourceInfo("file", str(self.path), width, height, native, duration, count_or_none)
        self._grabbed = 0  # frames demuxed so far
        self._delivered = 0
        self._last_t = -1.0
        self._closed = False
        self._warned_clock = False

    def _timestamp(self) -> float:
        """Container time of the frame just grabbed; falls back to index / native fps if it stalls."""
        t = float(self._cap.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0
        index = self._grabbed - 1
        if index > 0 and t <= self._last_t:
            fallback = index / (self.info.native_fps or 25.0)
            if not self._warned_clock:
                log.warning("%s: container timestamps do not increase; using frame index / fps", self._where)
                self._warned_clock = True
            t = max(fallback, self._last_t + 1e-3)
        self._last_t = t
        return t

    def __next__(self) -> Frame:
        with stage("decode"):
            return self._next()

    def _next(self) -> Frame:
        if self._closed:
            raise StopIteration
        while True:
            if not self._cap.grab():
                self._finish()
                raise StopIteration
            self._grabbed += 1
            t = self._timestamp()
            if not self._sampler.due(t):
                continue
            ok, image = self._cap.retrieve()
            if not ok or image is None:
                log.warning("%s: frame %d could not be decoded; skipped", self._where, self._grabbed - 1)
                continue
            self._sampler.keep(t)
            self._delivered += 1
            return Frame(self.camera_id, self._grabbed - 1, t, image)

    def _finish(self) -> None:
        """End of stream: an error if nothing could be read, a warning if it ended early."""
        expected = self.info.frame_count
        self.close()
        if self._grabbed == 0 or self._delivered == 0:
            raise SourceError(f"{self._where}: no frame could be decoded (corrupt or truncated file)")
        if expected and self._grabbed < 0.95 * expected:
            log.warning("%s ends after %d of %d frames (truncated?)", self._where, self._grabbed, expected)

    @property
    def stats(self) -> dict[str, int]:
        return {"received": self._grabbed, "delivered": self._delivered, "dropped": 0}

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._cap.release()
