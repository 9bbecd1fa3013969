"""What the daily report says, computed from the database: one `ReportData`, rendered three ways.

The day's figures come from one source: the nightly batch when it ran for the
day (it saw every recording), else the live monitor; the other source is only
shown side by side. Camera outages and stretches with no footage are
"unknown": they never count as on post and never as absent.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from pipeline.config.hours import _minutes
from pipeline.config.models import DAYS, rule_params
from pipeline.events import queries, serialize
from pipeline.events.store import EventStore
from pipeline.reports import attendance as att
from pipeline.rules import catalog  # noqa: F401  (registers every rule)
from pipeline.rules.articles import ARTICLES
from pipeline.rules.base import RULES
from pipeline.settings import SiteConfig

SEV_RANK = {"high": 3, "medium": 2, "low": 1, "info": 0}
AB_RULE = "roster.ab_both_absent"
UNATTENDED_RULE = "post.unattended"

Interval = tuple[dt.datetime, dt.datetime, str]  # start, end, state (present | absent | unknown)


@dataclass
class PostInfo:
    id: str
    name: str
    camera_id: str


@dataclass
class ReportData:
    day: dt.date
    site_id: str
    site_name: str
    source: str | None  # batch | live | None (no data)
    posts: list[PostInfo]
    events: list[dict[str, Any]]  # the day's events from `source`, newest last
    timeline: dict[str, list[Interval]]
    windows: list[tuple[dt.datetime, dt.datetime]]  # opening hours of the day, minus breaks
    by_rule: list[dict[str, Any]] = field(default_factory=list)
    by_post: list[dict[str, Any]] = field(default_factory=list)
    by_hour: dict[str, list[int]] = field(default_factory=dict)  # rule_id -> 24 counts
    attendance: list[dict[str, Any]] = field(default_factory=list)
    ab_gaps: list[dict[str, Any]] = field(default_factory=list)
    top_events: list[dict[str, Any]] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    trend: list[dict[str, Any]] = field(default_factory=list)
    live_vs_batch: list[dict[str, Any]] = field(default_factory=list)
    # the day's events less those a supervisor dismissed (false alarms): what every count and KPI uses
    counted: list[dict[str, Any]] = field(default_factory=list)
    dismissed: int = 0
    source_kind: str | None = None  # batch | live (the live monitor) | file (`analyze` of recordings) | None


# Names of the rulebook's rules, for events whose rule is not registered in this build (an older database).
KNOWN_NAMES: dict[str, tuple[str, str]] = {
    "posture.head_down": ("趴伏桌面", "Head down on desk"),
    "posture.lean_back": ("仰靠椅背", "Leaning back"),
    "posture.slouch": ("坐姿歪斜", "Slouching"),
    "posture.legs_crossed": ("跷二郎腿", "Legs crossed"),
    "gesture.arms_crossed": ("双手抱胸", "Arms crossed"),
    "gesture.chin_rest": ("托腮", "Chin propped"),
    "gesture.hands_on_hips": ("叉腰", "Hands on hips"),
    "phone.use": ("玩手机", "Phone use"),
    "desk.personal_items": ("桌面个人物品", "Personal items on desk"),
    "post.unattended": ("岗位无人", "Counter unattended"),
    "roster.ab_both_absent": ("AB角同时不在岗", "A and B both absent"),
    "staff.gathering": ("聚众聊天", "Staff gathering"),
    "hall.running": ("大厅跑动", "Running in the hall"),
    "hall.queue_pressure": ("排队人多", "Queue pressure"),
    "service.closing_leave": ("未完成延时服务", "Left before serving waiting customers"),
}


def rule_names(rule_id: str) -> tuple[str, str]:
    cls = RULES.get(rule_id)
    if cls is not None:
        return cls.name_zh, cls.name_en
    return KNOWN_NAMES.get(rule_id, (rule_id, rule_id))


def article_en(number: str) -> str:
    a = ARTICLES.get(number)
    return a.title_en if a else number


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time())
    return start, start + dt.timedelta(days=1)


def _minutes_of(intervals: list[Interval], state: str, windows: list[tuple[dt.datetime, dt.datetime]]) -> float:
    total = 0.0
    for s, e, st in intervals:
        if st != state:
            continue
        for ws, we in windows:
            lo, hi = max(s, ws), min(e, we)
            if hi > lo:
                total += (hi - lo).total_seconds()
    return total / 60.0


def opening_windows(cfg: SiteConfig | None, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    """The day's opening hours minus breaks; empty on a closed day."""
    if cfg is None:
        return []

    base = dt.datetime.combine(day, dt.time())
    wins = sorted((base + dt.timedelta(minutes=_minutes(oh.start)), base + dt.timedelta(minutes=_minutes(oh.end)))
                  for oh in cfg.site.opening_hours if DAYS[day.weekday()] in oh.days)
    for br in cfg.site.breaks:
        bs, be = base + dt.timedelta(minutes=_minutes(br.start)), base + dt.timedelta(minutes=_minutes(br.end))
        cut: list[tuple[dt.datetime, dt.datetime]] = []
        for ws, we in wins:
            if be <= ws or bs >= we:
                cut.append((ws, we))
                continue
            if ws < bs:
                cut.append((ws, bs))
            if be < we:
                cut.append((be, we))
        wins = cut
    return wins


