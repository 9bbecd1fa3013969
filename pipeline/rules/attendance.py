"""Attendance (第五十一条) and closing-time service (第三十一条).

Lateness and early leave are mostly a daily computation over presence intervals,
done by the nightly report (`pipeline.reports.attendance`). The live rule `attendance.late_early` raises what can be known on the spot: nobody at
the post once the shift has started (late), and the post left for good before the
shift ended (known when the wall clock passes the shift end). `service.closing_leave`
watches the minutes around closing: customers still waiting and the staff gone.

Presence is per post (nobody is identified by face). Camera outage time is
"unknown": it never proves lateness nor presence.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from pipeline.config.hours import closing_time, opening_time
from pipeline.config.rule_params import RuleParams, Severity, TimeWindow
from pipeline.core.types import Event, new_event_id
from pipeline.rules.base import Finding, Rule, register
from pipeline.scene.facts import SceneFacts

Shift = tuple[dt.time, dt.time] | TimeWindow | tuple[str, str]


def _hhmm(day: dt.date, v: dt.time | str) -> dt.datetime:
    base = dt.datetime.combine(day, dt.time())
    if isinstance(v, dt.time):
        return base.replace(hour=v.hour, minute=v.minute, second=v.second)
    h, m = str(v).split(":")
    return base + dt.timedelta(hours=int(h), minutes=int(m))


def shift_bounds(shift: Shift, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Shift start/end on `day` as datetimes ('24:00' is the next midnight)."""
    start, end = (shift.start, shift.end) if isinstance(shift, TimeWindow) else shift
    return _hhmm(day, start), _hhmm(day, end)


