"""Evidence retention: clips and snapshots are purged by age and verdict, and before the disk fills.

Confirmed evidence is kept longest (`retention.confirmed_days`), dismissed and
unreviewed evidence for less. When free space on the data folder's disk falls below
`retention.min_free_percent`, the oldest unreviewed evidence goes first, then the
oldest dismissed; confirmed evidence is never purged for space. Only files are
removed: the event, its reviews and the database stay (the clip row says `purged`).
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config.models import RetentionConfig
from pipeline.events import queries
from pipeline.events.schema import ClipRow
from pipeline.events.store import EventStore

log = logging.getLogger(__name__)


@dataclass
class RetentionResult:
    purged_by_age: list[str] = field(default_factory=list)  # event ids
    purged_for_space: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    free_percent_before: float = 0.0
    free_percent_after: float = 0.0

    def line(self) -> str:
        return (f"retention: evidence of {len(self.purged_by_age)} event(s) purged by age, "
                f"{len(self.purged_for_space)} for disk space; {self.freed_bytes / 1e6:.1f} MB freed; "
                f"free disk {self.free_percent_before:.1f}% -> {self.free_percent_after:.1f}%")


def free_percent(path: Path) -> float:
    u = shutil.disk_usage(path)
    return 100.0 * u.free / u.total if u.total else 100.0


def _candidates(store: EventStore) -> list[tuple[str, str, dt.datetime, str | None, str | None]]:
    """(event_id, verdict or 'unreviewed', when, clip, snapshot) of events that still have evidence, oldest first."""
    q = queries.EventQuery(with_evidence=True, include_superseded=True)
    rows = [(r.event_id, r.verdict or "unreviewed", r.wall_start or r.created_at, r.clip_path, r.snapshot_path)
            for r in queries.events(store, q, order="oldest")]
    rows.sort(key=lambda r: r[2])
    return rows


def _purge(store: EventStore, data_dir: Path, event_id: str, clip: str | None, snap: str | None) -> int:
    freed = 0
    for rel in (clip, snap):
        if not rel:
            continue
        p = (data_dir / rel).resolve()
        if data_dir.resolve() not in p.parents:
            log.error("retention: event %s: evidence path %s is outside the data folder; left alone", event_id, rel)
            continue
        try:
            freed += p.stat().st_size
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.error("retention: cannot remove %s (event %s): %s", p, event_id, exc.strerror)
    with store.session() as s, s.begin():
        row = s.get(ClipRow, event_id)
        if row is not None:
            row.clip_path, row.snapshot_path, row.status = None, None, "purged"
    return freed


def apply_retention(store: EventStore, data_dir: str | Path, cfg: RetentionConfig, *,
                    now: dt.datetime | None = None, dry_run: bool = False,
                    disk_free: Callable[[Path], float] = free_percent) -> RetentionResult:
    """Purge evidence past its verdict's age, then (if the disk is low) the oldest unreviewed, then dismissed."""
    data_dir = Path(data_dir)
    now = now or dt.datetime.now()
    res = RetentionResult(free_percent_before=disk_free(data_dir))
    keep = {"confirmed": cfg.confirmed_days, "dismissed": cfg.dismissed_days, "unreviewed": cfg.unreviewed_days}
    rows = _candidates(store)
    left = []
    for eid, verdict, when, clip, snap in rows:
        if now - when > dt.timedelta(days=keep[verdict]):
            res.purged_by_age.append(eid)
            if not dry_run:
                res.freed_bytes += _purge(store, data_dir, eid, clip, snap)
        else:
            left.append((eid, verdict, when, clip, snap))
    if cfg.min_free_percent > 0 and disk_free(data_dir) < cfg.min_free_percent:
        for wanted in ("unreviewed", "dismissed"):
            for eid, verdict, _when, clip, snap in left:
                if verdict != wanted:
                    continue
                if disk_free(data_dir) >= cfg.min_free_percent:
                    break
                res.purged_for_space.append(eid)
                if not dry_run:
                    res.freed_bytes += _purge(store, data_dir, eid, clip, snap)
        if disk_free(data_dir) < cfg.min_free_percent:
            log.error("retention: free disk still %.1f%% (< %.1f%%) with only confirmed evidence left: add disk or "
                      "lower retention.confirmed_days", disk_free(data_dir), cfg.min_free_percent)
    res.free_percent_after = disk_free(data_dir)
    for eid in res.purged_by_age:
        log.info("retention: event %s evidence purged (age)", eid)
    for eid in res.purged_for_space:
        log.warning("retention: event %s evidence purged (low disk)", eid)
    return res


__all__ = ["RetentionResult", "apply_retention", "free_percent"]
