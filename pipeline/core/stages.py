"""CPU time per pipeline stage, for `counterwatch bench pipeline`.

The hot path marks its stages with `with stage("detect"):`. Nothing is recorded
unless a `StageClock` is active on the calling thread (the bench activates one),
so the cost on the hot path is one thread-local lookup per stage. The clock reads
`time.process_time()` (all threads of the process, so onnxruntime's worker threads
count too); it is meant for one pipeline running at a time, as the bench does.
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
        self._depth: list[str] = []

    @contextlib.contextmanager
    def active(self) -> Iterator[StageClock]:
        prev = getattr(_local, "clock", None)
        _local.clock = self
        try:
            yield self
        finally:
            _local.clock = prev

    def add(self, name: str, cpu_s: float) -> None:
        self.cpu[name] += cpu_s
        self.calls[name] += 1


@contextlib.contextmanager
def _timed(clock: StageClock, name: str) -> Iterator[None]:
    t0 = time.process_time()
    try:
        yield
    finally:
        clock.add(name, time.process_time() - t0)


def stage(name: str) -> contextlib.AbstractContextManager[None]:
    """Time the block under `name` on the active clock, if any (stages must not nest)."""
    clock = getattr(_local, "clock", None)
    return contextlib.nullcontext() if clock is None else _timed(clock, name)


def count(name: str, n: int = 1) -> None:
    """Count something (models run, results reused) on the active clock, if any."""
    clock = getattr(_local, "clock", None)
    if clock is not None:
        clock.calls[name] += n
