"""Rule time for live cameras: a steady clock that reads like epoch seconds but never steps.

Live frames are stamped with `steady_time()`: the wall clock at process start plus the
monotonic time since, so an NTP correction or a manual clock change (backwards or
forwards) neither freezes nor jumps rules, track histories and clips. Wall time is
used only where a person reads it or a schedule needs it (`steady_to_wall`): it maps
a steady timestamp to the wall clock as it is now.
"""

from __future__ import annotations

import datetime as dt
import time

_ANCHOR_WALL = time.time()
_ANCHOR_MONO = time.monotonic()


def steady_time() -> float:
    """Seconds, epoch-like (wall time at start + monotonic elapsed): never goes backwards."""
    return _ANCHOR_WALL + (time.monotonic() - _ANCHOR_MONO)


def wall_offset() -> float:
    """How far the wall clock is from the steady clock now (0 until the wall clock is stepped)."""
    return time.time() - steady_time()


def steady_to_wall(t: float) -> dt.datetime:
    """Local wall time of steady timestamp t, with the wall clock's current offset."""
    return dt.datetime.fromtimestamp(t + wall_offset())
