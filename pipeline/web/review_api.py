"""Supervisor review: event list with filters, event page, verdicts (single and bulk), and
the quality view (false-positive rate per rule and per camera).

JSON routes live under /api; the server-rendered pages use the same query functions, so
the UI and the API cannot drift apart. Every verdict is appended to the `reviews` table
(the audit log); the latest one is the event's current verdict.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from pipeline.events.schema import ClipRow, EventRow, ReviewRow
from pipeline.events.store import EventStore
from pipeline.web.auth import SupervisorUser, ViewerUser
from pipeline.web.i18n import (
    CONFIRM_REASONS,
    DISMISS_REASONS,
    REASONS,
    SEVERITIES,
    detail_items,
    format_details,
    get_lang,
    local_time,
    render,
    rule_name,
)
from pipeline.web.names import Names, names_of
from pipeline.web.schemas import (
    BulkVerdictOut,
    BulkVerdictRequest,
    EventList,
    EventOut,
    QualityOut,
    QualityRow,
    ReviewOut,
    UndoOut,
    UndoRequest,
    VerdictOut,
    VerdictRequest,
)

PAGE_SIZE = 100
router = APIRouter()


def store_of(request: Request) -> EventStore:
    return request.app.state.store


def media_url(rel: str | None) -> str | None:
    """URL of a clip/snapshot stored relative to the data dir (under clips/ or snapshots/)."""
    if not rel:
        return None
    rel = rel.replace("\\", "/").lstrip("/")
    if not rel.startswith(("clips/", "snapshots/")):
        kind = "clips" if rel.lower().endswith((".mp4", ".webm", ".mkv", ".mov")) else "snapshots"
        rel = f"{kind}/{rel}"
    return "/media/" + quote(rel)


# --------------------------------------------------------------------------------------------
# queries
# --------------------------------------------------------------------------------------------
@dataclass
class EventFilter:
    since: dt.date | None = None
    until: dt.date | None = None  # inclusive day
    camera: str | None = None
    post: str | None = None
    rule: str | None = None
    severity: str | None = None
    verdict: str | None = None  # confirmed | dismissed | none
    page: int = 1

    def query_string(self, **override: Any) -> str:
        vals = {"since": self.since, "until": self.until, "camera": self.camera, "post": self.post,
                "rule": self.rule, "severity": self.severity, "verdict": self.verdict, "page": self.page}
        vals.update(override)
        return urlencode({k: v for k, v in vals.items() if v not in (None, "") and not (k == "page" and v == 1)})


def _date(v: str | None, field: str) -> dt.date | None:
    if not v:
        return None
    try:
        return dt.date.fromisoformat(v)
    except ValueError:
        raise HTTPException(422, f"{field}: expected a date YYYY-MM-DD, got {v!r}") from None


def event_filter(since: str | None = Query(None), until: str | None = Query(None), camera: str | None = Query(None),
                 post: str | None = Query(None), rule: str | None = Query(None), severity: str | None = Query(None),
                 verdict: str | None = Query(None), page: int = Query(1, ge=1, le=10_000)) -> EventFilter:
    if severity and severity not in SEVERITIES:
        raise HTTPException(422, f"severity: one of {', '.join(SEVERITIES)}, got {severity!r}")
    if verdict and verdict not in ("confirmed", "dismissed", "none"):
        raise HTTPException(422, f"verdict: one of confirmed, dismissed, none, got {verdict!r}")
    return EventFilter(_date(since, "since"), _date(until, "until"), camera or None, post or None, rule or None,
                       severity or None, verdict or None, page)


Filter = Annotated[EventFilter, Depends(event_filter)]


def _latest_review():
    latest = (select(ReviewRow.event_id, func.max(ReviewRow.id).label("rid"))
              .group_by(ReviewRow.event_id).subquery())
    rv = aliased(ReviewRow)
    return latest, rv


def query_events(store: EventStore, f: EventFilter, limit: int = PAGE_SIZE) -> tuple[list[dict[str, Any]], int]:
    """Events matching the filter (newest first) and the total count."""
    latest, rv = _latest_review()
    q = (select(EventRow, ClipRow, rv.verdict, rv.reason)
         .outerjoin(ClipRow, ClipRow.event_id == EventRow.event_id)
         .outerjoin(latest, latest.c.event_id == EventRow.event_id)
         .outerjoin(rv, rv.id == latest.c.rid))
    conds = [EventRow.superseded_at.is_(None)]  # events a re-analysis no longer found stay hidden
    for col, val in ((EventRow.camera_id, f.camera), (EventRow.post_id, f.post), (EventRow.rule_id, f.rule),
                     (EventRow.severity, f.severity)):
        if val:
            conds.append(col == val)
    if f.since:
        conds.append(EventRow.wall_start >= dt.datetime.combine(f.since, dt.time()))
    if f.until:
        conds.append(EventRow.wall_start < dt.datetime.combine(f.until + dt.timedelta(days=1), dt.time()))
    if f.verdict == "none":
        conds.append((rv.id.is_(None)) | (rv.verdict == "withdrawn"))
    elif f.verdict:
        conds.append(rv.verdict == f.verdict)
    if conds:
        q = q.where(and_(*conds))
    with store.session() as s:
        total = int(s.scalar(select(func.count()).select_from(q.subquery())) or 0)
        q = (q.order_by(EventRow.wall_start.desc(), EventRow.created_at.desc(), EventRow.event_id)
             .limit(limit).offset((f.page - 1) * limit))
        rows = [_row_dict(e, c, v, r) for e, c, v, r in s.execute(q)]
    return rows, total


def _row_dict(e: EventRow, c: ClipRow | None, verdict: str | None, reason: str | None) -> dict[str, Any]:
    if verdict == "withdrawn":  # an undone verdict: unreviewed again
        verdict = reason = None
    return {
        "event_id": e.event_id, "site_id": e.site_id, "source": e.source, "camera_id": e.camera_id,
        "post_id": e.post_id, "rule_id": e.rule_id, "article": e.article, "severity": e.severity,
        "state": e.state, "start_s": e.start_s, "end_s": e.end_s, "ongoing": e.state != "end",
        "duration_s": None if e.end_s is None else e.end_s - e.start_s,
        "wall_start": e.wall_start.isoformat(sep=" ", timespec="seconds") if e.wall_start else None,
        "wall_end": e.wall_end.isoformat(sep=" ", timespec="seconds") if e.wall_end else None,
        "details": e.details or {}, "clip_url": media_url(c.clip_path if c else None),
        "snapshot_url": media_url(c.snapshot_path if c else None), "clip_status": c.status if c else None,
        "verdict": verdict, "verdict_reason": reason,
    }


def get_event_row(store: EventStore, event_id: str) -> dict[str, Any] | None:
    latest, rv = _latest_review()
    q = (select(EventRow, ClipRow, rv.verdict, rv.reason).where(EventRow.event_id == event_id)
         .outerjoin(ClipRow, ClipRow.event_id == EventRow.event_id)
         .outerjoin(latest, latest.c.event_id == EventRow.event_id)
         .outerjoin(rv, rv.id == latest.c.rid))
    with store.session() as s:
        hit = s.execute(q).first()
    return _row_dict(*hit) if hit else None


def quality(store: EventStore, lang: str, names: Names | None = None) -> QualityOut:
    """Counts per rule and per camera by current verdict; FP rate = dismissed / (confirmed + dismissed)."""
    latest, rv = _latest_review()
    q = (select(EventRow.rule_id, EventRow.camera_id, rv.verdict, func.count())
         .outerjoin(latest, latest.c.event_id == EventRow.event_id)
         .outerjoin(rv, rv.id == latest.c.rid)
         .where(EventRow.superseded_at.is_(None))
         .group_by(EventRow.rule_id, EventRow.camera_id, rv.verdict))
    by: dict[str, dict[str, dict[str, int]]] = {"rule": {}, "camera": {}}
    names = names or Names()
    with store.session() as s:
        for rule_id, cam, verdict, n in s.execute(q):
            for kind, key in (("rule", rule_id), ("camera", cam)):
                c = by[kind].setdefault(key, {"confirmed": 0, "dismissed": 0, "unreviewed": 0})
                c[verdict if verdict in ("confirmed", "dismissed") else "unreviewed"] += int(n)

    def rows(kind: str) -> list[QualityRow]:
        out = []
        for key, c in sorted(by[kind].items()):
            judged = c["confirmed"] + c["dismissed"]
            out.append(QualityRow(key=key, label=rule_name(key, lang) if kind == "rule" else names.camera(key),
                                  events=judged + c["unreviewed"], confirmed=c["confirmed"],
                                  dismissed=c["dismissed"], unreviewed=c["unreviewed"],
                                  fp_rate=(c["dismissed"] / judged) if judged else None))
        return out

    return QualityOut(by_rule=rows("rule"), by_camera=rows("camera"))


def filter_choices(request: Request) -> dict[str, list[str]]:
    """Cameras, posts and rules for the filter menus: from the site config and the events seen."""
    store = store_of(request)
    with store.session() as s:
        cams = set(s.scalars(select(EventRow.camera_id).distinct()))
        posts = {p for p in s.scalars(select(EventRow.post_id).distinct()) if p}
        rules = set(s.scalars(select(EventRow.rule_id).distinct()))
    cfg = getattr(request.app.state, "config", None)
    if cfg is not None:
        cams |= {c.id for c in cfg.cameras}
        posts |= {p.id for c in cfg.cameras for p in c.posts}
    from pipeline.rules import catalog  # noqa: F401
    from pipeline.rules.base import RULES

    rules |= set(RULES)
    return {"cameras": sorted(cams), "posts": sorted(posts), "rules": sorted(rules)}


def live_mode(app: Any) -> str | None:
    """What the SSE feed can push here: "run" (cameras in this process), "tail" (events other processes
    write into the database, `serve`) or None (no alert bus: nothing is ever pushed)."""
    if getattr(app.state, "alert_bus", None) is None:
        return None
    return "run" if getattr(app.state, "live_runner", None) is not None else "tail"


def to_out(row: dict[str, Any], lang: str, names: Names | None = None) -> EventOut:
    names = names or Names()
    return EventOut(rule_name=rule_name(row["rule_id"], lang),
                    details_text=format_details(row["details"], lang, names), camera_name=names.camera(row["camera_id"]),
                    post_name=names.post(row["post_id"]) if row["post_id"] else None, **row)


def _apply_verdict(store: EventStore, event_id: str, body: VerdictRequest, user: dict[str, Any]) -> None:
    try:
        store.add_review(event_id, body.verdict, body.reason, user["username"], body.note)
    except KeyError:
        raise HTTPException(404, f"event {event_id}: not found") from None


# --------------------------------------------------------------------------------------------
# JSON API
# --------------------------------------------------------------------------------------------
@router.get("/api/events", response_model=EventList, tags=["review"])
def api_events(request: Request, f: Filter,
               user: ViewerUser) -> EventList:
    rows, total = query_events(store_of(request), f)
    lang, names = get_lang(request), names_of(request.app)
    return EventList(events=[to_out(r, lang, names) for r in rows], total=total)


@router.get("/api/events/{event_id}", response_model=EventOut, tags=["review"])
def api_event(event_id: str, request: Request, user: ViewerUser) -> EventOut:
    row = get_event_row(store_of(request), event_id)
    if row is None:
        raise HTTPException(404, f"event {event_id}: not found")
    return to_out(row, get_lang(request), names_of(request.app))


@router.get("/api/events/{event_id}/reviews", response_model=list[ReviewOut], tags=["review"])
def api_reviews(event_id: str, request: Request, user: ViewerUser) -> list[ReviewOut]:
    if get_event_row(store_of(request), event_id) is None:
        raise HTTPException(404, f"event {event_id}: not found")
    return [ReviewOut(**r) for r in store_of(request).reviews(event_id)]


@router.post("/api/events/{event_id}/review", response_model=VerdictOut, tags=["review"])
def api_review(event_id: str, body: VerdictRequest, request: Request,
               user: SupervisorUser) -> VerdictOut:
    store = store_of(request)
    _apply_verdict(store, event_id, body, user)
    return VerdictOut(event_id=event_id, verdict=body.verdict,
                      history=[ReviewOut(**r) for r in store.reviews(event_id)])


@router.post("/api/reviews/bulk", response_model=BulkVerdictOut, tags=["review"])
def api_bulk(body: BulkVerdictRequest, request: Request, user: SupervisorUser) -> BulkVerdictOut:
    store = store_of(request)
    updated, missing = [], []
    for eid in dict.fromkeys(body.event_ids):
        try:
            store.add_review(eid, body.verdict, body.reason, user["username"], body.note)
            updated.append(eid)
        except KeyError:
            missing.append(eid)
    return BulkVerdictOut(updated=updated, missing=missing)


def undo_verdicts(store: EventStore, event_ids: list[str], verdict: str, reviewer: str) -> UndoOut:
    """Give each event back the verdict it had before `reviewer` set `verdict` (appended: the log keeps both)."""
    restored: dict[str, str | None] = {}
    skipped: list[str] = []
    for eid in dict.fromkeys(event_ids):
        hist = store.reviews(eid)
        if not hist or hist[-1]["verdict"] != verdict or hist[-1]["reviewer"] != reviewer:
            skipped.append(eid)
            continue
        prev = hist[-2] if len(hist) > 1 else None
        if prev is None or prev["verdict"] == "withdrawn":
            store.add_review(eid, "withdrawn", "", reviewer, "undo")
            restored[eid] = None
        else:
            store.add_review(eid, prev["verdict"], prev["reason"], reviewer, prev["note"])
            restored[eid] = prev["verdict"]
    return UndoOut(restored=restored, skipped=skipped)


@router.post("/api/reviews/undo", response_model=UndoOut, tags=["review"])
def api_undo(body: UndoRequest, request: Request, user: SupervisorUser) -> UndoOut:
    """Undo a bulk verdict of this reviewer: each event gets back its previous verdict (or none)."""
    return undo_verdicts(store_of(request), body.event_ids, body.verdict, user["username"])


@router.get("/api/quality", response_model=QualityOut, tags=["review"])
def api_quality(request: Request, user: ViewerUser) -> QualityOut:
    return quality(store_of(request), get_lang(request), names_of(request.app))


# --------------------------------------------------------------------------------------------
# pages
# --------------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse, include_in_schema=False)
@router.get("/review", response_class=HTMLResponse, include_in_schema=False)
def page_list(request: Request, f: Filter, user: ViewerUser):
    if request.url.path == "/":
        from pipeline.web.board import run_home

        home = run_home(request)  # `counterwatch run` opens on the hall board
        if home is not None:
            return home
    rows, total = query_events(store_of(request), f)
    pages = max(1, -(-total // PAGE_SIZE))
    return render(request, "list.html", rows=rows, total=total, f=f, page=f.page, pages=pages,
                  choices=filter_choices(request), live_mode=live_mode(request.app))


@router.get("/fragments/event-row/{event_id}", response_class=HTMLResponse, include_in_schema=False)
def fragment_row(event_id: str, request: Request, user: ViewerUser):
    """One table row, for rows added live from the SSE feed."""
    row = get_event_row(store_of(request), event_id)
    if row is None:
        raise HTTPException(404, f"event {event_id}: not found")
    return render(request, "_row.html", row=row)


@router.get("/events/{event_id}", response_class=HTMLResponse, include_in_schema=False)
def page_event(event_id: str, request: Request, user: ViewerUser):
    from pipeline.rules.articles import ARTICLES

    store = store_of(request)
    row = get_event_row(store, event_id)
    if row is None:
        raise HTTPException(404, f"event {event_id}: not found")
    lang, names = get_lang(request), names_of(request.app)
    other = "zh" if lang == "en" else "en"
    details = [(key, label, value, other_label) for (key, label, value), (_, other_label, _) in
               zip(detail_items(row["details"], lang, names), detail_items(row["details"], other, names), strict=True)]
    history = [{**h, "at_local": local_time(h["at"])} for h in store.reviews(event_id)]
    return render(request, "event.html", ev=row, details=details, art=ARTICLES.get(row["article"]), history=history,
                  saved=request.query_params.get("saved") == "1", back=request.query_params.get("back", ""),
                  confirm_reasons=CONFIRM_REASONS, dismiss_reasons=DISMISS_REASONS)


@router.post("/events/{event_id}/review", include_in_schema=False)
def form_review(event_id: str, request: Request, user: SupervisorUser, verdict: str = Form(...),
                reason: str = Form("other"), note: str = Form("")):
    if verdict not in ("confirmed", "dismissed") or reason not in REASONS:
        raise HTTPException(422, f"verdict/reason: unknown value {verdict!r}/{reason!r}")
    allowed = CONFIRM_REASONS if verdict == "confirmed" else DISMISS_REASONS
    if reason not in allowed:
        raise HTTPException(422, f"reason {reason!r} does not fit verdict {verdict!r} (one of {', '.join(allowed)})")
    _apply_verdict(store_of(request), event_id, VerdictRequest(verdict=verdict, reason=reason, note=note[:2000]),
                   user)
    return RedirectResponse(f"/events/{quote(event_id)}?saved=1", status_code=303)


@router.get("/quality", response_class=HTMLResponse, include_in_schema=False)
def page_quality(request: Request, user: ViewerUser):
    return render(request, "quality.html", q=quality(store_of(request), get_lang(request), names_of(request.app)))
