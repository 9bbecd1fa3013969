"""The bench's stage clock: CPU of background threads is a line of its own, not the running stage's."""

from __future__ import annotations

import threading
import time

from pipeline.core.stages import StageClock, current, stage


def _burn(cpu_s: float) -> None:
    t0 = time.thread_time()
    while time.thread_time() - t0 < cpu_s:
        sum(i * i for i in range(1000))


def test_background_cpu_is_taken_out_of_the_stage_it_ran_during():
    clock = StageClock()
    with clock.active():
        assert current() is clock
        with stage("decode"):
            _burn(0.05)  # the stage's own work
            worker = threading.Thread(target=lambda: _with(clock, "clip_writer", 0.3))
            worker.start()
            worker.join()
    assert current() is None
    assert clock.cpu["clip_writer"] >= 0.3
    assert 0.04 <= clock.cpu["decode"] < 0.2, clock.cpu  # its own 0.05 s, not the writer's 0.3 s
    assert clock.calls["clip_writer"] == 1 and clock.calls["decode"] == 1


def _with(clock: StageClock, name: str, cpu_s: float) -> None:
    with clock.background(name):
        _burn(cpu_s)


def test_without_an_active_clock_nothing_is_recorded():
    clock = StageClock()
    with stage("detect"):
        _burn(0.01)
    assert current() is None and not clock.cpu
