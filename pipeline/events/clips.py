"""Event clips: a short ring buffer of recent frames, encoded into H.264 mp4s off the hot path.

Memory is bounded by the pre-roll: the buffer holds only the last `pre_roll_s` of
downscaled frames. A frame leaves the buffer once it is older than the pre-roll; by
then every clip that will ever want it has started (a clip starts at its event's
start minus the pre-roll), so it is encoded **once**, whatever the number of clips
it belongs to, and its packets are copied into each of those clips' mp4s.
Overlapping events (several staff, or a post and its duty) share one encode per
frame. A clip's first frame is encoded as an IDR frame, so every clip starts on a
keyframe. A clip is complete once its last frame (event end plus post-roll) has
left the buffer, that is `pre_roll_s` after the post-roll ends; `close()` writes
out what is left.

Encoding runs on the recorder's writer thread through PyAV (libx264, yuv420p, no
lookahead, +faststart), so neither a frame nor the closing of a clip waits for the
encoder on the analysis thread; a long event never piles frames up in memory. The
mp4 is written under a temporary name and renamed when complete, so the review UI
never serves half a file.

Timestamps are variable-rate: each frame carries its own time (millisecond time
base), so a clip's duration follows the frame timestamps at 2 fps or with gaps
without repeating frames.

Results reach `on_clip` on the caller's thread (from push/start/stop/flush/close),
never from the writer thread, so listeners need no locking. If the writer falls
behind by `queue_frames`, new frames are dropped (and noted in their clips) rather
than blocking analysis. I/O failures (unwritable folder, full disk, no encoder)
never raise out of push/start/stop/close: the clip is reported `failed` through
`on_clip`, and the OutputError naming the path is logged and kept in `errors`.
"""

from __future__ import annotations

import contextlib
import io
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

from pipeline.core import private, stages
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
    """The camera's one H.264 encoder (writer thread only): frames in, packets out, nothing written.

    Its stream sits in an in-memory container that is never muxed into; the container only
    gives the stream its codec parameters (the avcC header), which every clip's mp4 copies.
    """

    def __init__(self, size: tuple[int, int], fps: float, codec: str, crf: int, preset: str):
        self._sink = av.open(io.BytesIO(), mode="w", format="mp4")
        try:
            self.stream = self._sink.add_stream(codec, rate=Fraction(round(fps * 1000), 1000))
            self.stream.width, self.stream.height = size
            self.stream.pix_fmt = "yuv420p"
            self.stream.time_base = _TIME_BASE
            self.stream.codec_context.time_base = _TIME_BASE
            # one encoder thread and no lookahead: each frame comes out as one packet at once
            self.stream.codec_context.thread_count = 1
            self.stream.options = {"crf": str(crf), "preset": preset, "tune": "zerolatency", "forced-idr": "1"}
            self._sink.start_encoding()  # opens the encoder: the stream's parameters are now complete
        except BaseException:
            self._sink.close()
            raise
        self.last_pts = -1

    def encode(self, image: np.ndarray, pts_ms: int, key: bool) -> list[av.Packet]:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        frame.pts = max(int(pts_ms), self.last_pts + 1)
        frame.time_base = _TIME_BASE
        if key:
            frame.pict_type = av.video.frame.PictureType.I
        self.last_pts = frame.pts
        return list(self.stream.encode(frame))

    def close(self) -> None:
        try:
            self.stream.encode(None)
        finally:
            self._sink.close()


class _ClipFile:
    """One clip's mp4 (writer thread only): the shared encoder's packets, timestamps from the clip's start."""

    def __init__(self, path: Path, template: Any):
        self.container = av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"})
        try:
            self.stream = self.container.add_stream_from_template(template)
            self.stream.time_base = _TIME_BASE
        except BaseException:
            self.container.close()
            raise
        self.first_pts: int | None = None

    def mux(self, packet: av.Packet) -> None:
        if self.first_pts is None:
            self.first_pts = int(packet.pts)
        out = av.Packet(bytes(packet))
        out.pts = int(packet.pts) - self.first_pts
        out.dts = (int(packet.dts) if packet.dts is not None else int(packet.pts)) - self.first_pts
        out.time_base = _TIME_BASE
        out.is_keyframe = packet.is_keyframe
        out.stream = self.stream
        self.container.mux(out)

    def close(self) -> None:
        self.container.close()


