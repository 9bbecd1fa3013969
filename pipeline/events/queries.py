"""Typed reads of the database: the one door the web app, the reports, the alert tail and
`eval reviews` go through.

Every event read comes with its clip and its latest verdict in one SQL statement (the
newest review row per event, joined through a `max(id)` subquery), so a list of N events
costs one query, not N + 1. Events a re-analysis no longer found (`superseded_at` set)
stay hidden unless asked for. Rows leave this module as frozen dataclasses, never as ORM
objects, so no caller holds a session or writes by accident.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session, aliased

from pipeline.events.schema import (
    CameraStateRow,
    ClipRow,
    EventRow,
    OutageRow,
    OutboxRow,
    PresenceRow,
    ReviewRow,
)

VERDICTS = ("confirmed", "dismissed")
Order = Literal["newest", "oldest", "changed"]


class HasSession(Protocol):
    def session(self) -> Session: ...


# --------------------------------------------------------------------------------------------
# events with their clip and latest verdict
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EventRecord:
    """One stored event with its clip row and its latest review (raw: "withdrawn" stays)."""

    event_id: str
    site_id: str
    source: str
    camera_id: str
    post_id: str | None
    rule_id: str
    article: str
    severity: str
    state: str
    start_s: float
    end_s: float | None
    wall_start: dt.datetime | None
    wall_end: dt.datetime | None
    track_ids: list[int]
    score: float
    details: dict[str, Any]
    recording: str | None
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    superseded_at: dt.datetime | None
    clip_path: str | None
    snapshot_path: str | None
    clip_status: str | None
    verdict: str | None
    verdict_reason: str | None

    @property
    def current_verdict(self) -> str | None:
        """The verdict the event has now: an undone one ("withdrawn") is no verdict."""
        return None if self.verdict == "withdrawn" else self.verdict

    @property
    def current_reason(self) -> str | None:
        return None if self.verdict == "withdrawn" else self.verdict_reason


@dataclass(frozen=True)
class EventQuery:
    """Which events: every field left None does not filter. `since`/`until` bound `wall_start`
    (since inclusive, until exclusive); `verdict` is confirmed, dismissed or "none" (unreviewed,
    an undone verdict included)."""

    camera_id: str | None = None
    post_id: str | None = None
    rule_id: str | None = None
    severity: str | None = None
    source: str | None = None
    site_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    verdict: str | None = None
    states: tuple[str, ...] | None = None  # only events last seen in one of these states
    open_only: bool = False  # still running (state other than "end")
    changed_after: dt.datetime | None = None  # updated_at (UTC, as stored) later than this
    with_evidence: bool = False  # only events whose clip row still names a clip or a snapshot
    include_superseded: bool = False


def latest_review() -> tuple[Any, Any]:
    """(subquery of event_id -> newest review id, an alias of the reviews table to join on it)."""
    latest = (select(ReviewRow.event_id, func.max(ReviewRow.id).label("rid"))
              .group_by(ReviewRow.event_id).subquery())
    return latest, aliased(ReviewRow)


def _with_latest(stmt: Select, latest: Any, rv: Any) -> Select:
    return (stmt.outerjoin(latest, latest.c.event_id == EventRow.event_id)
            .outerjoin(rv, rv.id == latest.c.rid))


def _conditions(q: EventQuery, rv: Any) -> list[Any]:
    conds: list[Any] = []
    if not q.include_superseded:  # events a re-analysis no longer found stay hidden
        conds.append(EventRow.superseded_at.is_(None))
    for col, val in ((EventRow.camera_id, q.camera_id), (EventRow.post_id, q.post_id),
                     (EventRow.rule_id, q.rule_id), (EventRow.severity, q.severity),
                     (EventRow.source, q.source), (EventRow.site_id, q.site_id)):
        if val:
            conds.append(col == val)
    if q.since is not None:
        conds.append(EventRow.wall_start >= q.since)
    if q.until is not None:
        conds.append(EventRow.wall_start < q.until)
    if q.states is not None:
        conds.append(EventRow.state.in_(q.states))
    if q.open_only:
        conds.append(EventRow.state != "end")
    if q.changed_after is not None:
        conds.append(EventRow.updated_at > q.changed_after)
    if q.with_evidence:
        conds.append((ClipRow.clip_path.is_not(None)) | (ClipRow.snapshot_path.is_not(None)))
    if q.verdict == "none":
        conds.append((rv.id.is_(None)) | (rv.verdict == "withdrawn"))
    elif q.verdict:
        conds.append(rv.verdict == q.verdict)
    return conds


def _event_select(q: EventQuery) -> Select:
    latest, rv = latest_review()
    stmt = _with_latest(select(EventRow, ClipRow, rv.verdict, rv.reason)
                        .outerjoin(ClipRow, ClipRow.event_id == EventRow.event_id), latest, rv)
    conds = _conditions(q, rv)
    return stmt.where(and_(*conds)) if conds else stmt


_ORDER = {
    "newest": (EventRow.wall_start.desc(), EventRow.created_at.desc(), EventRow.event_id),
    "oldest": (EventRow.wall_start, EventRow.created_at, EventRow.event_id),
    "changed": (EventRow.updated_at, EventRow.event_id),
}


def _record(e: EventRow, c: ClipRow | None, verdict: str | None, reason: str | None) -> EventRecord:
    return EventRecord(
        event_id=e.event_id, site_id=e.site_id, source=e.source, camera_id=e.camera_id, post_id=e.post_id,
        rule_id=e.rule_id, article=e.article, severity=e.severity, state=e.state, start_s=e.start_s,
        end_s=e.end_s, wall_start=e.wall_start, wall_end=e.wall_end, track_ids=e.track_ids, score=e.score,
        details=e.details, recording=e.recording, created_at=e.created_at, updated_at=e.updated_at,
        superseded_at=e.superseded_at, clip_path=c.clip_path if c else None,
        snapshot_path=c.snapshot_path if c else None, clip_status=c.status if c else None,
        verdict=verdict, verdict_reason=reason)


def events(store: HasSession, q: EventQuery = EventQuery(), *, order: Order = "newest",
           limit: int | None = None, offset: int = 0) -> list[EventRecord]:
    """The events matching `q`, each with clip and latest verdict: one SQL statement."""
    stmt = _event_select(q).order_by(*_ORDER[order])
    if limit is not None:
        stmt = stmt.limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    with store.session() as s:
        return [_record(*hit) for hit in s.execute(stmt)]


def count_events(store: HasSession, q: EventQuery = EventQuery()) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(_event_select(q).subquery())) or 0)


def event(store: HasSession, event_id: str) -> EventRecord | None:
    """One event by id (superseded or not), with clip and latest verdict."""
    stmt = _event_select(EventQuery(include_superseded=True)).where(EventRow.event_id == event_id)
    with store.session() as s:
        hit = s.execute(stmt).first()
    return _record(*hit) if hit else None


@dataclass(frozen=True)
class VerdictGroup:
    """Events sharing `key` (the values of the grouped event columns) and one latest verdict."""

    key: tuple[Any, ...]
    verdict: str | None
    reason: str | None
    n: int


GROUP_COLUMNS = {"rule_id": EventRow.rule_id, "camera_id": EventRow.camera_id, "source": EventRow.source,
                 "wall_start": EventRow.wall_start, "post_id": EventRow.post_id}


def verdict_groups(store: HasSession, by: Sequence[str], q: EventQuery = EventQuery()) -> list[VerdictGroup]:
    """Event counts grouped by the event columns `by` and the latest verdict and reason, in one query."""
    latest, rv = latest_review()
    cols = [GROUP_COLUMNS[b] for b in by]
    stmt = _with_latest(select(*cols, rv.verdict, rv.reason, func.count()).select_from(EventRow), latest, rv)
    conds = _conditions(q, rv)
    if conds:
        stmt = stmt.where(and_(*conds))
    stmt = stmt.group_by(*cols, rv.verdict, rv.reason)
    with store.session() as s:
        return [VerdictGroup(tuple(r[:len(cols)]), r[-3], r[-2], int(r[-1])) for r in s.execute(stmt)]


def distinct_values(store: HasSession) -> tuple[set[str], set[str], set[str]]:
    """(cameras, posts, rules) that events name, superseded events included."""
    with store.session() as s:
        cams = set(s.scalars(select(EventRow.camera_id).distinct()))
        posts = {p for p in s.scalars(select(EventRow.post_id).distinct()) if p}
        rules = set(s.scalars(select(EventRow.rule_id).distinct()))
    return cams, posts, rules


def posts_seen(store: HasSession) -> list[tuple[str, str]]:
    """(camera_id, post_id) pairs the presence table names, then those only the events name."""
    with store.session() as s:
        pairs = [(c, p) for c, p in s.execute(select(PresenceRow.camera_id, PresenceRow.post_id).distinct())]
        pairs += [(c, p) for c, p in s.execute(select(EventRow.camera_id, EventRow.post_id).distinct()) if p]
    return list(dict.fromkeys(pairs))


def last_change(store: HasSession) -> dt.datetime | None:
    with store.session() as s:
        return s.scalar(select(func.max(EventRow.updated_at)))


# --------------------------------------------------------------------------------------------
# reviews
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReviewRecord:
    verdict: str
    reason: str
    reviewer: str
    note: str
    at: dt.datetime


def reviews(store: HasSession, event_id: str) -> list[ReviewRecord]:
    """Every verdict of an event, oldest first (the audit log)."""
    with store.session() as s:
        rows = s.scalars(select(ReviewRow).where(ReviewRow.event_id == event_id).order_by(ReviewRow.id))
        return [ReviewRecord(r.verdict, r.reason, r.reviewer, r.note, r.at) for r in rows]


# --------------------------------------------------------------------------------------------
# presence, outages, cameras, clips, outbox
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PresenceRecord:
    id: int
    site_id: str
    source: str
    camera_id: str
    post_id: str
    state: str
    start_s: float
    end_s: float
    wall_start: dt.datetime | None
    wall_end: dt.datetime | None
    recording: str | None


def _presence(r: PresenceRow) -> PresenceRecord:
    return PresenceRecord(r.id, r.site_id, r.source, r.camera_id, r.post_id, r.state, r.start_s, r.end_s,
                          r.wall_start, r.wall_end, r.recording)


def presence(store: HasSession, *, since: dt.datetime, until: dt.datetime, source: str | None = None,
             site_id: str | None = None) -> list[PresenceRecord]:
    """Presence intervals overlapping [since, until) by wall time, oldest first."""
    q = select(PresenceRow).where(PresenceRow.wall_start < until, PresenceRow.wall_end > since)
    if source is not None:
        q = q.where(PresenceRow.source == source)
    if site_id is not None:
        q = q.where(PresenceRow.site_id == site_id)
    with store.session() as s:
        return [_presence(r) for r in s.scalars(q.order_by(PresenceRow.wall_start))]


def recent_presence(store: HasSession, post_id: str, limit: int = 200) -> list[PresenceRecord]:
    """A post's latest presence intervals, newest first."""
    q = (select(PresenceRow).where(PresenceRow.post_id == post_id)
         .order_by(PresenceRow.end_s.desc(), PresenceRow.id.desc()).limit(limit))
    with store.session() as s:
        return [_presence(r) for r in s.scalars(q)]


