"""What the schedule says right now: whether rules that follow opening hours (and breaks) run,
and until when. The banner of the web UI, `/api/health` and the start-up line of `counterwatch run`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from pipeline.config.hours import in_break, is_open, rule_active
from pipeline.config.rule_params import RuleParams
from pipeline.core.sitetime import site_now, zone_name

SCAN_DAYS = 8  # the next change of schedule is searched this far ahead (a week plus a day)


def _all_rule_params(cfg: Any) -> Iterator[RuleParams]:
    """The parameter block of every rule of the site config (one field of `cfg.rules` per rule)."""
    for name in type(cfg.rules).model_fields:
        yield getattr(cfg.rules, name)


def _state(cfg: Any, wall: dt.datetime) -> tuple[str, int]:
    """('open' | 'break' | 'closed', number of enabled rules that are inactive at `wall`)."""
    site = cfg.site
    state = "closed" if not is_open(site, wall) else "break" if in_break(site, wall) else "open"
    paused = 0
    for params in _all_rule_params(cfg):
        if params.enabled and not rule_active(site, params, wall):
            paused += 1
    return state, paused


def _boundaries(cfg: Any, now: dt.datetime) -> list[dt.datetime]:
    """Every instant after `now` (within SCAN_DAYS) at which a schedule can change: the starts and
    ends of opening hours, breaks and rule windows, and midnights (the weekday changes)."""
    site = cfg.site
    marks = {"00:00"} | {w.start for w in site.opening_hours} | {w.end for w in site.opening_hours}
    marks |= {b.start for b in site.breaks} | {b.end for b in site.breaks}
    for params in _all_rule_params(cfg):
        active = params.active
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
