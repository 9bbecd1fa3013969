"""`counterwatch eval reviews`: a hall's own verdicts become its per-rule precision.

Supervisors confirm or dismiss each flagged clip in the review UI. The latest verdict
per event counts (earlier ones stay in the audit log): confirmed = true positive,
dismissed = false positive. Recall cannot come from reviews (missed events are never
flagged), so only precision and the review coverage are reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.core.errors import ConfigError
from pipeline.evaluation.metrics import Counts
from pipeline.events import queries
from pipeline.events.store import EventStore, db_url_for


def review_counts(store: Any, *, site_id: str | None = None, source: str | None = None
                  ) -> tuple[dict[str, Counts], dict[str, int], dict[str, dict[str, int]]]:
    """-> (counts per rule, events per rule, dismissal reasons per rule) from the latest verdicts."""
    counts: dict[str, Counts] = {}
    reasons: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for g in queries.verdict_groups(store, ("rule_id",), queries.EventQuery(site_id=site_id, source=source)):
        rule_id = g.key[0]
        totals[rule_id] = totals.get(rule_id, 0) + g.n
        if g.verdict is None:  # never reviewed
            continue
        c = counts.setdefault(rule_id, Counts())
        if g.verdict == "confirmed":
            c.tp += g.n
        elif g.verdict == "dismissed":
            c.fp += g.n
            r = reasons.setdefault(rule_id, {})
            key = g.reason or "(none)"
            r[key] = r.get(key, 0) + g.n
    for rule_id in totals:
        counts.setdefault(rule_id, Counts())
    return counts, totals, reasons


def open_store(data_dir: str | Path, db_url: str | None = None) -> Any:
    """The data folder's database, without creating one where there is none."""

    d = Path(data_dir)
    if db_url is None and not d.is_dir():
        raise ConfigError(f"{d}: data folder not found")
    url = db_url_for(d, db_url)
    if url.startswith("sqlite") and db_url is None:
        db_file = url.split("///", 1)[-1]
        if not Path(db_file).is_file():
            raise ConfigError(f"{d}: no database in this data folder ({db_file})")
    return EventStore(url, create=False)


def reviews_json(counts: dict[str, Counts], totals: dict[str, int], reasons: dict[str, dict[str, int]]
                 ) -> dict[str, Any]:
    rules = {}
    for rule_id in sorted(counts):
        c = counts[rule_id]
        reviewed = c.tp + c.fp
        rules[rule_id] = {
            "confirmed": c.tp, "dismissed": c.fp, "reviewed": reviewed, "events": totals.get(rule_id, reviewed),
            "precision": None if c.precision is None else round(c.precision, 4),
            "coverage": round(reviewed / totals[rule_id], 4) if totals.get(rule_id) else None,
            "dismissal_reasons": reasons.get(rule_id, {}),
        }
    return {"rules": rules}
