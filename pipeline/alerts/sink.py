"""The alerts sink, last in the chain (`pipeline.events.chain`): each event state to the alert feed.

It runs after the evidence sink, so the alert links the clip and snapshot the event has.
`enqueued`: the store sink already wrote the state's webhook outbox rows in the event's
own transaction, so the feed does not queue them twice.
"""

from __future__ import annotations

from pipeline.alerts.feed import AlertFeed
from pipeline.core.types import Event
from pipeline.events.chain import Made, SinkBase


class AlertSink(SinkBase):
    stage = "alerts"

    def __init__(self, feed: AlertFeed, *, enqueued: bool = False):
        self.feed, self.enqueued = feed, enqueued

    def on_event(self, event: Event, made: Made) -> None:
        self.feed.publish(event, frame_s=made.frame_s, evidence=made.evidence, enqueued=self.enqueued)
