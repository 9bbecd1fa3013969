"""The hall's clock: `site.timezone` (an IANA name).

Wall-clock times in counterwatch are naive datetimes on the site's clock (a recording's
start from its file name is the camera's, i.e. the hall's, time). A command that loads
a site config calls `use_site_timezone(cfg)`: with `site.timezone` set, the process's
local zone becomes the hall's (TZ), so live frames' epoch seconds, stored times,
opening hours, schedules and the times shown in the UI and reports all agree, whatever
zone the server itself is set to. Without it the machine's zone is the hall's.
What the schedule says right now is `pipeline.config.schedule`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
import zoneinfo
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def check_timezone(name: str) -> str:
    """`name` if it is a known IANA zone; ValueError naming the problem otherwise."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai or Europe/Berlin)") from None
    return name


def _zone_file(name: str) -> Path | None:
    """The TZif file of a zone (system tzdata, else the tzdata package), for the C library's TZ."""
    for base in zoneinfo.TZPATH:
        p = Path(base) / name
        if p.is_file():
            return p
    try:
        from importlib.resources import files

        p = Path(str(files("tzdata").joinpath("zoneinfo", *name.split("/"))))
        return p if p.is_file() else None
    except (ModuleNotFoundError, TypeError):
        return None


def use_site_timezone(cfg: Any) -> str | None:
    """Make the site's zone the process's local zone (also for child processes); its name, or None."""
    name = getattr(cfg.site, "timezone", None)
    if not name:
        return None
    path = _zone_file(name)
    os.environ["TZ"] = f":{path}" if path is not None else name
    if hasattr(time, "tzset"):
        time.tzset()
    log.info("site time zone %s (now %s)", name, dt.datetime.now().strftime("%Y-%m-%d %H:%M"))
    return name


def zone_name(site: Any) -> str:
    if getattr(site, "timezone", None):
        return site.timezone
    return time.tzname[time.daylight and time.localtime().tm_isdst > 0] or "local"


def site_now(site: Any) -> dt.datetime:
    """Now on the hall's clock (naive), whether or not the process zone was switched."""
    if getattr(site, "timezone", None):
        return dt.datetime.now(zoneinfo.ZoneInfo(site.timezone)).replace(tzinfo=None)
    return dt.datetime.now()
