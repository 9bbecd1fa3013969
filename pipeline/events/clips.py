"""Event clips: a short ring buffer of recent frames, encoded into H.264 mp4s off the hot path.

Memory is bounded by the pre-roll: the buffer holds only the last `pre_roll_s` of
downscaled frames. When an event starts, its clip gets the buffered pre-roll and
then every new frame. Encoding runs on the recorder's writer thread through PyAV
(libx264, yuv420p, +faststart), so neither a frame nor the closing of a clip waits
for the encoder on the analysis thread; a long event never piles frames up in
memory, and overlapping events read the same buffered frames. The mp4 is written
under a temporary name and renamed when complete, so the review UI never serves
half a file.

Timestamps are variable-rate: each frame carries its own time (millisecond time
base), so a clip's duration follows the frame timestamps at 2 fps or with gaps
without repeating frames.

Results reach `on_clip` on the caller's thread (from push/start/stop/flush/close),
never from the writer thread, so listeners need no locking. If the writer falls
behind by `queue_frames`, new frames for its clips are dropped (and noted) rather
than blocking analysis. I/O failures (unwritable folder, full disk, no encoder)
never raise out of push/start/stop/close: the clip is reported `failed` through
`on_clip`, and the OutputError naming the path is logged and kept in `errors`.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import numpy as np

from pipeline.core import private
from pipeline.core.errors import OutputError
from pipeline.core.resize import shrink
from pipeline.core.types import Frame
from pipeline.events.snapshot import blur_regions

log = logging.getLogger(__name__)

ClipStatus = Literal["ready", "partial", "failed"]
ClipCallback = Callable[[str, str, str, float], None]  # (event_id, relpath, status, duration_s)
_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")
_TIME_BASE = Fraction(1, 1000)  # clip timestamps in milliseconds


def clip_relpath(event_id: str) -> str:
    """Where the clip of an event lives, relative to the evidence folder."""
    return f"clips/{_SAFE_ID.sub('_', event_id)}.mp4"


class _Encoder:
    """One mp4 being written by PyAV (writer thread only)."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float, codec: str, crf: int, preset: str):
        self.container = av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"})
        try:
            self.stream = self.container.add_stream(codec, rate=Fraction(round(fps * 1000), 1000))
            self.stream.width, self.stream.height = size
            self.stream.pix_fmt = "yuv420p"
            self.stream.time_base = _TIME_BASE
            self.stream.codec_context.time_base = _TIME_BASE
            # one encoder thread and no lookahead: a clip per event costs a few frames of memory, not dozens
            self.stream.codec_context.thread_count = 1
            self.stream.options = {"crf": str(crf), "preset": preset, "tune": "zerolatency"}
        except BaseException:
            self.container.close()
            raise
        self.last_pts = -1

    def write(self, image: np.ndarray, pts_ms: int) -> None:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        frame.pts = max(int(pts_ms), self.last_pts + 1)
        frame.time_base = _TIME_BASE
        self.last_pts = frame.pts
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self, flush: bool = True) -> None:
        try:
            if flush:
                for packet in self.stream.encode(None):
                    self.container.mux(packet)
        finally:
            self.container.close()


@dataclass
class _Clip:
    event_id: str
    first_t: float  # clip starts here (event start - pre-roll, or the oldest buffered frame)
    end_t: float | None = None  # stop + post-roll, once stopped
    # written by the writer thread only:
    encoder: _Encoder | None = None
    tmp_path: Path | None = None
    size: tuple[int, int] | None = None  # (w, h)
    clip_start_t: float | None = None  # timestamp of the first frame written
    last_t: float | None = None  # timestamp of the last frame written
    written: int = 0
    error: OutputError | None = None
    notes: list[str] = field(default_factory=list)
    # analysis thread:
    queued_start_t: float | None = None  # timestamp of the first frame handed to the writer
    dropped: int = 0


