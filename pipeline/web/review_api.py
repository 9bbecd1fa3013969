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

from pipeline.events import queries, serialize
from pipeline.events.store import EventStore
from pipeline.rules import catalog  # noqa: F401
from pipeline.rules.articles import ARTICLES
from pipeline.rules.base import RULES
from pipeline.web.auth import SupervisorUser, ViewerUser
from pipeline.web.board import live_mode, run_home
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
from pipeline.web.names import Names, names_of, site_config_of
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


def _record_query(f: EventFilter) -> queries.EventQuery:
    return queries.EventQuery(
        camera_id=f.camera, post_id=f.post, rule_id=f.rule, severity=f.severity, verdict=f.verdict,
        since=dt.datetime.combine(f.since, dt.time()) if f.since else None,
        until=dt.datetime.combine(f.until + dt.timedelta(days=1), dt.time()) if f.until else None)


def query_events(store: EventStore, f: EventFilter, limit: int = PAGE_SIZE) -> tuple[list[dict[str, Any]], int]:
    """Events matching the filter (newest first) and the total count."""
    q = _record_query(f)
    total = queries.count_events(store, q)
    rows = [_row_dict(r) for r in queries.events(store, q, limit=limit, offset=(f.page - 1) * limit)]
    return rows, total


ROW_KEYS = ("event_id", "site_id", "source", "camera_id", "post_id", "rule_id", "article", "severity", "state",
            "start_s", "end_s")


def _display(v: dt.datetime | None) -> str | None:
    return v.isoformat(sep=" ", timespec="seconds") if v else None


def _row_dict(rec: queries.EventRecord) -> dict[str, Any]:
    """The review list's row: the event dict with local times, media URLs and the current verdict."""
    d = serialize.event_dict(rec, stamp=_display, current=True)
    return {
        **{k: d[k] for k in ROW_KEYS}, "ongoing": d["state"] != "end",
        "duration_s": None if d["end_s"] is None else d["end_s"] - d["start_s"],
        "wall_start": d["wall_start"], "wall_end": d["wall_end"],
        "details": d["details"] or {}, "clip_url": media_url(d["clip"]),
        "snapshot_url": media_url(d["snapshot"]), "clip_status": d["clip_status"],
        "verdict": d["verdict"], "verdict_reason": d["verdict_reason"],
    }


def get_event_row(store: EventStore, event_id: str) -> dict[str, Any] | None:
    rec = queries.event(store, event_id)
    return _row_dict(rec) if rec else None


def quality(store: EventStore, lang: str, names: Names | None = None) -> QualityOut:
    """Counts per rule and per camera by current verdict; FP rate = dismissed / (confirmed + dismissed)."""
    by: dict[str, dict[str, dict[str, int]]] = {"rule": {}, "camera": {}}
    names = names or Names()
    for g in queries.verdict_groups(store, ("rule_id", "camera_id")):
        for kind, key in (("rule", g.key[0]), ("camera", g.key[1])):
            c = by[kind].setdefault(key, {"confirmed": 0, "dismissed": 0, "unreviewed": 0})
            c[g.verdict if g.verdict in queries.VERDICTS else "unreviewed"] += g.n

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
    cams, posts, rules = queries.distinct_values(store)
    cfg = site_config_of(request.app)
    if cfg is not None:
        cams |= {c.id for c in cfg.cameras}
        posts |= {p.id for c in cfg.cameras for p in c.posts}

    rules |= set(RULES)
    return {"cameras": sorted(cams), "posts": sorted(posts), "rules": sorted(rules)}


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
