"""Re-analysis of a recording reconciles with what an earlier analysis stored; it never deletes.

An event found again (same camera, post and rule, overlapping time) takes the id
of the stored one, so its reviews, clip and snapshot stay attached. A stored event
that the new analysis no longer finds is marked superseded (kept with its reviews,
hidden from the review list and the reports by default).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update

from pipeline.core.types import Event
from pipeline.events.schema import EventRow, utcnow
from pipeline.events.store import EventStore

log = logging.getLogger(__name__)


def recording_keys(path: str | Path) -> list[str]:
    """The spellings under which a recording may be stored in events.recording / presence.recording."""
    p = Path(path)
    return sorted({str(p), str(p.resolve())})


@dataclass
class _Stored:
    event_id: str
    camera_id: str
    post_id: str | None
    rule_id: str
    start_s: float
    end_s: float | None


class Reconciler:
    """Maps the event ids a new analysis invents onto the ids stored for the same incidents."""

    def __init__(self, store: EventStore, *, source: str, recordings: Iterable[str], tolerance_s: float = 1.0,
                 site_id: str | None = None):
        self.store, self.source, self.recordings = store, source, list(recordings)
        self.tolerance_s = tolerance_s
        with store.session() as s:
            q = select(EventRow).where(EventRow.source == source, EventRow.recording.in_(self.recordings))
            if site_id is not None:  # several sites may share one database and analyse the same file
                q = q.where(EventRow.site_id == site_id)
            rows = s.scalars(q)
            self.stored = [_Stored(r.event_id, r.camera_id, r.post_id, r.rule_id, r.start_s, r.end_s) for r in rows]
        self._ids: dict[str, str] = {}
        self.claimed: set[str] = set()

    @property
    def stored_ids(self) -> list[str]:
        return [c.event_id for c in self.stored]

    def __call__(self, ev: Event) -> Event:
        eid = self._ids.get(ev.event_id)
        if eid is None:
            eid = self._match(ev)
            self._ids[ev.event_id] = eid
        return ev if eid == ev.event_id else ev.with_(event_id=eid)

    def _match(self, ev: Event) -> str:
        tol = self.tolerance_s
        lo, hi = ev.start_s, ev.end_s if ev.end_s is not None else ev.start_s
        best: _Stored | None = None
        for c in self.stored:
            if c.event_id in self.claimed or (c.camera_id, c.post_id, c.rule_id) != (ev.source_id, ev.post_id,
                                                                                      ev.rule_id):
                continue
            c_hi = c.end_s if c.end_s is not None else c.start_s
            if lo <= c_hi + tol and hi >= c.start_s - tol:
                if best is None or abs(c.start_s - lo) < abs(best.start_s - lo):
                    best = c
        if best is None:
            return ev.event_id
        self.claimed.add(best.event_id)
        return best.event_id

    def finish(self, analysed_until: float | None = None) -> list[str]:
        """Mark the stored events not found again as superseded; those past `analysed_until` are left alone."""
        gone = [c.event_id for c in self.stored if c.event_id not in self.claimed
                and (analysed_until is None or c.start_s <= analysed_until)]
        if gone:
            now: dt.datetime = utcnow()
            with self.store.session() as s, s.begin():
                s.execute(update(EventRow).where(EventRow.event_id.in_(gone), EventRow.superseded_at.is_(None))
                          .values(superseded_at=now))
            log.info("%d earlier event(s) not found again by this analysis, marked superseded: %s", len(gone),
                     ", ".join(gone))
        return gone
