"""The hall's clock: `site.timezone` (an IANA name) and what the schedule says right now.

Wall-clock times in counterwatch are naive datetimes on the site's clock (a recording's
start from its file name is the camera's, i.e. the hall's, time). A command that loads
a site config calls `use_site_timezone(cfg)`: with `site.timezone` set, the process's
local zone becomes the hall's (TZ), so live frames' epoch seconds, stored times,
opening hours, schedules and the times shown in the UI and reports all agree, whatever
zone the server itself is set to. Without it the machine's zone is the hall's.

`schedule_status` says whether rules that follow opening hours (and breaks) run now,
and until when: the banner of the web UI, `/api/health` and the start-up line of
`counterwatch run`.
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
SCAN_DAYS = 8  # the next change of schedule is searched this far ahead (a week plus a day)


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


def _state(cfg: Any, wall: dt.datetime) -> tuple[str, int]:
    """('open' | 'break' | 'closed', number of enabled rules that are inactive at `wall`)."""
    from pipeline.config.models import rule_params
    from pipeline.core.hours import in_break, is_open, rule_active
    from pipeline.rules.base import RULES

    site = cfg.site
    state = "closed" if not is_open(site, wall) else "break" if in_break(site, wall) else "open"
    paused = 0
    for rule_id in RULES:
        params = rule_params(cfg.rules, rule_id)
        if params.enabled and not rule_active(site, params, wall):
            paused += 1
    return state, paused


def _boundaries(cfg: Any, now: dt.datetime) -> list[dt.datetime]:
    """Every instant after `now` (within SCAN_DAYS) at which a schedule can change: the starts and
    ends of opening hours, breaks and rule windows, and midnights (the weekday changes)."""
    from pipeline.config.models import rule_params
    from pipeline.rules.base import RULES

    site = cfg.site
    marks = {"00:00"} | {w.start for w in site.opening_hours} | {w.end for w in site.opening_hours}
    marks |= {b.start for b in site.breaks} | {b.end for b in site.breaks}
    for rule_id in RULES:
        active = rule_params(cfg.rules, rule_id).active
        if isinstance(active, list):
            marks |= {w.start for w in active} | {w.end for w in active}
    minutes = sorted({int(m[:2]) * 60 + int(m[3:]) for m in marks})
    day0 = dt.datetime.combine(now.date(), dt.time())
    out = [day0 + dt.timedelta(days=d, minutes=m) for d in range(SCAN_DAYS + 1) for m in minutes]
    return [t for t in out if t > now]


def schedule_status(cfg: Any, now: dt.datetime | None = None) -> dict[str, Any]:
    """{state, rules_paused, rules_active, until, timezone, now}. `until`: while closed or in a break,
    the next minute the hall is open again; while open, the next minute the rules running change
    (None: not within SCAN_DAYS)."""
    now = (now or site_now(cfg.site)).replace(second=0, microsecond=0)
    state, paused = _state(cfg, now)
    until = None
    for t in _boundaries(cfg, now):
        st, n = _state(cfg, t)
        if (st == "open") if state != "open" else (n != paused):
            until = t
            break
    return {
        "state": state,
        "rules_paused": paused,
        "rules_active": paused == 0,
        "until": until.isoformat(timespec="minutes") if until else None,
        "timezone": zone_name(cfg.site),
        "now": now.isoformat(timespec="minutes"),
    }


def describe(status: dict[str, Any]) -> str | None:
    """One line for the log: None when every rule runs."""
    if status["rules_active"]:
        return None
    what = {"closed": "outside opening hours", "break": "break"}.get(status["state"], "outside their time windows")
    until = (
        f"until {status['until'].replace('T', ' ')} {status['timezone']}"
        if status["until"]
        else "with no opening hours in the coming week"
    )
    return f"rules inactive ({what}): {status['rules_paused']} rule(s) {until}; site time now {status['now']}"