@dataclass
class _Clip:
    event_id: str
    first_t: float  # clip starts here (event start - pre-roll, or the oldest buffered frame)
    end_t: float | None = None  # stop + post-roll, once stopped
    # written by the writer thread only:
    file: _ClipFile | None = None
    tmp_path: Path | None = None
    clip_start_t: float | None = None  # timestamp of the first frame written
    last_t: float | None = None  # timestamp of the last frame written
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
        self.encoded = 0  # frames the writer encoded (each once, however many clips it went into)
        self._buffer: deque[tuple[float, np.ndarray]] = deque()
        self._last_stored_t: float | None = None
        self._clips: dict[str, _Clip] = {}
        self._done: deque[str] = deque(maxlen=256)  # recently finished ids, so a late stop() is quiet
        self._lock = threading.RLock()
        self._size: tuple[int, int] | None = None
        self._jobs: queue.Queue[tuple[str, Any, Any] | None] = queue.Queue(maxsize=max(1, int(queue_frames)))
        self._results: deque[tuple[str, str, str, float]] = deque()  # finished clips, for on_clip
        self._writer: threading.Thread | None = None
        self._encoder: _Encoder | None = None  # writer thread only
        self._clock = stages.current()  # the bench's stage clock, if one is active where the recorder is made

    # ---- frames -------------------------------------------------------------------------

    def push(self, frame: Frame, blur_boxes: Iterable[Sequence[float]] = ()) -> None:
        """Offer one analysed frame; kept at clip_fps, downscaled, with `blur_boxes` (customers) blurred."""
        t = frame.timestamp_s
        with self._lock:
            self._deliver()
            if self._last_stored_t is not None and t < self._last_stored_t + 0.999 / self.clip_fps:
                return
            image = self._downscale(frame.image, blur_boxes)
            self._last_stored_t = t
            self._buffer.append((t, image))
            self._release(t - self.pre_roll_s)

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
            self._clips[event_id] = _Clip(event_id, first_t=t - self.pre_roll_s)

    def stop(self, event_id: str, t: float) -> None:
        """The event ended at t; the clip closes once its frames up to t + post_roll_s have left the buffer."""
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
            self._finish_due()

    def flush(self, timeout_s: float | None = None) -> None:
        """Wait until the writer has written what it was handed, and report finished clips."""
        with self._lock:
            if self._writer is not None:
                self._wait(timeout_s)
            self._deliver()

    def close(self) -> None:
        """Write out the buffer, finish every pending clip (ready if its post-roll is complete, else partial)
        and stop the writer."""
        with self._lock:
            self._release(float("inf"))
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

    def _release(self, before_t: float) -> None:
        """Hand the buffered frames older than before_t to the writer, each once, with the clips it belongs to."""
        while self._buffer and self._buffer[0][0] < before_t - 1e-6:
            t, image = self._buffer.popleft()
            targets = [c for c in self._clips.values()
                       if c.first_t <= t + 1e-6 and (c.end_t is None or t <= c.end_t + 1e-6)]
            if targets:
                for clip in targets:
                    if clip.queued_start_t is None:
                        clip.queued_start_t = t
                self._submit("frame", targets, (t, image), block=False)
            self._finish_due()

    def _finish_due(self) -> None:
        """Finish the clips whose last frame has been handed over (the buffer holds only later ones)."""
        if self._last_stored_t is None:
            return
        # every frame up to `handed` is with the writer; later ones are still buffered
        handed = self._buffer[0][0] if self._buffer else self._last_stored_t
        for clip in list(self._clips.values()):
            if clip.end_t is not None and (handed > clip.end_t + 1e-6 if self._buffer
                                           else handed >= clip.end_t - 1e-6):
                self._finish(clip, "ready")
            elif clip.queued_start_t is not None and handed - clip.queued_start_t >= self.max_clip_s:
                clip.notes.append(f"capped at {self.max_clip_s:g} s")
                self._finish(clip, "ready")

    def _finish(self, clip: _Clip, status: ClipStatus) -> None:
        self._clips.pop(clip.event_id, None)
        self._done.append(clip.event_id)
        if clip.dropped:
            clip.notes.append(f"{clip.dropped} frames dropped (writer behind)")
            log.warning("camera %r: clip %s: %d frames dropped, the writer fell behind",
                        self.camera_id, clip.event_id, clip.dropped)
        self._submit("finish", clip, status, block=True)

    def _submit(self, kind: str, target: Any, arg: Any, block: bool) -> None:
        if self._writer is None:
            self._writer = threading.Thread(target=self._run, name=f"clips-{self.camera_id}", daemon=True)
            self._writer.start()
        try:
            self._jobs.put((kind, target, arg), block=block)
        except queue.Full:  # only frames are offered without waiting: a gap in a variable-rate clip
            for clip in target:
                clip.dropped += 1

    def _wait(self, timeout_s: float | None) -> None:
        done = threading.Event()
        self._jobs.put(("mark", None, done))
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
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    return
                kind, target, arg = job
                timed = self._clock.background("clip_writer") if self._clock is not None else contextlib.nullcontext()
                with timed:
                    self._job(kind, target, arg)
        finally:
            if self._encoder is not None:
                with contextlib.suppress(Exception):
                    self._encoder.close()
                self._encoder = None

    def _job(self, kind: str, target: Any, arg: Any) -> None:
        try:
            if kind == "frame":
                self._write(target, *arg)
            elif kind == "finish":
                self._finalize(target, arg)
            else:
                arg.set()
        except Exception as e:  # the writer must outlive any one clip
            for clip in target if isinstance(target, list) else [target]:
                self._fail(clip, OutputError(f"camera {self.camera_id!r}: clip {clip.event_id!r}: {e}"))

    def _paths(self, clip: _Clip) -> tuple[str, Path]:
        rel = clip_relpath(clip.event_id)
        return rel, self.evidence_dir / rel

    def _open(self, clip: _Clip, template: Any) -> None:
        _, final = self._paths(clip)
        try:
            private.make_dir(final.parent)  # 0700
            fd, tmp = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=".part.mp4", dir=final.parent)
            os.close(fd)
        except OSError as e:
            raise OutputError(f"camera {self.camera_id!r}: cannot write clip {str(final)!r}: {e.strerror or e}") from e
        clip.tmp_path = Path(tmp)
        try:
            clip.file = _ClipFile(clip.tmp_path, template)
        except Exception as e:
            raise OutputError(f"camera {self.camera_id!r}: cannot start clip {str(final)!r}: {e}") from e

    def _encoder_for(self, clips: list[_Clip], size: tuple[int, int]) -> _Encoder | None:
        if self._encoder is not None:  # the recorder's frames all have one size (fixed at the first push)
            return self._encoder
        try:
            self._encoder = _Encoder(size, self.clip_fps, self.codec, self.crf, self.preset)
        except Exception as e:
            for clip in clips:
                _, final = self._paths(clip)
                self._fail(clip, OutputError(
                    f"camera {self.camera_id!r}: cannot start the {self.codec!r} encoder for clip {str(final)!r}: {e}"))
        return self._encoder

    def _write(self, clips: list[_Clip], t: float, image: np.ndarray) -> None:
        """Encode one frame once and copy its packets into every clip it belongs to."""
        live = [c for c in clips if c.error is None]
        if not live:
            return
        encoder = self._encoder_for(live, (image.shape[1], image.shape[0]))
        if encoder is None:
            return
        try:
            packets = encoder.encode(image, round(t * 1000), key=any(c.file is None for c in live))
        except Exception as e:
            for clip in live:
                _, final = self._paths(clip)
                self._fail(clip, OutputError(f"camera {self.camera_id!r}: encoding clip {str(final)!r} failed ({e})"))
            with contextlib.suppress(Exception):
                encoder.close()
            self._encoder = None  # the next frame starts a fresh encoder
            return
        self.encoded += 1
        for clip in live:
            try:
                if clip.file is None:
                    self._open(clip, encoder.stream)
                    clip.clip_start_t = t
                assert clip.file is not None
                try:
                    for packet in packets:
                        clip.file.mux(packet)
                except Exception as e:
                    _, final = self._paths(clip)
                    raise OutputError(f"camera {self.camera_id!r}: writing clip {str(final)!r} failed ({e})") from e
                clip.last_t = t
            except OutputError as e:
                self._fail(clip, e)

    def _fail(self, clip: _Clip, error: OutputError) -> None:
        if clip.error is None:
            clip.error = error
            self.errors.append(error)
            log.error("%s", error)

    def _finalize(self, clip: _Clip, status: ClipStatus) -> None:
        """Close the mp4, rename atomically, queue the result for on_clip."""
        rel, final = self._paths(clip)
        duration = 0.0
        if clip.error is None and clip.file is None:
            self._fail(clip, OutputError(f"camera {self.camera_id!r}: clip {str(final)!r} has no frames"))
        if clip.file is not None:
            try:
                clip.file.close()
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
