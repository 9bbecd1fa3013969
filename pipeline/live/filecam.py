"""A recorded file played as if it were a live camera (demos, `bench live`, soak tests).

Frames are released at the file's own pace against the wall clock and stamped with
wall-clock time, and the file loops, so the consumer sees exactly what a live camera
gives: a newest-frame slot, frames dropped when it is slow, and no end. It is a
`LiveSource` whose capture is paced, so states, stats, sampling and close() are the
live camera's own code.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2

from pipeline.core.errors import SourceError
from pipeline.sources.live import LiveSource, StateCallback


class PacedCapture:
    """The part of cv2.VideoCapture a LiveSource uses, over a file read at its native frame rate."""

    def __init__(self, path: Path, loop: bool = True):
        self.path, self.loop = path, loop
        self._cap = cv2.VideoCapture(str(path))
        self._period = 1.0 / (float(self._cap.get(cv2.CAP_PROP_FPS)) or 25.0)
        self._next_at = time.monotonic()

    def isOpened(self) -> bool:  # noqa: N802  (cv2's name)
        return self._cap.isOpened()

    def get(self, prop: int) -> float:
        return self._cap.get(prop)

    def grab(self) -> bool:
        delay = self._next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1.0:  # decoding fell behind: re-anchor instead of bursting
            self._next_at = time.monotonic()
        self._next_at += self._period
        if self._cap.grab():
            return True
        if not self.loop:
            return False
        self._cap.release()
        self._cap = cv2.VideoCapture(str(self.path))
        return self._cap.grab()

    def retrieve(self):
        return self._cap.retrieve()

    def release(self) -> None:
        self._cap.release()


class PacedFileSource(LiveSource):
    def __init__(self, path: str | Path, *, camera_id: str, fps: float, loop: bool = True,
                 on_state: StateCallback | None = None):
        self.path, self.loop = Path(path), loop
        if not self.path.is_file():
            raise SourceError(f"camera {camera_id!r}: video file {self.path} does not exist")
        probe = cv2.VideoCapture(str(self.path))
        ok = probe.isOpened()
        probe.release()
        if not ok:
            raise SourceError(f"camera {camera_id!r}: video file {self.path} cannot be opened")
        super().__init__(str(self.path), camera_id=camera_id, fps=fps, kind="file", on_state=on_state)

    def _open(self) -> PacedCapture | None:  # type: ignore[override]
        return self._adopt(PacedCapture(self.path, self.loop))
