"""The malloc arena cap: threads share the capped arenas instead of each keeping its own."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys

import pytest

from pipeline.core.memory import limit_malloc_arenas

needs_glibc = pytest.mark.skipif(not ctypes.util.find_library("c") or sys.platform != "linux", reason="glibc only")

# 8 threads hold small blocks at the same time, then glibc prints one "Arena N:" block per arena
_SCRIPT = """
import ctypes, ctypes.util, sys, threading
from pipeline.core.memory import limit_malloc_arenas
if sys.argv[1] != "none":
    print("cap", limit_malloc_arenas(int(sys.argv[1])), flush=True)
barrier = threading.Barrier(9)  # the 8 threads and this one
def work():
    keep = [bytearray(200) for _ in range(2000)]
    barrier.wait()
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
barrier.wait()  # every thread holds its blocks now
ctypes.CDLL(ctypes.util.find_library("c")).malloc_stats()
barrier.wait()
for t in threads: t.join()
"""


def _arenas(cap: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    out = subprocess.run([sys.executable, "-c", _SCRIPT, cap], capture_output=True, text=True, env=env,
                         timeout=60, check=True)
    return sum(1 for line in out.stderr.splitlines() if line.startswith("Arena ")), out.stdout


@needs_glibc
def test_the_cap_bounds_the_arenas_threads_use():
    uncapped, _ = _arenas("none")
    capped, said = _arenas("2")
    assert "cap 2" in said
    assert uncapped > 2  # without the cap the 8 threads spread over more arenas
    assert capped <= 2


def test_an_operators_malloc_arena_max_is_left_alone(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas(1) is None
