"""Many halls, one PostgreSQL: two sites' analysis runs write into one database, one store reads both.

Each run is a separate EventStore (as two `counterwatch run/analyze` processes would be)
analysing the same real office CCTV clip under a different site id.
"""

from __future__ import annotations

import pytest

from pipeline.analyze import analyze_file
from pipeline.events.store import EventStore
from pipeline.settings import load_config

DEMO_CONFIG = "configs/demo.yaml"


@pytest.mark.postgres
@pytest.mark.models
@pytest.mark.data
@pytest.mark.timeout(180)
def test_two_sites_write_into_one_postgres(pg_url, demo_clip, models_dir, tmp_path):
    from pathlib import Path

    base = load_config(Path(__file__).resolve().parents[2] / DEMO_CONFIG)
    results = {}
    for site in ("hall-a", "hall-b"):
        cfg = base.model_copy(update={
            "site": base.site.model_copy(update={"id": site}),
            "models": base.models.model_copy(update={  # the cheapest models: this test is about storage
                "detector": base.models.detector.model_copy(update={"model": "yolo11n_int8.onnx"}),
                "pose": base.models.pose.model_copy(update={"type": "none"}), "post_crops": False,
                "phone_cascade": base.models.phone_cascade.model_copy(update={"enabled": False})}),
        })
        store = EventStore.for_dir(tmp_path / site, pg_url)
        try:
            res = analyze_file(demo_clip, cfg, None, tmp_path / site, store=store, progress=False, fps=1.0)
        finally:
            store.close()
        assert res.error is None and res.frames > 5
        assert res.events, f"{site}: no event from the demo clip"
        results[site] = {e["event_id"] for e in res.events}

    reader = EventStore(pg_url)
    try:
        assert reader.engine.dialect.name == "postgresql"
        every = reader.list_events(limit=1000)
        by_site = {s: {e["event_id"] for e in every if e["site_id"] == s} for s in results}
        assert by_site == results  # both halls in one database, nothing lost or mixed up
        for site, ids in results.items():
            assert {e["event_id"] for e in reader.list_events(site_id=site, limit=1000)} == ids
        assert not results["hall-a"] & results["hall-b"]
    finally:
        reader.close()
