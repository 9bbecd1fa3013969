"""What every source shares: a Frame iterator with `info`, `close()` and `with`.

Callers never care whether frames come from a file, a folder or a camera; they
iterate, read `info`, and close. Closing twice is harmless so that `with` and an
explicit `close()` can both be used.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from pipeline.core.types import Frame

log = logging.getLogger(__name__)

SourceKind = Literal["file", "folder", "rtsp", "http", "webcam"]


@dataclass(frozen=True)
class SourceInfo:
    """What is known about a source before reading it all (duration_s is None for live)."""

    kind: SourceKind
    spec: str
    width: int
    height: int
    native_fps: float | None
    duration_s: float | None = None
    frame_count: int | None = None


class Source:
    """Base class: an iterator of Frame that is also a context manager."""

    camera_id: str
    info: SourceInfo

    def __iter__(self) -> Iterator[Frame]:
        return self

    def __next__(self) -> Frame:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Sampler:
    """Keeps the first frame at or after each sampling instant k / fps.

    Instants follow a fixed grid from the first kept frame, so a jittery source
    does not drift the analysis rate; after a gap the grid jumps forward instead
    of emitting a burst of catch-up frames.
    """

    def __init__(self, fps: float) -> None:
        if fps <= 0:
            raise ValueError(f"analysis fps must be > 0, but got {fps}")
        self.period_s = 1.0 / fps
        self.next_s: float | None = None

    def due(self, t: float) -> bool:
        # A small tolerance keeps frames whose timestamps are rounded to the millisecond.
        return self.next_s is None or t >= self.next_s - 1e-4

    def keep(self, t: float) -> None:
        if self.next_s is None:
            self.next_s = t + self.period_s
            return
        self.next_s += self.period_s
        if self.next_s <= t:  # a gap: resume the grid after t
            steps = int((t - self.next_s) / self.period_s) + 1
            self.next_s += steps * self.period_s
