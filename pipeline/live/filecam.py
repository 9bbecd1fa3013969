"""A recorded file played as if it were a live camera (demos, `bench live`, soak tests).

Frames are released at the file's own pace against the wall clock and stamped with
wall-clock time, and the file loops, so the consumer sees exactly what a live camera
gives: a newest-frame slot, frames dropped when it is slow, and no end. It has the
same surface as `pipeline.sources.LiveSource` (next_frame, stats, state, close).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import cv2

from pipeline.core.errors import SourceError
from pipeline.core.types import Frame
from pipeline.sources.base import Sampler, Source, SourceInfo
from pipeline.sources.live import LiveStats, StateCallback

log = logging.getLogger(__name__)


class PacedFileSource(Source):
    def __init__(self, path: str | Path, *, camera_id: str, fps: float, loop: bool = True,
                 on_state: StateCallback | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"camera {camera_id!r}: video file {self.path} does not exist")
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise SourceError(f"camera {camera_id!r}: video file {self.path} cannot be opened")
        self._native_fps = float(cap.get(cv2.CAP_PROP_FPS)) or 25.0
        self._size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        cap.release()
        self.camera_id, self.loop, self.on_state = camera_id, loop, on_state
        self._sampler = Sampler(fps)
        self._cond = threading.Condition()
        self._slot: Frame | None = None
        self._stop = threading.Event()
        self._state = "connecting"
        self._received = self._delivered = self._dropped = 0
        self._last_wall: float | None = None
        self._ended = False
        self._thread = threading.Thread(target=self._run, name=f"filecam-{camera_id}", daemon=True)
        self._thread.start()

    @property
    def info(self) -> SourceInfo:  # type: ignore[override]
        return SourceInfo("file", str(self.path), self._size[0], self._size[1], self._native_fps, None, None)

    @property
    def state(self) -> str:
        return self._state

    @property
    def stats(self) -> LiveStats:
        with self._cond:
            total = self._dropped + self._delivered
            age = None if self._last_wall is None else time.time() - self._last_wall
            return LiveStats(self._state, self._received, self._delivered, self._dropped, 0,
                             self._dropped / total if total else 0.0, age)

    def _set_state(self, state: str, reason: str) -> None:
        if state == self._state:
            return
        self._state = state
        if self.on_state is not None:
            try:
                self.on_state(self.camera_id, state, reason)
            except Exception:
                log.exception("camera %r: on_state callback failed", self.camera_id)

    def _run(self) -> None:
        period = 1.0 / self._native_fps
        while not self._stop.is_set():
            cap = cv2.VideoCapture(str(self.path))
            if not cap.isOpened():
                self._set_state("reconnecting", "cannot open file")
                self._stop.wait(1.0)
                continue
            next_at = time.monotonic()
            while not self._stop.is_set():
                delay = next_at - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                elif delay < -1.0:  # decoding fell behind: re-anchor instead of bursting
                    next_at = time.monotonic()
                next_at += period
                if not cap.grab():
                    break
                now = time.time()
                with self._cond:
                    self._received += 1
                    self._last_wall = now
                    due = self._sampler.due(now)
                    index = self._received - 1
                self._set_state("online", "playing file")
                if not due:
                    continue
                ok, image = cap.retrieve()
                if not ok or image is None:
                    continue
                with self._cond:
                    if self._slot is not None:
                        self._dropped += 1
                    self._slot = Frame(self.camera_id, index, now, image)
                    self._cond.notify_all()
            cap.release()
            if not self.loop:
                break
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def next_frame(self, timeout_s: float | None = None) -> Frame | None:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while self._slot is None and not self._stop.is_set() and not self._ended:
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

    @property
    def ended(self) -> bool:
        return self._ended

    def __next__(self) -> Frame:
        f = self.next_frame()
        if f is None:
            raise StopIteration
        return f

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=5)
        self._set_state("offline", "closed")