def post_shift(ctx: Any, post_id: str, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
    """The shift a post is staffed for: its roster staff's own shift, else the site's opening hours."""
    roster = getattr(ctx, "roster", None)
    if roster is not None:
        spans = [shift_bounds(s.shift, day) for s in roster.staff
                 if s.post == post_id and s.shift is not None and not roster.on_leave(s.id, day)]
        if spans:
            return min(a for a, _ in spans), max(b for _, b in spans)
    site = getattr(ctx, "site", None)
    if site is None:
        return None
    a, b = opening_time(site, day), closing_time(site, day)
    return (a, b) if a is not None and b is not None else None


@dataclass
class _PostDay:
    shift: tuple[dt.datetime, dt.datetime]
    first_wall: dt.datetime | None = None
    last_wall: dt.datetime | None = None
    last_t: float | None = None
    early_done: bool = False
    observed_from: dt.datetime | None = None  # first frame seen of this post today


class LateEarlyParams(RuleParams):
    min_duration_s: float = Field(0.0, ge=0, le=86400, description="Nobody at the post this long after the grace: late")
    clear_after_s: float = Field(0.0, ge=0, le=3600, description="The late event ends when someone arrives")
    cooldown_s: float = Field(0.0, ge=0, le=86400, description="Quiet time after an event ends")
    active: Literal["opening_hours", "always"] | list[TimeWindow] = Field(
        "always", description="Attendance uses each post's own shift, so it is on at all hours by default")
    skip_breaks: bool = Field(False, description="Breaks do not pause attendance")
    late_grace_s: float = Field(0.0, ge=0, le=7200, description="Arriving within this much after shift start is on time")
    early_grace_s: float = Field(0.0, ge=0, le=7200, description="Leaving within this much before shift end is on time")
    min_presence_s: float = Field(60.0, ge=0, le=3600,
                                  description="Presence shorter than this (passing through) is not arrival (daily report)")


@register
class LateEarly(Rule):
    """Late: the shift has started and nobody has been at the post today. Early leave: the post's last
    presence was before the shift end, known once the wall clock passes the shift end."""

    rule_id = "attendance.late_early"
    article = "第五十一条"
    name_zh = "迟到早退"
    name_en = "Late arrival / early leave"
    Params = LateEarlyParams

    def __init__(self, params: LateEarlyParams, ctx: Any):
        super().__init__(params, ctx)
        self._days: dict[tuple[str, dt.date], _PostDay] = {}

    def _state(self, post_id: str, day: dt.date) -> _PostDay | None:
        st = self._days.get((post_id, day))
        if st is None:
            sh = post_shift(self.ctx, post_id, day)
            if sh is None:
                return None
            st = self._days[(post_id, day)] = _PostDay(sh)
        return st

    def judge(self, facts: SceneFacts) -> list[Finding]:
        if facts.wall is None:
            return []
        out = []
        g = dt.timedelta(seconds=self.params.late_grace_s)
        for post_id, pf in facts.posts.items():
            st = self._state(post_id, facts.wall.date())
            if st is None:
                continue
            start, end = st.shift
            seen = st.first_wall is not None or pf.staff_present
            if st.observed_from is None:
                st.observed_from = facts.wall
            cond: bool | None = start + g <= facts.wall < end and not seen
            if cond and st.observed_from > start + g:
                cond = None  # watching began after the shift started: they may have come earlier
            late_s = max(0.0, (facts.wall - start).total_seconds())
            out.append(Finding(("late", post_id, facts.wall.date()), cond, post_id=post_id,
                               details={"kind": "late", "shift_start": start.isoformat(timespec="minutes"),
                                        "late_s": round(late_s, 1)} if cond else {"kind": "late"}))
        return out

    def update(self, facts: SceneFacts) -> list[Event]:
        if facts.wall is None or not facts.online:
            return super().update(facts) if facts.wall is not None else []
        day = facts.wall.date()
        for post_id, pf in facts.posts.items():
            st = self._state(post_id, day)
            if st is not None and pf.staff_present:
                st.first_wall = st.first_wall or facts.wall
                st.last_wall, st.last_t = facts.wall, facts.t
        out = super().update(facts)
        out += self._early_leaves(facts)
        old = day - dt.timedelta(days=1)
        for key in [k for k in self._days if k[1] < old]:
            del self._days[key]  # bounded: only today and yesterday are kept
        for key in [k for k, d in self._dwell.items() if k[2] < old and not d.active]:
            del self._dwell[key]
        return out

    def _early_leaves(self, facts: SceneFacts) -> list[Event]:
        out = []
        g = dt.timedelta(seconds=self.params.early_grace_s)
        for (post_id, day), st in self._days.items():
            start, end = st.shift
            if st.early_done or facts.wall < end:
                continue
            st.early_done = True
            if st.last_wall is None or st.last_wall >= end - g or not self.enabled_for(post_id):
                continue
            early_s = (end - st.last_wall).total_seconds()
            ev = Event(event_id=new_event_id(), rule_id=self.rule_id, article=self.article,
                       source_id=facts.source_id, post_id=post_id, track_ids=(), state="start",
                       severity=self.params.severity, start_s=st.last_t, end_s=None, score=1.0,  # type: ignore[arg-type]
                       details={"kind": "early_leave", "early_leave_s": round(early_s, 1),
                                "last_seen": st.last_wall.isoformat(timespec="seconds"),
                                "shift_end": end.isoformat(timespec="minutes"), "day": day.isoformat()},
                       site_id=self.ctx.site_id, wall_start=st.last_wall.timestamp())
            out += [ev, ev.with_(state="end", end_s=facts.t)]
        return out

    @property
    def state_size(self) -> int:
        return len(self._dwell) + len(self._days)


class ClosingLeaveParams(RuleParams):
    min_duration_s: float = Field(30.0, ge=0, le=3600, description="Post empty with customers waiting this long")
    clear_after_s: float = Field(10.0, ge=0, le=3600, description="Staff back (or nobody waiting) this long ends it")
    cooldown_s: float = Field(300.0, ge=0, le=86400, description="Quiet time after an event ends")
    severity: Severity = Field("high", description="Base severity")
    active: Literal["opening_hours", "always"] | list[TimeWindow] = Field(
        "always", description="The rule keeps its own window around closing time")
    before_close_s: float = Field(900.0, ge=0, le=7200, description="Start watching this long before closing")
    after_close_s: float | None = Field(None, ge=0, le=14400,
                                        description="Stop watching this long after closing (default: site.closing_grace_s)")


@register
class ClosingLeave(Rule):
    """Around closing time, customers still wait and the staff who were serving have left (第三十一条)."""

    rule_id = "service.closing_leave"
    article = "第三十一条"
    name_zh = "未完成延时服务离岗"
    name_en = "Left at closing with customers waiting"
    Params = ClosingLeaveParams

    def __init__(self, params: ClosingLeaveParams, ctx: Any):
        super().__init__(params, ctx)
        self._last_present: dict[str, dt.datetime] = {}

    def _window(self, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
        site = getattr(self.ctx, "site", None)
        if site is None:
            return None
        close = closing_time(site, day)
        if close is None:
            return None
        after = self.params.after_close_s
        after = float(getattr(site, "closing_grace_s", 900.0)) if after is None else after
        return close - dt.timedelta(seconds=self.params.before_close_s), close + dt.timedelta(seconds=after)

    def update(self, facts: SceneFacts) -> list[Event]:
        if facts.wall is not None and facts.online:
            for post_id, pf in facts.posts.items():
                if pf.staff_present:
                    self._last_present[post_id] = facts.wall
        return super().update(facts)

    def judge(self, facts: SceneFacts) -> list[Finding]:
        if facts.wall is None:
            return []
        win = self._window(facts.wall.date())
        if win is None:
            return []
        close = win[0] + dt.timedelta(seconds=self.params.before_close_s)
        out = []
        for post_id, pf in facts.posts.items():
            waiting = facts.waiting_count + pf.customer_count
            last = self._last_present.get(post_id)
            left = not pf.staff_present and last is not None and last >= win[0]
            cond = win[0] <= facts.wall <= win[1] and waiting > 0 and left
            out.append(Finding(("post", post_id), cond, post_id=post_id,
                               details={"customers_waiting": waiting, "closing": close.isoformat(timespec="minutes"),
                                        "last_staff_seen": last.isoformat(timespec="seconds")} if cond else {}))
        return out
