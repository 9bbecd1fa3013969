"""Whether rules run now (opening hours, breaks, site.timezone): `/api/health` and the UI banner."""

from __future__ import annotations

import threading
import time
from typing import Any

from pipeline.config.schedule import schedule_status

_cache: dict[int, tuple[float, dict[str, Any]]] = {}
_lock = threading.Lock()


def app_schedule(app: Any) -> dict[str, Any] | None:
    """The schedule of the app's site config (None without one), worked out at most every 20 s."""
    cfg = getattr(app.state, "config", None)
    if cfg is None:
        return None
    with _lock:
        hit = _cache.get(id(cfg))
        if hit is not None and time.monotonic() - hit[0] < 20:
            return hit[1]
    status = schedule_status(cfg)
    with _lock:
        if len(_cache) > 8:
            _cache.clear()
        _cache[id(cfg)] = (time.monotonic(), status)
    return status
