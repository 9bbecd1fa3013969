"""An event and its webhook outbox rows are committed together: a failing outbox write leaves neither,
and the held-back event state is written (with its rows) with the next one, in order."""

from __future__ import annotations

from sqlalchemy import select

from pipeline.alerts.feed import AlertFeed
from pipeline.alerts.webhooks import WebhookOutbox
from pipeline.core.types import Event
from pipeline.events.chain import SinkChain
from pipeline.events.schema import EventRow, OutboxRow
from pipeline.events.sinks import StoreSink
from pipeline.events.store import EventStore
from pipeline.settings import SiteConfig


def test_event_and_outbox_rows_commit_together(tmp_path):
    cfg = SiteConfig.model_validate({"cameras": [{"id": "c1"}], "alerts": {"webhooks": [
        {"id": "ops", "url": "http://127.0.0.1:9/h"}]}})
    store = EventStore.for_dir(tmp_path)
    box = WebhookOutbox(store, cfg.alerts.webhooks)  # never started: rows stay queued
    feed = AlertFeed(cfg, outbox=box)
    real = box._add_rows
    fails = {"left": 1}

    def flaky(s, alert):
        if fails["left"]:
            fails["left"] -= 1
            raise RuntimeError("injected outbox fault")
        return real(s, alert)

    box._add_rows = flaky
    sink = StoreSink(store, outbox=box, alert_of=lambda ev, t: feed.alert(ev, frame_s=t))
    chain = SinkChain([sink], camera_id="c1")
    ev = Event(event_id="e1", rule_id="post.unattended", article="第二十条", source_id="c1", post_id="P1",
               track_ids=(), state="start", severity="medium", start_s=1.0, end_s=None)
    chain.event(ev)
    with store.session() as s:  # the failed outbox write took the event with it: nothing half-written
        assert s.get(EventRow, "e1") is None and s.scalars(select(OutboxRow)).all() == []
    chain.event(ev.with_(state="end", end_s=6.0))
    with store.session() as s:
        assert s.get(EventRow, "e1").state == "end"
        assert sorted(r.state for r in s.scalars(select(OutboxRow))) == ["end", "start"]
    store.close()
