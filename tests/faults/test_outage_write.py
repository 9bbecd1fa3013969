"""An outage whose first write fails is retried, not lost: it is in the database, opened and closed."""

from __future__ import annotations

from sqlalchemy import select

from pipeline.events.schema import OutageRow
from pipeline.events.store import EventStore
from pipeline.live.health import CameraHealth


def test_failed_outage_write_is_retried(tmp_path):
    store = EventStore.for_dir(tmp_path)
    real = store.open_outage
    fails = {"left": 2}

    def flaky(*a, **kw):
        if fails["left"]:
            fails["left"] -= 1
            raise RuntimeError("database is locked")
        return real(*a, **kw)

    store.open_outage = flaky
    h = CameraHealth("cam1", "hall", store)
    h.on_state("cam1", "reconnecting", "stream ended")  # first write fails, the forced state write retries (fails)
    with store.session() as s:
        assert s.scalars(select(OutageRow)).all() == []
    h.write(force=True)  # the next state write: stored now
    h.on_state("cam1", "online", "frames arriving")
    with store.session() as s:
        rows = s.scalars(select(OutageRow)).all()
        assert [(r.camera_id, r.reason, r.end is not None) for r in rows] == [("cam1", "stream ended", True)]
    assert fails["left"] == 0
    store.close()
