"""Webhooks: a real HTTP receiver on 127.0.0.1 that is down for a while still gets every alert
afterwards, exactly once per (webhook, event, state), even across a restart of the sender."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.alerts.payload import SIGNATURE_HEADER, TIMESTAMP_HEADER, build_alert, verify_body
from pipeline.alerts.webhooks import WebhookOutbox
from pipeline.config.models import AlertsConfig
from pipeline.core.errors import ConfigError
from pipeline.core.types import Event
from pipeline.events.store import EventStore
from pipeline.settings import SiteConfig


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A real HTTP server that records every POST; can fail the first N requests with 500."""

    def __init__(self, port: int, fail_first: int = 0):
        self.got: list[tuple[str, dict, bytes]] = []
        self.fail_left = fail_first
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.fail_left > 0:
                    outer.fail_left -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.got.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"errcode":0,"errmsg":"ok"}')

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), H)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def events(n: int) -> list[Event]:
    out = []
    for i in range(n):
        ev = Event(event_id=f"ev{i:02d}", rule_id="post.unattended", article="第二十条", source_id="cam5",
                   post_id="P1", track_ids=(), state="start", severity="high" if i % 2 else "medium",
                   start_s=100.0 + i, end_s=None, site_id="hall-a", wall_start=1.7e9 + i)
        out += [ev, ev.with_(state="update", end_s=110.0 + i), ev.with_(state="end", end_s=120.0 + i)]
    return out


def alerts_config(port: int) -> AlertsConfig:
    base = f"http://127.0.0.1:{port}"
    return AlertsConfig.model_validate({
        "public_url": "https://cw.example.org",
        "retry_initial_s": 0.1, "retry_max_s": 0.4,
        "webhooks": [
            {"id": "ops", "kind": "generic", "url": f"{base}/hook", "secret": "s3cret"},
            {"id": "wecom", "kind": "wecom", "url": f"{base}/cgi-bin/webhook/send?key=abc", "min_severity": "high"},
            {"id": "ding", "kind": "dingtalk", "url": f"{base}/robot/send?access_token=t", "secret": "SECxyz",
             "states": ["start"]},
        ]})


def test_receiver_down_then_up_gets_every_alert_exactly_once(tmp_path):
    port = free_port()
    acfg = alerts_config(port)
    store = EventStore.for_dir(tmp_path)
    alerts = [build_alert(e, evidence={"snapshot": f"snapshots/{e.event_id}.jpg", "clip": f"clips/{e.event_id}.mp4"},
                          site_name="甲厅", post_name="1号窗口", public_url=acfg.public_url) for e in events(4)]
    box = WebhookOutbox(store, acfg.webhooks, retry_initial_s=0.1, retry_max_s=0.4, poll_s=0.05).start()
    added = sum(box.enqueue(a) for a in alerts)
    assert sum(box.enqueue(a) for a in alerts) == 0  # the same alert twice is queued once
    # ops: start+end of 4 events; wecom: start+end of the 2 high ones; ding: start of 4
    assert added == 8 + 4 + 4
    time.sleep(1.0)  # receiver down: connection refused, retried with backoff
    assert box.pending() == 16 and box.failures >= 3 and box.delivered == 0
    box.close(flush_timeout_s=0)  # the sender restarts while the receiver is still down
    store.close()

    rx = Receiver(port, fail_first=2)
    store = EventStore.for_dir(tmp_path)
    box = WebhookOutbox(store, acfg.webhooks, retry_initial_s=0.1, retry_max_s=0.4, poll_s=0.05).start()
    try:
        deadline = time.time() + 20
        while box.pending() and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)
        assert box.pending() == 0
    finally:
        box.close()
        rx.close()
        store.close()

    keys = [h["X-Counterwatch-Delivery"] for _, h, _ in rx.got]
    assert len(keys) == len(set(keys)) == 16  # every (webhook, event, state) exactly once
    generic = [(h, b) for p, h, b in rx.got if p == "/hook"]
    assert len(generic) == 8
    for h, b in generic:
        assert verify_body("s3cret", b, h[SIGNATURE_HEADER], h[TIMESTAMP_HEADER])
        assert not verify_body("wrong", b, h[SIGNATURE_HEADER], h[TIMESTAMP_HEADER])
        # a captured request replayed later (or with its timestamp changed) is refused
        assert not verify_body("s3cret", b, h[SIGNATURE_HEADER], h[TIMESTAMP_HEADER],
                               now=float(h[TIMESTAMP_HEADER]) + 301)
        assert not verify_body("s3cret", b, h[SIGNATURE_HEADER], str(int(h[TIMESTAMP_HEADER]) + 1))
        a = json.loads(b)
        assert a["site_id"] == "hall-a" and a["post_name"] == "1号窗口" and a["article"] == "第二十条"
        assert "不得以" in a["article_zh"] and a["article_en"].startswith("Article 20")
        assert a["snapshot_url"] == f"https://cw.example.org/media/snapshots/{a['event_id']}.jpg"
        assert a["clip_url"].endswith(f"/media/clips/{a['event_id']}.mp4")
    # order per event: start before end
    seq = [json.loads(b)["event_id"] + json.loads(b)["state"] for _, b in generic]
    for i in range(4):
        assert seq.index(f"ev{i:02d}start") < seq.index(f"ev{i:02d}end")

    wecom = [json.loads(b) for p, _, b in rx.got if p.startswith("/cgi-bin")]
    assert len(wecom) == 4 and all(w["msgtype"] == "markdown" and "第二十条" in w["markdown"]["content"]
                                   and "Counter unattended" in w["markdown"]["content"] for w in wecom)
    ding = [(p, json.loads(b)) for p, _, b in rx.got if p.startswith("/robot")]
    assert len(ding) == 4
    for path, body in ding:
        assert body["msgtype"] == "markdown" and body["markdown"]["title"] and "岗位无人" in body["markdown"]["text"]
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        ts = q["timestamp"][0]
        want = base64.b64encode(hmac.new(b"SECxyz", f"{ts}\nSECxyz".encode(), hashlib.sha256).digest()).decode()
        assert q["sign"][0] == want and q["access_token"] == ["t"]


def test_alert_config_errors_name_the_field():
    with pytest.raises(ValueError, match="webhooks 'x' field rules: unknown rule 'nope'"):
        SiteConfig.model_validate({"alerts": {"webhooks": [{"id": "x", "url": "http://a", "rules": ["nope"]}]}})
    with pytest.raises(ValueError, match="appear more than once"):
        SiteConfig.model_validate({"alerts": {"webhooks": [{"id": "x", "url": "http://a"},
                                                           {"id": "x", "url": "http://b"}]}})
    with pytest.raises(ValueError, match="url"):
        SiteConfig.model_validate({"alerts": {"webhooks": [{"id": "x", "url": "ftp://a"}]}})


def test_mqtt_without_paho_says_what_to_install():
    try:
        import paho.mqtt.client  # noqa: F401
    except ImportError:
        from pipeline.alerts.mqtt import MqttPublisher
        from pipeline.config.models import MqttConfig

        with pytest.raises(ConfigError, match=r"pip install counterwatch\[mqtt\]"):
            MqttPublisher(MqttConfig(host="127.0.0.1"))
    else:
        from pipeline.alerts.mqtt import topic_for

        assert topic_for("cw/{site_id}/{camera_id}/{rule_id}", {"site_id": "a", "camera_id": "c", "rule_id": "r"}) \
            == "cw/a/c/r"
