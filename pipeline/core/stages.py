"""CPU time per pipeline stage, for `counterwatch bench pipeline`.

The hot path marks its stages with `with stage("detect"):`. Nothing is recorded
unless a `StageClock` is active on the calling thread (the bench activates one),
so the cost on the hot path is one thread-local lookup per stage. The clock reads
`time.process_time()` (all threads of the process, so onnxruntime's worker threads
count too); it is meant for one pipeline running at a time, as the bench does.

Threads that work beside the pipeline rather than for the stage in progress (the
clip writer) report their own CPU with `clock.background(name)`: it is a line of
its own, and it is taken out of the stage that was running meanwhile, so a stage
is not charged for an encoder that happened to run during it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator

_local = threading.local()


class StageClock:
    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._background_s = 0.0  # CPU reported by background threads so far

    @contextlib.contextmanager
    def active(self) -> Iterator[StageClock]:
        prev = getattr(_local, "clock", None)
        _local.clock = self
        try:
            yield self
        finally:
            _local.clock = prev

    def add(self, name: str, cpu_s: float) -> None:
        with self._lock:
            self.cpu[name] += cpu_s
            self.calls[name] += 1

    def tally(self, name: str, n: int = 1) -> None:
        with self._lock:  # background threads update the same counters
            self.calls[name] += n

    @property
    def background_s(self) -> float:
        with self._lock:
            return self._background_s

    @contextlib.contextmanager
    def background(self, name: str) -> Iterator[None]:
        """Time a block of work on a background thread (its own thread's CPU) under `name`."""
        t0 = time.thread_time()
        try:
            yield
        finally:
            dt = time.thread_time() - t0
            with self._lock:
                self.cpu[name] += dt
                self.calls[name] += 1
                self._background_s += dt


def current() -> StageClock | None:
    """The clock active on the calling thread, for handing to a background thread."""
    return getattr(_local, "clock", None)


@contextlib.contextmanager
def _timed(clock: StageClock, name: str) -> Iterator[None]:
    t0, b0 = time.process_time(), clock.background_s
    try:
        yield
    finally:
        # a background job is reported when it ends, so a stage may see a little of one that began
        # before it: never below zero
        clock.add(name, max(0.0, time.process_time() - t0 - (clock.background_s - b0)))


def stage(name: str) -> contextlib.AbstractContextManager[None]:
    """Time the block under `name` on the active clock, if any (stages must not nest)."""
    clock = getattr(_local, "clock", None)
    return contextlib.nullcontext() if clock is None else _timed(clock, name)


def count(name: str, n: int = 1) -> None:
    """Count something (models run, results reused) on the active clock, if any."""
    clock = getattr(_local, "clock", None)
    if clock is not None:
        clock.tally(name, n)
