"""Attendance against 第五十一条: at the post ten minutes before the shift, no lateness, no leaving early.

Presence is known per post, not per person (nobody is identified by face), so a
staff member's attendance is read from the presence at their home post. Only
seen absence proves lateness or leaving early: when the footage before the first
(or after the last) presence is missing, the finding is "cannot judge", never
"on time".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipeline.config.hours import _minutes, closing_time, opening_time
from pipeline.settings import SiteConfig

EARLY_ARRIVAL = dt.timedelta(minutes=10)  # 第五十一条: 上班前十分钟到达工作岗位
SLACK = dt.timedelta(seconds=1)

Interval = tuple[dt.datetime, dt.datetime, str]


def _shift(cfg: SiteConfig | None, day: dt.date, staff: Any) -> tuple[dt.datetime, dt.datetime] | None:
    if staff is not None and staff.shift is not None:
        base = dt.datetime.combine(day, dt.time())
        return (base + dt.timedelta(minutes=_minutes(staff.shift.start)),
                base + dt.timedelta(minutes=_minutes(staff.shift.end)))
    if cfg is None:
        return None
    start, end = opening_time(cfg.site, day), closing_time(cfg.site, day)
    return (start, end) if start and end else None


def merge(intervals: list[Interval]) -> list[Interval]:
    """Join touching intervals of the same state (presence is written in chunks)."""
    out: list[Interval] = []
    for s, e, st in sorted(intervals):
        if out and out[-1][2] == st and s <= out[-1][1] + SLACK:
            out[-1] = (out[-1][0], max(out[-1][1], e), st)
        else:
            out.append((s, e, st))
    return out


def judge(intervals: list[Interval], shift: tuple[dt.datetime, dt.datetime] | None) -> dict[str, Any]:
    """First/last presence and the findings (i18n keys) for one post's day."""
    known = merge([iv for iv in intervals if iv[2] in ("present", "absent")])
    present = [iv for iv in known if iv[2] == "present"]
    absent = [iv for iv in known if iv[2] == "absent"]
    row: dict[str, Any] = {"first_seen": None, "last_seen": None, "late_min": None, "early_min": None}
    if not known:
        return {**row, "status": ["st_no_data"]}
    if not present:
        return {**row, "status": ["st_absent"]}
    first, last = present[0][0], present[-1][1]
    row.update(first_seen=first, last_seen=last)
    status: list[str] = []
    if shift is not None:
        start, end = shift
        deadline = start - EARLY_ARRIVAL
        if first > deadline:
            # only absence seen right up to the arrival proves it; unknown time before it could hide presence
            before = next((a for a in absent if abs(a[1] - first) <= SLACK), None)
            if before is not None and first > start and before[0] <= start + SLACK:
                status.append("st_late")
                row["late_min"] = round((first - start).total_seconds() / 60, 1)
            elif before is not None and before[0] <= deadline + SLACK:
                status.append("st_not_early")
            else:
                status.append("st_unknown_start")
        if last < end:
            after = next((a for a in absent if abs(a[0] - last) <= SLACK), None)
            if after is not None and after[1] >= end - SLACK:
                status.append("st_early_leave")
                row["early_min"] = round((end - last).total_seconds() / 60, 1)
            else:
                status.append("st_unknown_end")
    if shift is None:  # nothing to judge arrival and departure against: never "on time"
        return {**row, "status": ["st_no_shift"]}
    return {**row, "status": status or ["st_ok"]}


def attendance_rows(cfg: SiteConfig | None, day: dt.date, posts: list[Any],
                    timeline: dict[str, list[Interval]]) -> list[dict[str, Any]]:
    """One row per rostered staff member at their home post (one per post when nobody is rostered)."""
    rows = []
    roster = cfg.roster if cfg is not None else None
    for p in posts:
        members = [s for s in roster.staff if s.post == p.id] if roster else []
        for staff in members or [None]:
            shift = _shift(cfg, day, staff)
            base = {"post_id": p.id, "post_name": p.name, "staff_id": staff.id if staff else "",
                    "staff_name": (staff.name or staff.id) if staff else "",
                    "shift": f"{shift[0]:%H:%M}-{shift[1]:%H:%M}" if shift else ""}
            if staff is not None and roster is not None and roster.on_leave(staff.id, day):
                rows.append({**base, "first_seen": None, "last_seen": None, "late_min": None, "early_min": None,
                             "status": ["st_leave"]})
                continue
            rows.append({**base, **judge(timeline.get(p.id, []), shift)})
    return rows