class ClipRecorder:
    """One camera's clip writer. Call push() for every analysed frame, start/stop per event."""

    def __init__(
        self,
        camera_id: str,
        evidence_dir: str | os.PathLike[str],
        *,
        pre_roll_s: float = 5.0,
        post_roll_s: float = 5.0,
        clip_fps: float = 6.0,
        clip_max_width: int = 854,
        max_clip_s: float = 600.0,
        on_clip: ClipCallback | None = None,
        codec: str = "libx264",
        crf: int = 26,
        preset: str = "veryfast",
        queue_frames: int = 512,
    ) -> None:
        if pre_roll_s < 0 or post_roll_s < 0:
            raise ValueError(f"camera {camera_id!r}: pre_roll_s and post_roll_s must be >= 0")
        if clip_fps <= 0 or clip_max_width < 16:
            raise ValueError(f"camera {camera_id!r}: clip_fps must be > 0 and clip_max_width >= 16")
        self.camera_id = camera_id
        self.evidence_dir = Path(evidence_dir)
        self.pre_roll_s = float(pre_roll_s)
        self.post_roll_s = float(post_roll_s)
        self.clip_fps = float(clip_fps)
        self.clip_max_width = int(clip_max_width)
        self.max_clip_s = float(max_clip_s)
        self.on_clip = on_clip
        self.codec = codec
        self.crf = int(crf)
        self.preset = preset
        self.errors: list[OutputError] = []
        self._buffer: deque[tuple[float, np.ndarray]] = deque()
        self._last_stored_t: float | None = None
        self._clips: dict[str, _Clip] = {}
        self._done: deque[str] = deque(maxlen=256)  # recently finished ids, so a late stop() is quiet
        self._lock = threading.RLock()
        self._size: tuple[int, int] | None = None
        self._jobs: queue.Queue[tuple[str, _Clip, Any] | None] = queue.Queue(maxsize=max(1, int(queue_frames)))
        self._results: deque[tuple[str, str, str, float]] = deque()  # finished clips, for on_clip
        self._writer: threading.Thread | None = None

    # ---- frames -------------------------------------------------------------------------

    def push(self, frame: Frame, blur_boxes: Iterable[Sequence[float]] = ()) -> None:
        """Offer one analysed frame; kept at clip_fps, downscaled, with `blur_boxes` (customers) blurred."""
        t = frame.timestamp_s
        with self._lock:
            self._deliver()
            if self._last_stored_t is not None and t < self._last_stored_t + 0.999 / self.clip_fps:
                if t >= self._last_stored_t:
                    self._finish_due(t)
                return
            image = self._downscale(frame.image, blur_boxes)
            self._last_stored_t = t
            self._buffer.append((t, image))
            for clip in list(self._clips.values()):
                if clip.end_t is None or t <= clip.end_t + 1e-6:
                    self._feed(clip, t, image)
            self._finish_due(t)
            horizon = t - self.pre_roll_s
            while self._buffer and self._buffer[0][0] < horizon:
                self._buffer.popleft()

    def _downscale(self, image: np.ndarray, blur_boxes: Iterable[Sequence[float]]) -> np.ndarray:
        h, w = image.shape[:2]
        if self._size is None:
            scale = min(1.0, self.clip_max_width / w)
            self._size = (max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2))
        size = self._size
        boxes = list(blur_boxes)
        if size == (w, h):
            out = image.copy()
        else:
            out = shrink(image, size)
        if boxes:
            sx, sy = size[0] / w, size[1] / h
            blur_regions(out, [(b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy) for b in boxes])
        return out

    # ---- events -------------------------------------------------------------------------

    def start(self, event_id: str, t: float) -> None:
        """Begin a clip for an event that started at t (media or epoch seconds, as the frames)."""
        with self._lock:
            self._deliver()
            if event_id in self._clips:
                return
            clip = _Clip(event_id, first_t=t - self.pre_roll_s)
            self._clips[event_id] = clip
            for bt, image in self._buffer:
                if bt >= clip.first_t - 1e-6:
                    self._feed(clip, bt, image)

    def stop(self, event_id: str, t: float) -> None:
        """The event ended at t; the clip closes once frames up to t + post_roll_s have arrived."""
        with self._lock:
            self._deliver()
            clip = self._clips.get(event_id)
            if clip is None:
                if event_id in self._done:
                    return
                log.warning("camera %r: clip stop for unknown event %s", self.camera_id, event_id)
                return
            if clip.end_t is None:
                clip.end_t = t + self.post_roll_s
            if self._last_stored_t is not None:
                self._finish_due(self._last_stored_t)

    def flush(self, timeout_s: float | None = None) -> None:
        """Wait until the writer has written what it was handed, and report finished clips."""
        with self._lock:
            if self._writer is not None:
                self._wait(timeout_s)
            self._deliver()

    def close(self) -> None:
        """Finish every pending clip (ready if its post-roll is complete, else partial) and stop the writer."""
        with self._lock:
            for clip in list(self._clips.values()):
                done = clip.end_t is not None and self._last_stored_t is not None and self._last_stored_t >= clip.end_t
                self._finish(clip, "ready" if done else "partial")
            self._buffer.clear()
            if self._writer is not None:
                self._jobs.put(None)
                self._writer.join()
                self._writer = None
            self._deliver()

    @property
    def active(self) -> list[str]:
        return list(self._clips)

    def __enter__(self) -> ClipRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- analysis thread: hand work to the writer ---------------------------------------

    def _finish_due(self, t: float) -> None:
        for clip in list(self._clips.values()):
            if clip.end_t is not None and t >= clip.end_t - 1e-6:
                self._finish(clip, "ready")
            elif clip.queued_start_t is not None and t - clip.queued_start_t >= self.max_clip_s:
                clip.notes.append(f"capped at {self.max_clip_s:g} s")
                self._finish(clip, "ready")

    def _feed(self, clip: _Clip, t: float, image: np.ndarray) -> None:
        if clip.queued_start_t is None:
            clip.queued_start_t = t
        self._submit("frame", clip, (t, image), block=False)

    def _finish(self, clip: _Clip, status: ClipStatus) -> None:
        self._clips.pop(clip.event_id, None)
        self._done.append(clip.event_id)
        if clip.dropped:
            clip.notes.append(f"{clip.dropped} frames dropped (writer behind)")
            log.warning("camera %r: clip %s: %d frames dropped, the writer fell behind",
                        self.camera_id, clip.event_id, clip.dropped)
        self._submit("finish", clip, status, block=True)

    def _submit(self, kind: str, clip: _Clip, arg: Any, block: bool) -> None:
        if self._writer is None:
            self._writer = threading.Thread(target=self._run, name=f"clips-{self.camera_id}", daemon=True)
            self._writer.start()
        try:
            self._jobs.put((kind, clip, arg), block=block)
        except queue.Full:  # only frames are offered without waiting: a gap in a variable-rate clip
            clip.dropped += 1

    def _wait(self, timeout_s: float | None) -> None:
        done = threading.Event()
        self._jobs.put(("mark", _Clip("", 0.0), done))
        if not done.wait(timeout_s):
            log.warning("camera %r: clip writer still busy after %s s", self.camera_id, timeout_s)

    def _deliver(self) -> None:
        while self._results:
            event_id, rel, status, duration = self._results.popleft()
            if self.on_clip is None:
                continue
            try:
                self.on_clip(event_id, rel, status, duration)
            except Exception:  # a failing listener must not stop the other clips
                log.exception("camera %r: on_clip callback failed for %s", self.camera_id, event_id)

    # ---- writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            kind, clip, arg = job
            try:
                if kind == "frame":
                    self._write(clip, *arg)
                elif kind == "finish":
                    self._finalize(clip, arg)
                else:
                    arg.set()
            except Exception as e:  # the writer must outlive any one clip
                self._fail(clip, OutputError(f"camera {self.camera_id!r}: clip {clip.event_id!r}: {e}"))

    def _paths(self, clip: _Clip) -> tuple[str, Path]:
        rel = clip_relpath(clip.event_id)
        return rel, self.evidence_dir / rel

    def _open(self, clip: _Clip, image: np.ndarray) -> None:
        _, final = self._paths(clip)
        h, w = image.shape[:2]
        try:
            private.make_dir(final.parent)  # 0700
            fd, tmp = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=".part.mp4", dir=final.parent)
            os.close(fd)
        except OSError as e:
            raise OutputError(f"camera {self.camera_id!r}: cannot write clip {str(final)!r}: {e.strerror or e}") from e
        clip.tmp_path = Path(tmp)
        clip.size = (w, h)
        try:
            clip.encoder = _Encoder(clip.tmp_path, clip.size, self.clip_fps, self.codec, self.crf, self.preset)
        except Exception as e:
            raise OutputError(
                f"camera {self.camera_id!r}: cannot start the {self.codec!r} encoder for clip {str(final)!r}: {e}"
            ) from e

    def _write(self, clip: _Clip, t: float, image: np.ndarray) -> None:
        if clip.error is not None:
            return
        try:
            if clip.encoder is None:
                self._open(clip, image)
                clip.clip_start_t = t
            assert clip.encoder is not None and clip.size is not None and clip.clip_start_t is not None
            if (image.shape[1], image.shape[0]) != clip.size:
                image = shrink(image, clip.size)
            try:
                clip.encoder.write(image, round((t - clip.clip_start_t) * 1000))
            except Exception as e:
                _, final = self._paths(clip)
                raise OutputError(f"camera {self.camera_id!r}: writing clip {str(final)!r} failed ({e})") from e
            clip.last_t = t
            clip.written += 1
        except OutputError as e:
            self._fail(clip, e)

    def _fail(self, clip: _Clip, error: OutputError) -> None:
        if clip.error is None:
            clip.error = error
            self.errors.append(error)
            log.error("%s", error)

    def _finalize(self, clip: _Clip, status: ClipStatus) -> None:
        """Flush the encoder, rename atomically, queue the result for on_clip."""
        rel, final = self._paths(clip)
        duration = 0.0
        if clip.error is None and clip.encoder is None:
            self._fail(clip, OutputError(f"camera {self.camera_id!r}: clip {str(final)!r} has no frames"))
        if clip.encoder is not None:
            try:
                clip.encoder.close(flush=clip.error is None)
            except Exception as e:
                self._fail(clip, OutputError(f"camera {self.camera_id!r}: finishing clip {str(final)!r} failed ({e})"))
        if clip.error is None and clip.tmp_path is not None:
            try:
                os.replace(clip.tmp_path, final)
                assert clip.clip_start_t is not None and clip.last_t is not None
                duration = clip.last_t - clip.clip_start_t + 1.0 / self.clip_fps
            except OSError as e:
                self._fail(
                    clip,
                    OutputError(f"camera {self.camera_id!r}: cannot move clip into {str(final)!r}: {e.strerror or e}"),
                )
        if clip.error is not None:
            status = "failed"
            if clip.tmp_path is not None and clip.tmp_path.exists():
                try:
                    clip.tmp_path.unlink()
                except OSError:
                    pass
        self._results.append((clip.event_id, rel, status, duration))