def last_presence_start(store: HasSession, post_id: str | None = None) -> dt.datetime | None:
    q = select(func.max(PresenceRow.wall_start))
    if post_id:
        q = q.where(PresenceRow.post_id == post_id)
    with store.session() as s:
        return s.scalar(q)


def rows_by_source(store: HasSession, *, since: dt.datetime, until: dt.datetime,
                   site_id: str | None = None) -> tuple[dict[str, int], dict[str, int]]:
    """({source: current events starting in [since, until)}, {source: presence rows overlapping it})."""
    eq = select(EventRow.source, func.count()).where(EventRow.wall_start >= since, EventRow.wall_start < until,
                                                     EventRow.superseded_at.is_(None))
    pq = select(PresenceRow.source, func.count()).where(PresenceRow.wall_start < until, PresenceRow.wall_end > since)
    if site_id is not None:
        eq = eq.where(EventRow.site_id == site_id)
        pq = pq.where(PresenceRow.site_id == site_id)
    with store.session() as s:
        ev = {k: int(n) for k, n in s.execute(eq.group_by(EventRow.source))}
        pr = {k: int(n) for k, n in s.execute(pq.group_by(PresenceRow.source))}
    return ev, pr


def live_rows_without_recording(store: HasSession, *, since: dt.datetime, until: dt.datetime) -> bool:
    """Does any 'live' event or presence row of [since, until) come from a camera (no recording)?"""
    checks = [
        select(func.count()).select_from(EventRow).where(
            EventRow.source == "live", EventRow.wall_start >= since, EventRow.wall_start < until,
            EventRow.recording.is_(None)),
        select(func.count()).select_from(PresenceRow).where(
            PresenceRow.source == "live", PresenceRow.wall_start < until, PresenceRow.wall_end > since,
            PresenceRow.recording.is_(None)),
    ]
    with store.session() as s:
        return any(s.scalar(q) for q in checks)


