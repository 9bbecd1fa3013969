"""Optional MQTT publishing of alerts (extra: `pip install counterwatch[mqtt]`).

MQTT suits halls that already run a broker for building systems. paho-mqtt is an
optional extra, so it is imported only when an `alerts.mqtt` section is configured,
and its absence is a one-line error that says what to install.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pipeline.config.models import MqttConfig
from pipeline.core.errors import ConfigError

log = logging.getLogger(__name__)


def _paho() -> Any:
    try:
        import paho.mqtt.client as mqtt  # type: ignore[import-not-found]  # lazy: the mqtt extra
    except ImportError:
        raise ConfigError("alerts.mqtt is configured but paho-mqtt is not installed: "
                          "pip install counterwatch[mqtt]") from None
    return mqtt


def topic_for(template: str, alert: dict[str, Any]) -> str:
    """Fill {site_id} {camera_id} {post_id} {rule_id} {severity} {state}; unknown names stay literal."""
    keys = ("site_id", "camera_id", "post_id", "rule_id", "severity", "state")
    out = template
    for k in keys:
        out = out.replace("{" + k + "}", str(alert.get(k) or "-"))
    return out


class MqttPublisher:
    """Publishes each alert as JSON; paho's network thread reconnects on its own."""

    def __init__(self, cfg: MqttConfig):
        mqtt = _paho()
        self.cfg = cfg
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
        if cfg.username:
            self.client.username_pw_set(cfg.username, cfg.password)
        self.client.connect_async(cfg.host, cfg.port)
        self.client.loop_start()

    def publish(self, alert: dict[str, Any]) -> None:
        if alert.get("kind", "event") != "event":
            return
        payload = json.dumps(alert, ensure_ascii=False)
        self.client.publish(topic_for(self.cfg.topic, alert), payload, qos=self.cfg.qos)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
