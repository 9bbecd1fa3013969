"""Live cameras (RTSP, HTTP, webcams): a reader thread, a latest-frame slot, a watchdog.

A live stream cannot be paused, so the reader thread drains the camera at its own
rate and keeps only the newest frame. A consumer slower than the analysis fps
therefore loses frames (counted as dropped) instead of falling further and further
behind real time. When no frame arrives for `stall_timeout_s`, or the stream
ends, the camera is reopened with exponential backoff (0.5 s doubling to 30 s),
forever: a camera that comes back hours later is picked up again. State changes
(online / reconnecting / offline) go to `on_state(camera_id, state, reason)`.
Timestamps are wall-clock epoch seconds taken when the frame was read.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import cv2

from pipeline.core.clock import steady_time
from pipeline.core.types import Frame
from pipeline.sources.base import Sampler, Source, SourceInfo, SourceKind

log = logging.getLogger(__name__)

LiveState = Literal["connecting", "online", "reconnecting", "offline"]
StateCallback = Callable[[str, str, str], None]

# OpenCV reads FFmpeg demuxer options from this variable when a capture opens;
# the lock keeps two cameras opening at once from seeing each other's options.
_ENV_LOCK = threading.Lock()
_FFMPEG_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"


@dataclass(frozen=True)
class LiveStats:
    state: str
    received: int  # frames read from the camera
    delivered: int  # frames handed to the consumer
    dropped: int  # frames that were due for analysis but replaced before the consumer took them
    reconnects: int
    drop_rate: float  # dropped / (dropped + delivered)
    last_frame_age_s: float | None


class LiveSource(Source):
    """One live camera. Iterating blocks until the next sampled frame (or close())."""

    def __init__(
        self,
        target: str | int,
        *,
        camera_id: str,
        fps: float,
        kind: SourceKind,
        on_state: StateCallback | None = None,
        stall_timeout_s: float = 10.0,
        open_timeout_s: float = 10.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        offline_after_s: float = 60.0,
        rtsp_transport: Literal["tcp", "udp"] | None = None,
    ) -> None:
        self.target = target
        self.camera_id = camera_id
        self.kind = kind
        self.on_state = on_state
        self.stall_timeout_s = float(stall_timeout_s)
        self.open_timeout_s = float(open_timeout_s)
        self.backoff_initial_s = float(backoff_initial_s)
        self.backoff_max_s = float(backoff_max_s)
        self.offline_after_s = float(offline_after_s)
        self.rtsp_transport = rtsp_transport
        self._sampler = Sampler(fps)
        self._cond = threading.Condition()
        self._slot: Frame | None = None
        self._stop = threading.Event()
        self._state: str = "connecting"
        self._received = 0
        self._delivered = 0
        self._dropped = 0
        self._reconnects = 0
        self._last_frame_wall: float | None = None
        self._lost_since: float | None = None
        self._width = 0
        self._height = 0
        self._native_fps: float | None = None
        self._reader = threading.Thread(target=self._read_loop, name=f"source-{camera_id}", daemon=True)
        self._watchdog = threading.Thread(target=self._watch_loop, name=f"watchdog-{camera_id}", daemon=True)
        self._reader.start()
        self._watchdog.start()

    # ---- public -------------------------------------------------------------------------

    @property
    def info(self) -> SourceInfo:  # type: ignore[override]
        """Size and fps of the stream as last opened (0 x 0 until the first connection)."""
        return SourceInfo(self.kind, str(self.target), self._width, self._height, self._native_fps, None, None)

    @property
    def state(self) -> str:
        return self._state

    @property
    def stats(self) -> LiveStats:
        with self._cond:
            total = self._dropped + self._delivered
            age = None if self._last_frame_wall is None else steady_time() - self._last_frame_wall
            return LiveStats(
                self._state,
                self._received,
                self._delivered,
                self._dropped,
                self._reconnects,
                self._dropped / total if total else 0.0,
                age,
            )

    def next_frame(self, timeout_s: float | None = None) -> Frame | None:
        """The next sampled frame, or None after timeout_s (or once closed)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while self._slot is None and not self._stop.is_set():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining if remaining is not None else 1.0)
            if self._slot is None:
                return None
            frame, self._slot = self._slot, None
            self._sampler.keep(frame.timestamp_s)
            self._delivered += 1
            return frame

    def __next__(self) -> Frame:
        frame = self.next_frame()
        if frame is None:
            raise StopIteration
        return frame

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._reader.join(timeout=self.stall_timeout_s + self.open_timeout_s + 1.0)
        self._watchdog.join(timeout=2.0)
        self._set_state("offline", "closed")

    # ---- reader thread ------------------------------------------------------------------

    def _open(self) -> cv2.VideoCapture | None:
        if isinstance(self.target, int) or (isinstance(self.target, str) and self.target.startswith("/dev/")):
            cap = cv2.VideoCapture(self.target)
        else:
            params = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                int(self.open_timeout_s * 1000),
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                int(self.stall_timeout_s * 1000),
            ]
            with _ENV_LOCK:
                previous = os.environ.get(_FFMPEG_OPTIONS_ENV)
                if self.rtsp_transport:
                    os.environ[_FFMPEG_OPTIONS_ENV] = f"rtsp_transport;{self.rtsp_transport}"
                try:
                    cap = cv2.VideoCapture(self.target, cv2.CAP_FFMPEG, params)
                finally:
                    if self.rtsp_transport:
                        if previous is None:
                            os.environ.pop(_FFMPEG_OPTIONS_ENV, None)
                        else:
                            os.environ[_FFMPEG_OPTIONS_ENV] = previous
        return self._adopt(cap)

    def _adopt(self, cap):
        """An opened capture, with the stream's size and fps noted for `info`; None if it did not open."""
        if not cap.isOpened():
            cap.release()
            return None
        self._width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self._height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self._native_fps = float(cap.get(cv2.CAP_PROP_FPS)) or None
        return cap

    def _read_loop(self) -> None:
        backoff = self.backoff_initial_s
        while not self._stop.is_set():
            cap = self._open()
            if cap is None:
                self._lost("cannot open stream")
                self._stop.wait(backoff)
                backoff = min(backoff * 2.0, self.backoff_max_s)
                continue
            received_before = self._received
            reason = self._pump(cap)
            cap.release()
            if self._stop.is_set():
                break
            if self._received > received_before:
                backoff = self.backoff_initial_s  # it worked for a while: retry fast
            self._lost(reason)
            self._stop.wait(backoff)
            backoff = min(backoff * 2.0, self.backoff_max_s)

    def _pump(self, cap: cv2.VideoCapture) -> str:
        """Read until the stream fails; returns why it stopped."""
        while not self._stop.is_set():
            if not cap.grab():
                return "stream ended or read timed out"
            now = steady_time()
            with self._cond:
                self._received += 1
                self._last_frame_wall = now
                index = self._received - 1
                want = self._sampler.due(now)
            if self._state != "online":
                self._lost_since = None
                self._set_state("online", "frames arriving")
            if not want:
                continue
            ok, image = cap.retrieve()
            if not ok or image is None:
                continue
            with self._cond:
                if self._slot is not None:
                    self._dropped += 1  # the consumer did not take the previous due frame in time
                self._slot = Frame(self.camera_id, index, now, image)
                self._cond.notify_all()
        return "closed"

    def _lost(self, reason: str) -> None:
        now = steady_time()
        if self._lost_since is None:
            self._lost_since = self._last_frame_wall or now
        if now - self._lost_since >= self.offline_after_s:
            self._set_state("offline", f"{reason}; no frames for {now - self._lost_since:.0f} s, still retrying")
        elif self._state != "reconnecting":
            if self._state == "online":
                self._reconnects += 1
            self._set_state("reconnecting", reason)

    # ---- watchdog -----------------------------------------------------------------------

    def _watch_loop(self) -> None:
        """Reports a stall promptly even while the reader is still blocked inside a read."""
        while not self._stop.wait(min(0.25, self.stall_timeout_s / 4)):
            last = self._last_frame_wall
            if self._state == "online" and last is not None and steady_time() - last > self.stall_timeout_s:
                self._lost(f"no frame for {self.stall_timeout_s:g} s")

    def _set_state(self, state: str, reason: str) -> None:
        with self._cond:
            if state == self._state:
                return
            self._state = state
        level = logging.INFO if state == "online" else logging.WARNING
        log.log(level, "camera %r: %s (%s)", self.camera_id, state, reason)
        if self.on_state is not None:
            try:
                self.on_state(self.camera_id, state, reason)
            except Exception:  # a failing listener must not kill the reader thread
                log.exception("camera %r: on_state callback failed", self.camera_id)