@dataclass(frozen=True)
class OutageRecord:
    id: int
    site_id: str
    camera_id: str
    start: dt.datetime
    end: dt.datetime | None
    reason: str


def outages(store: HasSession, *, camera_id: str | None = None, open_only: bool = False,
            starts_before: dt.datetime | None = None, site_id: str | None = None,
            limit: int | None = None) -> list[OutageRecord]:
    """Camera outages, newest first."""
    q = select(OutageRow)
    if camera_id:
        q = q.where(OutageRow.camera_id == camera_id)
    if open_only:
        q = q.where(OutageRow.end.is_(None))
    if starts_before is not None:
        q = q.where(OutageRow.start < starts_before)
    if site_id is not None:
        q = q.where(OutageRow.site_id == site_id)
    q = q.order_by(OutageRow.id.desc())
    if limit is not None:
        q = q.limit(limit)
    with store.session() as s:
        return [OutageRecord(o.id, o.site_id, o.camera_id, o.start, o.end, o.reason) for o in s.scalars(q)]


def open_outage_starts(store: HasSession) -> dict[str, dt.datetime]:
    """camera_id -> start of its open outage (the newest, should a camera have several)."""
    return {o.camera_id: o.start for o in reversed(outages(store, open_only=True))}


@dataclass(frozen=True)
class CameraStateRecord:
    camera_id: str
    site_id: str
    state: str
    fps: float
    drop_rate: float
    latency_s: float
    updated_at: dt.datetime | None


