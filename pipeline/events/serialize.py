"""The one conversion of an event to a dict, and the shapes derived from it.

`event_dict` turns a stored event (`queries.EventRecord`) or a running one
(`core.types.Event`, via `event_of`) into the canonical dict: the fields of the events
table plus its clip and latest verdict. Every other shape is a projection of that dict:
the events.jsonl line (`jsonl_dict`), the review list's row (web.review_api), the
report's row (reports.data) and the alert (alerts.payload); `event_from_dict` is the way
back to an `Event` (the alert tail).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from pipeline.core.types import Event
from pipeline.events.queries import EventRecord
from pipeline.rules.articles import ARTICLES

Stamp = Callable[[dt.datetime | None], Any]


def iso(v: dt.datetime | None) -> str | None:
    return v.isoformat() if v else None


def jsonable(v: Any) -> Any:
    """numpy scalars to Python numbers, tuples to lists, keys to str, all the way down."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if hasattr(v, "item") and callable(v.item):
        return v.item()
    return v


def event_dict(rec: EventRecord, *, stamp: Stamp = iso, current: bool = False) -> dict[str, Any]:
    """A stored event as a dict. `stamp` renders wall_start/wall_end (ISO text by default);
    `current`: an undone verdict ("withdrawn") reads as no verdict."""
    withdrawn = current and rec.verdict == "withdrawn"
    return {
        "event_id": rec.event_id, "site_id": rec.site_id, "source": rec.source,
        "camera_id": rec.camera_id, "post_id": rec.post_id, "rule_id": rec.rule_id,
        "article": rec.article, "severity": rec.severity, "state": rec.state,
        "start_s": rec.start_s, "end_s": rec.end_s,
        "wall_start": stamp(rec.wall_start), "wall_end": stamp(rec.wall_end),
        "track_ids": rec.track_ids, "score": rec.score, "details": rec.details,
        "recording": rec.recording,
        "superseded": rec.superseded_at is not None,
        "clip": rec.clip_path, "snapshot": rec.snapshot_path, "clip_status": rec.clip_status,
        "verdict": None if withdrawn else rec.verdict,
        "verdict_reason": None if withdrawn else rec.verdict_reason,
    }


def event_of(ev: Event, *, camera_id: str | None = None, evidence: dict[str, Any] | None = None) -> dict[str, Any]:
    """A running event in the keys of `event_dict` (no verdict yet; evidence merged over the event's own)."""
    ev_evidence = {**ev.evidence, **(evidence or {})}
    return {
        "event_id": ev.event_id, "site_id": ev.site_id, "source": None,
        "camera_id": camera_id or ev.source_id, "post_id": ev.post_id, "rule_id": ev.rule_id,
        "article": ev.article, "severity": ev.severity, "state": ev.state,
        "start_s": ev.start_s, "end_s": ev.end_s,
        "wall_start": None if ev.wall_start is None else dt.datetime.fromtimestamp(ev.wall_start).isoformat(),
        "wall_end": None,
        "track_ids": list(ev.track_ids), "score": ev.score, "details": ev.details,
        "recording": None, "superseded": False,
        "clip": ev_evidence.get("clip"), "snapshot": ev_evidence.get("snapshot"), "clip_status": None,
        "verdict": None, "verdict_reason": None,
    }


def article_en(article: str) -> str:
    art = ARTICLES.get(article)
    return f"{art.title_en}: {art.gloss_en}" if art else article


def jsonl_dict(d: dict[str, Any]) -> dict[str, Any]:
    """The events.jsonl line of an event dict (`event_dict` or `event_of`)."""
    end_s = d.get("end_s")
    return {
        "event_id": d["event_id"], "rule_id": d["rule_id"], "article": d["article"],
        "article_en": article_en(d["article"]),
        "site_id": d["site_id"], "camera_id": d["camera_id"], "post_id": d["post_id"],
        "track_ids": list(d.get("track_ids") or []), "state": d["state"], "severity": d["severity"],
        "start_s": round(d["start_s"], 3), "end_s": None if end_s is None else round(end_s, 3),
        "wall_start": d.get("wall_start"), "score": round(float(d.get("score") or 0.0), 3),
        "clip": d.get("clip"), "snapshot": d.get("snapshot"), "details": d.get("details") or {},
    }


def event_json(ev: Event, *, camera_id: str | None = None, evidence: dict[str, Any] | None = None) -> dict[str, Any]:
    """A running event's events.jsonl line."""
    return jsonl_dict(event_of(ev, camera_id=camera_id, evidence=evidence))


def event_from_dict(d: dict[str, Any]) -> Event:
    """An `event_dict` back as an `Event` (what the alert builder takes)."""
    wall = d.get("wall_start")
    return Event(
        event_id=d["event_id"], rule_id=d["rule_id"], article=d["article"], source_id=d["camera_id"],
        post_id=d["post_id"], track_ids=tuple(d.get("track_ids") or ()), state=d["state"],
        severity=d["severity"], start_s=d["start_s"], end_s=d["end_s"], score=d.get("score") or 1.0,
        evidence={k: d[k] for k in ("clip", "snapshot") if d.get(k)}, details=d.get("details") or {},
        site_id=d.get("site_id") or "default",
        wall_start=dt.datetime.fromisoformat(wall).timestamp() if wall else None,
    )
