"""Event clips: a short ring buffer of recent frames, streamed into H.264 mp4s.

Memory is bounded by the pre-roll: the buffer holds only the last `pre_roll_s` of
downscaled frames. When an event starts, its clip gets the buffered pre-roll and
then every new frame, piped straight into its own ffmpeg (libx264, yuv420p,
+faststart), so a long event never piles frames up in memory. Overlapping events
read the same buffered frames. The mp4 is written under a temporary name and
renamed when complete, so the review UI never serves half a file.

Output is constant-fps: each stored frame is repeated to cover the time until
the next one, so the clip's duration follows the frame timestamps even when
frames arrive at 2 fps or with gaps.

I/O failures (unwritable folder, full disk, ffmpeg missing) never raise out of
push/start/stop/close: the clip is reported `failed` through `on_clip`, and the
OutputError naming the path is logged and kept in `errors`.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import cv2
import numpy as np

from pipeline.core import private
from pipeline.core.errors import OutputError
from pipeline.core.types import Frame
from pipeline.events.snapshot import blur_regions

log = logging.getLogger(__name__)

ClipStatus = Literal["ready", "partial", "failed"]
ClipCallback = Callable[[str, str, str, float], None]  # (event_id, relpath, status, duration_s)
_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")


def clip_relpath(event_id: str) -> str:
    """Where the clip of an event lives, relative to the evidence folder."""
    return f"clips/{_SAFE_ID.sub('_', event_id)}.mp4"


@dataclass
class _Clip:
    event_id: str
    first_t: float  # clip starts here (event start - pre-roll, or the oldest buffered frame)
    end_t: float | None = None  # stop + post-roll, once stopped
    proc: subprocess.Popen | None = None
    tmp_path: Path | None = None
    stderr: IO[bytes] | None = None
    size: tuple[int, int] | None = None  # (w, h)
    pending: tuple[float, np.ndarray] | None = None  # last frame, written once the next one shows its duration
    clip_start_t: float | None = None  # timestamp of the first frame written
    written: int = 0
    error: OutputError | None = None
    notes: list[str] = field(default_factory=list)


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
        ffmpeg: str | None = None,
        crf: int = 26,
        preset: str = "veryfast",
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
        self.ffmpeg = ffmpeg or shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
        self.crf = int(crf)
        self.preset = preset
        self.errors: list[OutputError] = []
        self._buffer: deque[tuple[float, np.ndarray]] = deque()
        self._last_stored_t: float | None = None
        self._clips: dict[str, _Clip] = {}
        self._done: deque[str] = deque(maxlen=256)  # recently finished ids, so a late stop() is quiet
        self._lock = threading.RLock()
        self._size: tuple[int, int] | None = None

    # ---- frames -------------------------------------------------------------------------

    def push(self, frame: Frame, blur_boxes: Iterable[Sequence[float]] = ()) -> None:
        """Offer one analysed frame; kept at clip_fps, downscaled, with `blur_boxes` (customers) blurred."""
        t = frame.timestamp_s
        with self._lock:
            if self._last_stored_t is not None and t < self._last_stored_t + 0.999 / self.clip_fps:
                if t >= self._last_stored_t:
                    self._finish_due(t)
                return
            image = self._downscale(frame.image, blur_boxes)
            self._last_stored_t = t
            self._buffer.append((t, image))
            busy = [c for c in self._clips.values() if c.error is None]
            for clip in busy:
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
            out = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        if boxes:
            sx, sy = size[0] / w, size[1] / h
            blur_regions(out, [(b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy) for b in boxes])
        return out

    # ---- events -------------------------------------------------------------------------

    def start(self, event_id: str, t: float) -> None:
        """Begin a clip for an event that started at t (media or epoch seconds, as the frames)."""
        with self._lock:
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

    def close(self) -> None:
        """Finish every pending clip: ready if its post-roll is complete, else partial."""
        with self._lock:
            for clip in list(self._clips.values()):
                done = clip.end_t is not None and self._last_stored_t is not None and self._last_stored_t >= clip.end_t
                self._finalize(clip, "ready" if done else "partial")
            self._buffer.clear()

    @property
    def active(self) -> list[str]:
        return list(self._clips)

    def __enter__(self) -> ClipRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writing ------------------------------------------------------------------------

    def _finish_due(self, t: float) -> None:
        for clip in list(self._clips.values()):
            if clip.end_t is not None and t >= clip.end_t - 1e-6:
                self._finalize(clip, "ready")
            elif clip.error is None and clip.clip_start_t is not None and t - clip.clip_start_t >= self.max_clip_s:
                clip.notes.append(f"capped at {self.max_clip_s:g} s")
                self._finalize(clip, "ready")

    def _paths(self, clip: _Clip) -> tuple[str, Path]:
        rel = clip_relpath(clip.event_id)
        return rel, self.evidence_dir / rel

    def _open(self, clip: _Clip, image: np.ndarray) -> None:
        rel, final = self._paths(clip)
        h, w = image.shape[:2]
        try:
            private.make_dir(final.parent)  # 0700
            fd, tmp = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=".part.mp4", dir=final.parent)
            os.close(fd)
        except OSError as e:
            raise OutputError(f"camera {self.camera_id!r}: cannot write clip {str(final)!r}: {e.strerror or e}") from e
        clip.tmp_path = Path(tmp)
        clip.size = (w, h)
        clip.stderr = tempfile.TemporaryFile()
        cmd = [
            self.ffmpeg,
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "bgr24",
            "-s",
            f"{w}x{h}",
            "-r",
            f"{self.clip_fps:g}",
            "-i",
            "-",
            "-an",
            "-c:v",
            "libx264",
            "-preset",
            self.preset,
            "-crf",
            str(self.crf),
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            str(clip.tmp_path),
        ]
        try:
            clip.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=clip.stderr)
        except OSError as e:
            raise OutputError(
                f"camera {self.camera_id!r}: cannot start {self.ffmpeg!r} for clip {str(final)!r}: {e.strerror or e}"
            ) from e

    def _write(self, clip: _Clip, image: np.ndarray, times: int) -> None:
        if clip.size is not None and (image.shape[1], image.shape[0]) != clip.size:
            image = cv2.resize(image, clip.size, interpolation=cv2.INTER_AREA)
        data = np.ascontiguousarray(image).tobytes()
        assert clip.proc is not None and clip.proc.stdin is not None
        try:
            for _ in range(times):
                clip.proc.stdin.write(data)
        except (BrokenPipeError, OSError) as e:
            _, final = self._paths(clip)
            raise OutputError(
                f"camera {self.camera_id!r}: writing clip {str(final)!r} failed ({self._ffmpeg_error(clip) or e})"
            ) from e
        clip.written += times

    def _feed(self, clip: _Clip, t: float, image: np.ndarray) -> None:
        """Write the previous frame repeated until t (constant fps), then hold this one."""
        if clip.error is not None:
            return
        try:
            if clip.proc is None:
                self._open(clip, image)
                clip.clip_start_t = t
            if clip.pending is not None:
                target = round((t - clip.clip_start_t) * self.clip_fps)
                self._write(clip, clip.pending[1], max(0, target - clip.written))
            clip.pending = (t, image)
        except OutputError as e:
            self._fail(clip, e)

    def _fail(self, clip: _Clip, error: OutputError) -> None:
        clip.error = error
        self.errors.append(error)
        log.error("%s", error)

    def _ffmpeg_error(self, clip: _Clip) -> str:
        if clip.stderr is None:
            return ""
        clip.stderr.seek(0)
        lines = clip.stderr.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else ""

    def _finalize(self, clip: _Clip, status: ClipStatus) -> None:
        """Flush the last frame, close ffmpeg, rename atomically, report."""
        self._clips.pop(clip.event_id, None)
        self._done.append(clip.event_id)
        rel, final = self._paths(clip)
        duration = 0.0
        if clip.error is None and clip.proc is None:
            clip.error = OutputError(f"camera {self.camera_id!r}: clip {str(final)!r} has no frames")
            self._fail(clip, clip.error)
        if clip.error is None and clip.pending is not None:
            try:
                self._write(clip, clip.pending[1], 1)
            except OutputError as e:
                self._fail(clip, e)
        if clip.proc is not None:
            try:
                if clip.proc.stdin:
                    clip.proc.stdin.close()
            except OSError:
                pass
            try:
                rc = clip.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                clip.proc.kill()
                rc = clip.proc.wait()
            if rc != 0 and clip.error is None:
                self._fail(
                    clip,
                    OutputError(
                        f"camera {self.camera_id!r}: ffmpeg failed on clip {str(final)!r}: "
                        f"{self._ffmpeg_error(clip) or f'exit code {rc}'}"
                    ),
                )
        if clip.error is None and clip.tmp_path is not None:
            try:
                os.replace(clip.tmp_path, final)
                duration = clip.written / self.clip_fps
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
        if clip.stderr is not None:
            clip.stderr.close()
        if self.on_clip is not None:
            try:
                self.on_clip(clip.event_id, rel, status, duration)
            except Exception:  # a failing listener must not stop the other clips
                log.exception("camera %r: on_clip callback failed for %s", self.camera_id, clip.event_id)