def camera_states(store: HasSession) -> list[CameraStateRecord]:
    with store.session() as s:
        return [CameraStateRecord(r.camera_id, r.site_id, r.state, r.fps, r.drop_rate, r.latency_s, r.updated_at)
                for r in s.scalars(select(CameraStateRow).order_by(CameraStateRow.camera_id))]


def ready_clips(store: HasSession, camera_id: str, limit: int = 5) -> list[str]:
    """Paths (relative to the data dir) of a camera's finished clips, newest event first."""
    q = (select(ClipRow.clip_path).join(EventRow, EventRow.event_id == ClipRow.event_id)
         .where(EventRow.camera_id == camera_id, ClipRow.clip_path.is_not(None), ClipRow.status == "ready")
         .order_by(EventRow.wall_start.desc(), ClipRow.updated_at.desc()).limit(limit))
    with store.session() as s:
        return list(s.scalars(q))


def outbox_sinks(store: HasSession) -> tuple[list[str], list[str]]:
    """(sink of each alert still waiting in the webhook outbox, sink of each dead letter)."""
    with store.session() as s:
        pend = list(s.scalars(select(OutboxRow.sink).where(OutboxRow.delivered_at.is_(None),
                                                           OutboxRow.dead_at.is_(None))))
        dead = list(s.scalars(select(OutboxRow.sink).where(OutboxRow.dead_at.is_not(None))))
    return pend, dead


def dead_letter_count(store: HasSession) -> int:
    """Webhook alerts given up on after the attempt limit."""
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.dead_at.is_not(None))) or 0)
