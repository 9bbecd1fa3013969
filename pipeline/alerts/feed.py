"""AlertFeed: where a finished-processing event leaves the camera for the outside world.

Called by the live worker after the event's evidence exists (so the alert can link
its snapshot), it builds one alert dict and hands it to the in-process bus (SSE and
WebSocket clients), the webhook outbox (persistent, exactly once) and MQTT.
One failing transport never stops the others or the camera.
"""

from __future__ import annotations

import logging
from typing import Any

from pipeline.alerts.bus import AlertBus
from pipeline.alerts.payload import build_alert
from pipeline.core.types import Event
from pipeline.settings import SiteConfig

log = logging.getLogger(__name__)


class AlertFeed:
    def __init__(self, cfg: SiteConfig, *, bus: AlertBus | None = None, outbox: Any = None, mqtt: Any = None):
        self.cfg, self.bus, self.outbox, self.mqtt = cfg, bus, outbox, mqtt
        self.post_names = {p.id: p.name or p.id for c in cfg.cameras for p in c.posts}
        self.camera_names = {c.id: c.name or c.id for c in cfg.cameras}
        self.published = 0

    def alert(self, ev: Event, *, frame_s: float | None = None,
              evidence: dict[str, str] | None = None) -> dict[str, Any]:
        return build_alert(ev, frame_s=frame_s, evidence=evidence, site_name=self.cfg.site.name,
                           post_name=self.post_names.get(ev.post_id or ""),
                           camera_name=self.camera_names.get(ev.source_id),
                           public_url=self.cfg.alerts.public_url)

    def publish(self, ev: Event, *, frame_s: float | None = None,
                evidence: dict[str, str] | None = None, enqueued: bool = False) -> dict[str, Any]:
        """Send the alert of one event state; `enqueued`: its outbox rows were written with the event."""
        alert = self.alert(ev, frame_s=frame_s, evidence=evidence)
        self.send(alert, enqueued=enqueued)
        return alert

    def send(self, alert: dict[str, Any], *, enqueued: bool = False) -> None:
        self.published += 1
        for name, target in (("bus", self.bus), ("outbox", self.outbox), ("mqtt", self.mqtt)):
            if target is None or (name == "outbox" and enqueued):
                continue
            try:
                if name == "outbox":
                    target.enqueue(alert)
                else:
                    target.publish(alert)
            except Exception:
                log.exception("alert %s/%s: %s failed", alert.get("event_id"), alert.get("state"), name)
