"""The `analyses` table as a ledger: which recording was analysed under which config.

A recording is identified by the sha256 of its content (a renamed or copied file
is still the same recording) together with a hash of the config that shaped the
analysis. A row `done` (or `failed`) for that pair means the file is skipped;
a row left `running` by an interrupted batch is redone: its presence intervals are
removed first, and its events are reconciled (found again: same id and reviews;
not found again: superseded), so that nothing is counted twice and no review is lost.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, select

from pipeline.events.reconcile import recording_keys
from pipeline.events.schema import AnalysisRow, EventRow, PresenceRow
from pipeline.events.store import EventStore
from pipeline.settings import SiteConfig

__all__ = ["recording_keys"]


def config_version(cfg: SiteConfig | dict[str, Any], fps: float | None = None) -> str:
    """A short hash of everything that shapes an analysis: the whole config plus an fps override."""
    data = cfg if isinstance(cfg, dict) else cfg.model_dump(mode="json", by_alias=True)
    data = {k: v for k, v in data.items() if k != "retention"}  # retention does not shape an analysis
    blob = json.dumps({"config": data, "fps": fps}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]




def previous(store: EventStore, sha: str, version: str) -> AnalysisRow | None:
    """The latest finished (done or failed) analysis of this content under this config, if any."""
    with store.session() as s:
        return s.scalars(
            select(AnalysisRow)
            .where(AnalysisRow.sha256 == sha, AnalysisRow.config_version == version,
                   AnalysisRow.status.in_(("done", "failed")))
            .order_by(AnalysisRow.id.desc()).limit(1)
        ).first()


def begin(store: EventStore, path: str | Path, sha: str, version: str, camera_id: str) -> int:
    """Claim a recording: drop the presence intervals earlier batch runs left for it, insert a `running` row.

    Events are never deleted here: the analysis reconciles with them (see pipeline.events.reconcile),
    so the reviews of an event found again stay attached to it.
    """
    keys = recording_keys(path)
    with store.session() as s, s.begin():
        s.execute(delete(PresenceRow).where(PresenceRow.source == "batch", PresenceRow.recording.in_(keys)))
        s.execute(delete(AnalysisRow).where(
            AnalysisRow.status == "running",
            or_(AnalysisRow.sha256 == sha, AnalysisRow.path.in_(keys))))
        row = AnalysisRow(path=keys[0] if len(keys) == 1 else str(Path(path).resolve()), sha256=sha,
                          config_version=version, camera_id=camera_id, status="running")
        s.add(row)
        s.flush()
        return int(row.id)


def finish(store: EventStore, analysis_id: int, status: str, *, error: str = "", video_s: float = 0.0,
           wall_s: float = 0.0) -> None:
    with store.session() as s, s.begin():
        row = s.get(AnalysisRow, analysis_id)
        if row is None:
            return
        row.status, row.error, row.video_s, row.wall_s = status, error[:2000], float(video_s), float(wall_s)
        row.at = dt.datetime.utcnow()


def abandon(store: EventStore, analysis_id: int) -> None:
    """Forget a claimed run that stopped for an installation error: the next batch analyses the file again."""
    with store.session() as s, s.begin():
        s.execute(delete(AnalysisRow).where(AnalysisRow.id == analysis_id, AnalysisRow.status == "running"))


def batch_event_count(store: EventStore, path: str | Path) -> int:
    with store.session() as s:
        rows = s.scalars(select(EventRow.event_id).where(EventRow.source == "batch",
                                                         EventRow.recording.in_(recording_keys(path)),
                                                         EventRow.superseded_at.is_(None)))
        return len(list(rows))
