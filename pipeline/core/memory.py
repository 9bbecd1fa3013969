"""Give memory the process has freed back to the system (glibc keeps it in its heaps otherwise)."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os

from pipeline.core.threads import cpu_cores

log = logging.getLogger(__name__)
_LIBC = ctypes.util.find_library("c")


def release_freed_memory() -> bool:
    """Collect garbage and ask glibc to return free heap pages (malloc_trim); False where there is no glibc."""
    gc.collect()
    if not _LIBC:
        return False
    try:
        return bool(ctypes.CDLL(_LIBC).malloc_trim(0))
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return False


_M_ARENA_MAX = -8  # mallopt parameter number in glibc's malloc.h


def limit_malloc_arenas(n: int | None = None) -> int | None:
    """Cap glibc's malloc arenas at n (default: the usable cores); returns the cap set, or None.

    glibc lets threads spread over up to 8 arenas per core, and each keeps its freed pages:
    with a capture, writer and worker thread per camera that was about 60 MB of resident
    memory on 8 cameras here (`bench live`, README) that no call asked for. Call before the
    threads start. A MALLOC_ARENA_MAX in the environment is the operator's choice and is
    left alone.
    """
    if os.environ.get("MALLOC_ARENA_MAX") or not _LIBC:
        return None
    n = cpu_cores() if n is None else max(1, int(n))
    try:
        ok = ctypes.CDLL(_LIBC).mallopt(_M_ARENA_MAX, n)
    except (OSError, AttributeError):  # not glibc
        return None
    return n if ok == 1 else None
