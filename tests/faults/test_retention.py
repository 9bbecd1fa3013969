"""Retention: evidence purged by age and verdict, oldest unreviewed first when the disk is low; never the DB."""

from __future__ import annotations

import datetime as dt

from pipeline.config.models import RetentionConfig
from pipeline.core.types import Event
from pipeline.events.retention import apply_retention
from pipeline.events.store import EventStore
from pipeline.settings import SiteConfig

NOW = dt.datetime(2026, 12, 1, 12, 0, 0)


def _seed(store: EventStore, data, eid: str, days_ago: float, verdict: str | None) -> None:
    wall = NOW - dt.timedelta(days=days_ago)
    store.record_event(Event(event_id=eid, rule_id="post.unattended", article="第二十条", source_id="cam1",
                             post_id="P1", track_ids=(), state="end", severity="medium", start_s=0.0, end_s=5.0,
                             wall_start=wall.timestamp()))
    for sub, ext in (("clips", "mp4"), ("snapshots", "jpg")):
        (data / sub).mkdir(exist_ok=True)
        (data / sub / f"{eid}.{ext}").write_bytes(b"x" * 1000)
    store.set_evidence(eid, clip=f"clips/{eid}.mp4", snapshot=f"snapshots/{eid}.jpg", status="ready")
    if verdict:
        store.add_review(eid, verdict, "", "sup")


def test_age_by_verdict_and_low_disk(tmp_path):
    data = tmp_path
    store = EventStore.for_dir(data)
    cfg = RetentionConfig(confirmed_days=365, dismissed_days=30, unreviewed_days=90, min_free_percent=10)
    seeds = {"conf_old": (200, "confirmed"), "conf_ancient": (400, "confirmed"), "dism_old": (40, "dismissed"),
             "dism_new": (10, "dismissed"), "unrev_old": (100, None), "unrev_a": (60, None), "unrev_b": (20, None)}
    for eid, (days, verdict) in seeds.items():
        _seed(store, data, eid, days, verdict)
    free = {"pct": 50.0}
    res = apply_retention(store, data, cfg, now=NOW, disk_free=lambda _p: free["pct"])
    assert sorted(res.purged_by_age) == ["conf_ancient", "dism_old", "unrev_old"]
    assert res.purged_for_space == []
    for eid in ("conf_ancient", "dism_old", "unrev_old"):
        assert not (data / "clips" / f"{eid}.mp4").exists() and not (data / "snapshots" / f"{eid}.jpg").exists()
        ev = store.get_event(eid)
        assert ev is not None and ev["clip"] is None and ev["clip_status"] == "purged"  # the event stays
    assert store.reviews("conf_ancient")  # and its reviews
    assert (data / "clips" / "conf_old.mp4").exists()

    # low disk: each purge frees 5 points here; the oldest unreviewed goes first, confirmed never
    free["pct"] = 4.0

    def disk(_p):
        gone = sum(not (data / "clips" / f"{e}.mp4").exists() for e in ("unrev_a", "unrev_b", "dism_new"))
        return 4.0 + 5.0 * gone

    res = apply_retention(store, data, cfg, now=NOW, disk_free=disk)
    assert res.purged_by_age == []
    assert res.purged_for_space == ["unrev_a", "unrev_b"]  # 4 -> 9 -> 14 >= 10: stop
    assert (data / "clips" / "dism_new.mp4").exists() and (data / "clips" / "conf_old.mp4").exists()
    assert (data / "counterwatch.db").exists() and store.count_events() == len(seeds)
    store.close()


def test_retention_settings_are_checked():
    import pytest

    with pytest.raises(ValueError, match="confirmed_days"):
        SiteConfig.model_validate({"retention": {"confirmed_days": 10, "dismissed_days": 30}})
