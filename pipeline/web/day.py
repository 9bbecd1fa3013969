"""The day view of one post: the presence the rules judged with, the events on it and their verdicts.

`/day?post=P1&date=2026-11-26&from=10:00&to=10:30` answers "where was 1号窗口 between
10:00 and 10:30" on one page: a timeline of the post's presence (the 5 s vote the rules
use, as written to the presence table; camera outages and the vote's first seconds are
unknown), the events drawn on it with their verdicts, and the minutes on post, away and
unknown in the range. The data come from the same queries as the daily report (batch
when the nightly batch ran for the day, else the live monitor / recorded files).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from pipeline.core.errors import ConfigError
from pipeline.events import queries
from pipeline.events.siteconfig import load_stored
from pipeline.reports.data import ReportQuery, _with_unknown, opening_windows
from pipeline.web.auth import ViewerUser
from pipeline.web.i18n import format_duration, get_lang, render, rule_name

router = APIRouter()
SVG_W, LANE_H = 1000, 34


@dataclass
class PostChoice:
    id: str
    name: str
    camera_id: str
    staff: str  # rostered staff, comma-separated


def site_config(request: Request) -> Any:
    """The served config, else the one the data folder was analysed with (names, roster)."""
    cfg = getattr(request.app.state, "config", None)
    if cfg is not None:
        return cfg
    cached = getattr(request.app.state, "day_stored_config", False)
    if cached is False:
        try:
            cached = load_stored(request.app.state.data_dir)
        except ConfigError:
            cached = None
        request.app.state.day_stored_config = cached
    return cached


def post_choices(request: Request) -> list[PostChoice]:
    cfg = site_config(request)
    out: dict[str, PostChoice] = {}
    if cfg is not None:
        for c in cfg.cameras:
            for p in c.posts:
                staff = ", ".join(s.name or s.id for s in cfg.roster.staff if s.post == p.id)
                out[p.id] = PostChoice(p.id, p.name or p.id, c.id, staff)
    for cam, pid in queries.posts_seen(request.app.state.store):
        out.setdefault(pid, PostChoice(pid, pid, cam, ""))
    return sorted(out.values(), key=lambda p: p.id)


def _latest_day(request: Request, post: str | None) -> dt.date:
    last = queries.last_presence_start(request.app.state.store, post)
    return last.date() if last else dt.date.today()


def _hhmm(v: str | None, field: str) -> dt.time | None:
    if not v:
        return None
    try:
        return dt.time.fromisoformat(v)
    except ValueError:
        raise HTTPException(422, f"{field}: expected a time HH:MM, got {v!r}") from None


def _clip(intervals: list[tuple[dt.datetime, dt.datetime, str]], lo: dt.datetime, hi: dt.datetime):
    out = []
    for s, e, st in intervals:
        s, e = max(s, lo), min(e, hi)
        if e > s:
            if out and out[-1][2] == st and (s - out[-1][1]).total_seconds() <= 1.0:
                out[-1] = (out[-1][0], max(out[-1][1], e), st)  # presence is written in chunks
            else:
                out.append((s, e, st))
    return out


def day_data(request: Request, post: PostChoice, day: dt.date, t_from: dt.time | None,
             t_to: dt.time | None) -> dict[str, Any]:
    """Presence and events of one post on one day, cut to the chosen time range."""

    cfg = site_config(request)
    q = ReportQuery(request.app.state.store, None)  # no site filter: the view shows what the folder holds
    counts = q.source_counts(day)
    source = "batch" if counts.get("batch") else ("live" if counts.get("live") else None)
    base = dt.datetime.combine(day, dt.time())
    presence = q.presence(day, source).get(post.id, []) if source else []
    outages = q.outages(day).get(post.camera_id, [])
    timeline = _with_unknown(presence, outages)
    events = [e for e in q.events(base, base + dt.timedelta(days=1), source) if e["post_id"] == post.id] \
        if source else []
    if t_from is not None:
        lo = dt.datetime.combine(day, t_from)
    else:  # default: the post's recorded span, else the opening hours, else the whole day
        known = [s for s, _, _ in timeline] + [e["wall_start"] for e in events]
        wins = opening_windows(cfg, day) if cfg is not None else []
        lo = min(known) if known else (wins[0][0] if wins else base)
        lo = lo.replace(second=0, microsecond=0)
    if t_to is not None:
        hi = dt.datetime.combine(day, t_to)
    else:
        ends = [e for _, e, _ in timeline] + [e["wall_end"] for e in events]
        wins = opening_windows(cfg, day) if cfg is not None else []
        hi = max(ends) if ends else (wins[-1][1] if wins else base + dt.timedelta(days=1))
        if hi.second or hi.microsecond:
            hi = hi.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    if hi <= lo:
        raise HTTPException(422, f"to: must be after from ({lo:%H:%M} - {hi:%H:%M})")
    ivs = _clip(timeline, lo, hi)
    shown = [e for e in events if e["wall_start"] < hi and e["wall_end"] >= lo]
    span = (hi - lo).total_seconds()
    totals = {st: sum((e - s).total_seconds() for s, e, x in ivs if x == st) for st in ("present", "absent")}
    totals["unknown"] = max(0.0, span - totals["present"] - totals["absent"])

    def x(t: dt.datetime) -> float:
        return round(max(0.0, min(1.0, (t - lo).total_seconds() / span)) * SVG_W, 2)

    bars = [{"x": x(s), "w": max(0.5, round(x(e) - x(s), 2)), "state": st, "start": s, "end": e,
             "seconds": (e - s).total_seconds()} for s, e, st in ivs]
    marks = [{**e, "x": x(max(e["wall_start"], lo)), "w": max(3.0, round(x(min(e["wall_end"], hi)) -
                                                                       x(max(e["wall_start"], lo)), 2))}
             for e in shown]
    n_ticks = 6
    ticks = [{"x": round(SVG_W * i / n_ticks, 2), "label": f"{lo + (hi - lo) * i / n_ticks:%H:%M:%S}"
              if span < 600 else f"{lo + (hi - lo) * i / n_ticks:%H:%M}"} for i in range(n_ticks + 1)]
    return {"source": source, "lo": lo, "hi": hi, "bars": bars, "marks": marks, "events": shown,
            "totals": totals, "ticks": ticks,
            "absences": [(s, e) for s, e, st in ivs if st == "absent"]}


@router.get("/day", response_class=HTMLResponse, include_in_schema=False)
def page_day(request: Request, user: ViewerUser, post: str | None = Query(None), date: str | None = Query(None),
             t_from: str | None = Query(None, alias="from"), t_to: str | None = Query(None, alias="to")):
    lang = get_lang(request)
    choices = post_choices(request)
    if post is None and choices:
        post = choices[0].id
    chosen = next((p for p in choices if p.id == post), None)
    if post is not None and chosen is None:
        raise HTTPException(404, f"post {post}: not found")
    if date:
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            raise HTTPException(422, f"date: expected a date YYYY-MM-DD, got {date!r}") from None
    else:
        day = _latest_day(request, post)
    data = day_data(request, chosen, day, _hhmm(t_from, "from"), _hhmm(t_to, "to")) if chosen else None

    def event_url(eid: str) -> str:
        return f"/events/{quote(eid)}"

    def shift_day(n: int) -> str:
        params = {"post": post or "", "date": (day + dt.timedelta(days=n)).isoformat()}
        if lang == "en":
            params["lang"] = "en"
        return "/day?" + urlencode(params)

    return render(request, "day.html", nav="day", choices=choices, post=chosen, day=day, d=data,
                  t_from=t_from or (f"{data['lo']:%H:%M}" if data else ""),
                  t_to=t_to or (f"{data['hi']:%H:%M}" if data else ""),
                  rule_name=rule_name, dur=lambda s: format_duration(s, lang), event_url=event_url,
                  prev_day=shift_day(-1), next_day=shift_day(1), SVG_W=SVG_W, LANE_H=LANE_H)
