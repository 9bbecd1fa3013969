"""Give memory the process has freed back to the system (glibc keeps it in its heaps otherwise)."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

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