class ReportQuery:
    """Reads the tables for one day through the store's queries (events with clip and latest verdict
    in one statement)."""

    def __init__(self, store: EventStore, cfg: SiteConfig | None = None):
        self.store, self.cfg = store, cfg
        self.site_id = cfg.site.id if cfg is not None else None

    def events(self, since: dt.datetime, until: dt.datetime, source: str | None = None) -> list[dict[str, Any]]:
        q = queries.EventQuery(since=since, until=until, source=source or None, site_id=self.site_id)
        return [_report_row(r) for r in queries.events(self.store, q, order="oldest")]

    def source_counts(self, day: dt.date) -> Counter:
        lo, hi = _day_bounds(day)
        ev, pr = queries.rows_by_source(self.store, since=lo, until=hi, site_id=self.site_id)
        return Counter({k: ev.get(k, 0) + pr.get(k, 0) for k in set(ev) | set(pr)})

    def presence(self, day: dt.date, source: str) -> dict[str, list[Interval]]:
        lo, hi = _day_bounds(day)
        out: dict[str, list[Interval]] = defaultdict(list)
        for r in queries.presence(self.store, since=lo, until=hi, source=source, site_id=self.site_id):
            out[r.post_id].append((max(r.wall_start, lo), min(r.wall_end, hi), r.state))
        return out

    def live_from_recordings(self, day: dt.date) -> bool:
        """True when every 'live' row of the day came from `analyze` of a recording (the live monitor
        writes none with a recording)."""
        lo, hi = _day_bounds(day)
        return not queries.live_rows_without_recording(self.store, since=lo, until=hi)

    def outages(self, day: dt.date) -> dict[str, list[tuple[dt.datetime, dt.datetime]]]:
        lo, hi = _day_bounds(day)
        now = dt.datetime.now()
        out: dict[str, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
        for r in reversed(queries.outages(self.store, starts_before=hi, site_id=self.site_id)):  # oldest first
            end = r.end or min(now, hi)
            if end > lo:
                out[r.camera_id].append((max(r.start, lo), min(end, hi)))
        return out

    def daily_counts(self, first: dt.date, last: dt.date) -> dict[tuple[dt.date, str], Counter]:
        lo, hi = _day_bounds(first)[0], _day_bounds(last)[1]
        out: dict[tuple[dt.date, str], Counter] = defaultdict(Counter)
        q = queries.EventQuery(since=lo, until=hi, site_id=self.site_id)
        for g in queries.verdict_groups(self.store, ("wall_start", "source"), q):
            wall, source = g.key
            c = out[(wall.date(), source)]
            c["events"] += g.n
            c[_current(g.verdict) or "unreviewed"] += g.n
        return out


def _report_row(rec: queries.EventRecord) -> dict[str, Any]:
    """The report's event row: the event dict with wall times as datetimes and the current verdict."""
    d = serialize.event_dict(rec, stamp=lambda v: v, current=True)
    start = d["wall_start"]
    end = d["wall_end"] or (start + dt.timedelta(seconds=(d["end_s"] or d["start_s"]) - d["start_s"]))
    return {
        **{k: d[k] for k in ("event_id", "source", "camera_id", "post_id", "rule_id", "article", "severity",
                             "state", "wall_start")},
        "wall_end": end, "duration_s": max(0.0, (end - start).total_seconds()), "details": d["details"] or {},
        "snapshot": d["snapshot"], "clip": d["clip"], "verdict": d["verdict"], "recording": d["recording"],
    }


def _current(verdict: str | None) -> str | None:
    """The latest review's verdict as the event's state: an undone verdict ("withdrawn") is unreviewed."""
    return None if verdict == "withdrawn" else verdict


def _posts(cfg: SiteConfig | None, events: list[dict[str, Any]], timeline: dict[str, list[Interval]]) -> list[PostInfo]:
    posts: list[PostInfo] = []
    if cfg is not None:
        posts = [PostInfo(p.id, p.name or p.id, c.id) for c in cfg.cameras for p in c.posts]
    known = {p.id for p in posts}
    cams = {e["post_id"]: e["camera_id"] for e in events if e["post_id"]}
    for pid in sorted(set(cams) | set(timeline)):
        if pid not in known:
            posts.append(PostInfo(pid, pid, cams.get(pid, "")))
    return posts


def _with_unknown(intervals: list[Interval], outages: list[tuple[dt.datetime, dt.datetime]]) -> list[Interval]:
    """Presence with outage time cut out and shown as unknown (an outage wins over any other state)."""
    out: list[Interval] = []
    for s, e, st in intervals:
        pieces = [(s, e)]
        for os_, oe in outages:
            nxt = []
            for ps, pe in pieces:
                if oe <= ps or os_ >= pe:
                    nxt.append((ps, pe))
                    continue
                if ps < os_:
                    nxt.append((ps, os_))
                if oe < pe:
                    nxt.append((oe, pe))
            pieces = nxt
        out += [(ps, pe, st) for ps, pe in pieces if pe > ps]
    out += [(os_, oe, "unknown") for os_, oe in outages]
    return sorted(out)


def build_report_data(store: EventStore, day: dt.date, cfg: SiteConfig | None = None, *,
                      top_n: int = 12) -> ReportData:
    """Everything the report shows for `day`, from one store."""
    q = ReportQuery(store, cfg)
    counts = q.source_counts(day)
    source = "batch" if counts.get("batch") else ("live" if counts.get("live") else None)
    lo, hi = _day_bounds(day)
    events = q.events(lo, hi, source) if source else []
    presence = q.presence(day, source) if source else {}
    outages = q.outages(day)
    posts = _posts(cfg, events, presence)
    timeline = {p.id: _with_unknown(presence.get(p.id, []), outages.get(p.camera_id, [])) for p in posts}
    windows = opening_windows(cfg, day)
    spans = windows or _recorded_span(timeline)
    data = ReportData(day=day, site_id=cfg.site.id if cfg else "default",
                      site_name=(cfg.site.name or cfg.site.id) if cfg else "", source=source, posts=posts,
                      events=events, timeline=timeline, windows=windows)
    data.counted = [e for e in events if e["verdict"] != "dismissed"]
    data.dismissed = len(events) - len(data.counted)
    data.source_kind = "file" if source == "live" and q.live_from_recordings(day) else source
    _fill_rule_and_post_tables(data, spans)
    data.attendance = att.attendance_rows(cfg, day, posts, timeline)
    data.ab_gaps = [{"event_id": e["event_id"], "duty": _duty_of(e), "post_id": e["post_id"] or "",
                     "start": e["wall_start"], "end": e["wall_end"], "minutes": round(e["duration_s"] / 60, 1),
                     "article": e["article"], "verdict": e["verdict"]}
                    for e in data.counted if e["rule_id"] == AB_RULE]
    data.ab_gaps += cross_camera_gaps(cfg, day, timeline)
    data.top_events = sorted(data.counted, key=lambda e: (-SEV_RANK.get(e["severity"], 0), -e["duration_s"],
                                                    e["wall_start"]))[:top_n]
    data.verdicts = _verdict_rows(events)
    data.trend = _trend_rows(q, day)
    if counts.get("batch") and counts.get("live"):
        data.live_vs_batch = _live_vs_batch(q.events(lo, hi, "live"), events)
    return data


def _absent_spans(intervals: list[Interval]) -> list[tuple[dt.datetime, dt.datetime]]:
    return [(s, e) for s, e, st in intervals if st == "absent"]


def _intersect(a: list[tuple[dt.datetime, dt.datetime]], b: list[tuple[dt.datetime, dt.datetime]]
               ) -> list[tuple[dt.datetime, dt.datetime]]:
    out = []
    for s1, e1 in a:
        for s2, e2 in b:
            s, e = max(s1, s2), min(e1, e2)
            if e > s:
                out.append((s, e))
    out.sort()
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for s, e in out:  # presence is written in chunks: join touching pieces
        if merged and s <= merged[-1][1] + dt.timedelta(seconds=1):
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def cross_camera_gaps(cfg: SiteConfig | None, day: dt.date, timeline: dict[str, list[Interval]]
                      ) -> list[dict[str, Any]]:
    """A/B gaps of duties whose posts are on different cameras, from the presence table.

    A batch analyses each camera's recordings on its own, so no rule sees both posts;
    the day's presence intervals do. Only seen absence counts (camera outage is
    unknown), A on leave counts as away, and gaps shorter than the rule's
    min_duration_s are left out.
    """
    if cfg is None:
        return []

    home = cfg.post_home()
    min_s = rule_params(cfg.rules, AB_RULE).min_duration_s
    lo, hi = _day_bounds(day)
    windows = opening_windows(cfg, day) or [(lo, hi)]
    rows = []
    for d in cfg.roster.duties:
        if home.get(d.a.post) == home.get(d.b.post) or d.a.post not in home or d.b.post not in home:
            continue  # same camera: the live/batch rule judged it and raised events
        a_away = windows if cfg.roster.on_leave(d.a.staff, day) else _absent_spans(timeline.get(d.a.post, []))
        gaps = _intersect(_intersect(a_away, _absent_spans(timeline.get(d.b.post, []))), windows)
        for s, e in gaps:
            if (e - s).total_seconds() >= min_s:
                rows.append({"event_id": None, "duty": d.name or d.id, "post_id": d.a.post, "start": s, "end": e,
                             "minutes": round((e - s).total_seconds() / 60, 1), "article": "第二十一条",
                             "verdict": None, "from_presence": True})
    return rows


def _recorded_span(timeline: dict[str, list[Interval]]) -> list[tuple[dt.datetime, dt.datetime]]:
    all_iv = [iv for ivs in timeline.values() for iv in ivs]
    if not all_iv:
        return []
    return [(min(s for s, _, _ in all_iv), max(e for _, e, _ in all_iv))]


def _duty_of(e: dict[str, Any]) -> str:
    d = e["details"] or {}
    return str(d.get("duty_name") or d.get("duty") or d.get("duty_id") or e["post_id"] or "")


def _fill_rule_and_post_tables(data: ReportData, spans: list[tuple[dt.datetime, dt.datetime]]) -> None:
    per_rule: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in data.counted:
        per_rule[e["rule_id"]].append(e)
    for rule_id, evs in sorted(per_rule.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        zh, en = rule_names(rule_id)
        art = evs[0]["article"]
        data.by_rule.append({"rule_id": rule_id, "name_zh": zh, "name_en": en, "article": art,
                             "article_en": article_en(art), "count": len(evs),
                             "minutes": round(sum(e["duration_s"] for e in evs) / 60, 1)})
        hours = [0] * 24
        for e in evs:
            hours[e["wall_start"].hour] += 1
        data.by_hour[rule_id] = hours
    for p in data.posts:
        evs = [e for e in data.counted if e["post_id"] == p.id]
        iv = data.timeline.get(p.id, [])
        present, absent = _minutes_of(iv, "present", spans), _minutes_of(iv, "absent", spans)
        unknown = max(0.0, sum((we - ws).total_seconds() for ws, we in spans) / 60 - present - absent)
        data.by_post.append({
            "post_id": p.id, "name": p.name, "camera_id": p.camera_id, "violations": len(evs),
            "present_min": round(present, 1), "absent_min": round(absent, 1), "unknown_min": round(unknown, 1),
            "onpost_rate": round(present / (present + absent), 4) if present + absent > 0 else None,
            "unattended_min": round(sum(e["duration_s"] for e in evs if e["rule_id"] == UNATTENDED_RULE) / 60, 1),
        })


def _verdict_rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    per: dict[str, Counter] = defaultdict(Counter)
    for e in events:
        per[e["rule_id"]][e["verdict"] or "unreviewed"] += 1
    for rule_id, c in sorted(per.items()):
        zh, en = rule_names(rule_id)
        rows.append({"rule_id": rule_id, "name_zh": zh, "name_en": en, "confirmed": c["confirmed"],
                     "dismissed": c["dismissed"], "unreviewed": c["unreviewed"], "total": sum(c.values())})
    return rows


def _trend_rows(q: ReportQuery, day: dt.date) -> list[dict[str, Any]]:
    first = day - dt.timedelta(days=6)
    counts = q.daily_counts(first, day)
    rows = []
    for i in range(7):
        d = first + dt.timedelta(days=i)
        live, batch = counts.get((d, "live"), Counter()), counts.get((d, "batch"), Counter())
        main = batch if batch["events"] else live
        rows.append({"day": d, "live": live["events"], "batch": batch["events"],
                     "events": main["events"] - main["dismissed"],
                     "confirmed": main["confirmed"], "dismissed": main["dismissed"]})
    return rows


def _live_vs_batch(live: list[dict[str, Any]], batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    lc, bc = Counter(e["rule_id"] for e in live), Counter(e["rule_id"] for e in batch)
    rows = []
    for rule_id in sorted(set(lc) | set(bc)):
        zh, en = rule_names(rule_id)
        rows.append({"rule_id": rule_id, "name_zh": zh, "name_en": en, "live": lc[rule_id], "batch": bc[rule_id],
                     "difference": bc[rule_id] - lc[rule_id]})
    return rows
