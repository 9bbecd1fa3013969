"""Recorded video files, sampled at the analysis fps on the container's own clock.

Timestamps come from the container, not from frame counts, so variable-frame-rate
recordings and dropped frames keep real time.

`VideoFileSource` decodes with PyAV (FFmpeg) and decodes only what it needs: while
the next sampling instant is more than a few frames away the decoder skips
non-reference frames (`skip_frame=NONREF`: B-frames nothing else is predicted
from), and near the instant it decodes every frame, so the kept frame is exactly
the first frame at or after the instant, as a full decode would give it. When the
sampling period is longer than `seek_min_s` (sparse sampling), it seeks to the
keyframe before the next instant instead of decoding the frames in between. Only
kept frames are converted to BGR. Without PyAV, `OpenCVFileSource` (grab every
frame, retrieve the kept ones) is used.
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


class OpenCVFileSource(Source):
    """A video file read once from start to end (OpenCV: every frame is demuxed and decoded).

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


class PyAVFileSource(Source):
    """A video file read once from start to end with PyAV, decoding only what sampling needs.

    A truncated or partly corrupt file yields the frames it has and then stops
    (with a warning); a file with no decodable frame raises SourceError.
    """

    def __init__(self, path: str | os.PathLike[str], *, camera_id: str, fps: float, seek_min_s: float = 2.0) -> None:
        import av

        self.path = Path(path)
        self.camera_id = camera_id
        where = f"camera {camera_id!r}: video file {str(self.path)!r}"
        _check_file(self.path, where)
        self._where = where
        self._sampler = Sampler(fps)
        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
            raise SourceError(f"{where} cannot be opened as video (not a video, or corrupt/truncated container: "
                              f"{type(exc).__name__})") from None
        if not self._container.streams.video:
            self._container.close()
            raise SourceError(f"{where} has no video stream")
        st = self._container.streams.video[0]
        self._stream = st
        ctx = st.codec_context
        width, height = int(ctx.width or 0), int(ctx.height or 0)
        if width <= 0 or height <= 0:
            self._container.close()
            raise SourceError(f"{where} has no video stream")
        rate = st.average_rate or st.guessed_rate
        native = float(rate) if rate else None
        tb = st.time_base
        duration = float(st.duration * tb) if st.duration and tb else (
            self._container.duration / 1e6 if self._container.duration else None)
        count = int(st.frames) if st.frames else (int(round(duration * native)) if duration and native else None)
        self.info = SourceInfo("file", str(self.path), width, height, native, duration, count)
        self._period = 1.0 / fps
        self._seek = self._period >= seek_min_s
        # frames shown this close before a sampling instant are always decoded (timestamp rounding)
        self._near_s = 1.5 / (native or 25.0)
        self._t0 = float(st.start_time * tb) if st.start_time is not None and tb else 0.0
        self._frames = self._decode()
        self._received = 0
        self._delivered = 0
        self._skipping = False
        self._last_t = -1.0
        self._seek_from: float | None = None
        self._sought = False
        self._closed = False

    def _set_skip(self, skip: bool) -> None:
        if skip != self._skipping:
            self._stream.codec_context.skip_frame = "NONREF" if skip else "DEFAULT"
            self._skipping = skip

    def _decode(self):
        import av

        tb = self._stream.time_base
        try:
            for packet in self._container.demux(self._stream):
                if packet.size:
                    self._received += 1
                    # A packet shown well before the next sampling instant can never be kept (the sampler
                    # only moves forward), so the decoder may skip it unless other frames refer to it.
                    nxt = self._sampler.next_s
                    self._set_skip(packet.pts is not None and nxt is not None
                                   and float(packet.pts * tb) - self._t0 < nxt - self._near_s)
                yield from packet.decode()
        except av.error.EOFError:
            return
        except av.error.FFmpegError as exc:
            if self._delivered == 0 and self._received <= 1:
                raise SourceError(f"{self._where}: no frame could be decoded ({type(exc).__name__})") from None
            log.warning("%s: decoding stopped after %d frames (%s; truncated or corrupt?)", self._where,
                        self._received, type(exc).__name__)

    def _time(self, frame) -> float:
        if frame.pts is None or frame.time is None:
            t = self._last_t + (1.0 / (self.info.native_fps or 25.0))
        else:
            t = float(frame.time) - self._t0
        if t <= self._last_t:
            t = self._last_t + 1e-3
        self._last_t = t
        return t

    def __next__(self) -> Frame:
        with stage("decode"):
            return self._next()

    def _next(self) -> Frame:
        if self._closed:
            raise StopIteration
        for frame in self._frames:
            t = self._time(frame)
            if self._seek_from is not None:
                if t <= self._seek_from:  # keyframes are further apart than the sampling period: read through
                    self._seek = False
                self._seek_from = None
            if not self._sampler.due(t):
                continue
            self._sampler.keep(t)
            self._delivered += 1
            image = frame.to_ndarray(format="bgr24")
            index = int(round(t * self.info.native_fps)) if self.info.native_fps else self._delivered - 1
            nxt = self._sampler.next_s
            if self._seek and nxt is not None:
                self._seek_to(nxt)
            return Frame(self.camera_id, index, t, image)
        self._finish()
        raise StopIteration

    def _seek_to(self, t: float) -> None:
        """Jump to the keyframe at or before t (sparse sampling)."""
        st = self._stream
        try:
            self._container.seek(int((t + self._t0) / st.time_base), stream=st, backward=True, any_frame=False)
        except Exception as exc:  # an unseekable file is decoded straight through
            log.debug("%s: seek failed (%s); decoding through", self._where, exc)
            self._seek = False
            return
        self._set_skip(False)
        self._seek_from, self._last_t = self._last_t, -1.0
        self._sought = True
        self._frames = self._decode()

    def _finish(self) -> None:
        expected = self.info.frame_count
        self.close()
        if self._delivered == 0:
            raise SourceError(f"{self._where}: no frame could be decoded (corrupt or truncated file)")
        if expected and not self._sought and self._received < 0.95 * expected:
            log.warning("%s ends after %d of %d frames (truncated?)", self._where, self._received, expected)

    @property
    def stats(self) -> dict[str, int]:
        return {"received": self._received, "delivered": self._delivered, "dropped": 0}

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._container.close()


def _check_file(path: Path, where: str) -> None:
    if not path.exists():
        raise SourceError(f"{where} not found")
    if not path.is_file():
        raise SourceError(f"{where} is not a file")
    if not os.access(path, os.R_OK):
        raise SourceError(f"{where} is not readable (permission denied)")
    if path.stat().st_size == 0:
        raise SourceError(f"{where} is empty")


try:
    import av as _av  # noqa: F401

    VideoFileSource: type[Source] = PyAVFileSource
except ImportError:  # PyAV missing: every frame is decoded, kept frames retrieved
    VideoFileSource = OpenCVFileSource


def video_duration_s(path: Path) -> float | None:
    """Duration from the container header (frame count / fps); None when unreadable."""
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            return None
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        n = cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0
        return float(n / fps) if fps > 0 and n > 0 else None
    finally:
        cap.release()
