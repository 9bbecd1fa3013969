"""Opening hours, breaks and rule windows on the local wall clock (pure functions of the config).

With no wall clock (a recording without a known start) every instant counts as
inside opening hours, so recorded files can still be analysed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pipeline.config.models import DAYS, SiteInfo
from pipeline.config.rule_params import RuleParams, TimeWindow


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def in_window(w: TimeWindow, wall: dt.datetime) -> bool:
    m = wall.hour * 60 + wall.minute + wall.second / 60
    return _minutes(w.start) <= m < _minutes(w.end)


def is_open(site: SiteInfo, wall: dt.datetime | None) -> bool:
    if wall is None:
        return True
    day = DAYS[wall.weekday()]
    m = wall.hour * 60 + wall.minute + wall.second / 60
    return any(day in oh.days and _minutes(oh.start) <= m < _minutes(oh.end) for oh in site.opening_hours)


def in_break(site: SiteInfo, wall: dt.datetime | None) -> bool:
    return wall is not None and any(in_window(b, wall) for b in site.breaks)


def closing_time(site: SiteInfo, day: dt.date) -> dt.datetime | None:
    """The day's last closing time (None: closed all day)."""
    return _day_edge(site, day, "end", max)


def opening_time(site: SiteInfo, day: dt.date) -> dt.datetime | None:
    """The day's first opening time (None: closed all day)."""
    return _day_edge(site, day, "start", min)


def _day_edge(site: SiteInfo, day: dt.date, field: str, pick: Callable[[list[int]], int]) -> dt.datetime | None:
    minutes = [_minutes(getattr(oh, field)) for oh in site.opening_hours if DAYS[day.weekday()] in oh.days]
    if not minutes:
        return None
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=pick(minutes))


def rule_active(site: SiteInfo, params: RuleParams, wall: dt.datetime | None) -> bool:
    """May this rule raise events at `wall`? (its own window, opening hours, breaks)"""
    if wall is None:
        return True
    if params.skip_breaks and in_break(site, wall):
        return False
    if params.active == "always":
        return True
    if params.active == "opening_hours":
        return is_open(site, wall)
    return any(in_window(w, wall) for w in params.active)
