"""A webhook receiver that rejects one alert (HTTP 400, for ever) while it takes all the others.

The rejected alert is retried with backoff up to the attempt limit and then kept as a
dead letter (in /metrics and the admin list); every other alert arrives, none waits
behind the rejected one, and each is signed with a timestamp.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pipeline.alerts.payload import SIGNATURE_HEADER, TIMESTAMP_HEADER, build_alert, verify_body
from pipeline.alerts.webhooks import WebhookOutbox
from pipeline.config.models import AlertsConfig
from pipeline.core.types import Event
from pipeline.events.store import EventStore
from tests.alerts.test_webhooks import free_port

BAD = "ev01"


class Picky:
    """Answers 400 to every delivery of event BAD, 200 to the rest; records what it took."""

    def __init__(self, port: int):
        self.got: list[tuple[dict, bytes]] = []
        self.rejected = 0
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if json.loads(body)["event_id"] == BAD:
                    outer.rejected += 1
                    self.send_response(400)
                    self.end_headers()
                    return
                outer.got.append((dict(self.headers), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _alerts(n: int) -> list[dict]:
    out = []
    for i in range(n):
        ev = Event(event_id=f"ev{i:02d}", rule_id="post.unattended", article="第二十条", source_id="cam5",
                   post_id="P1", track_ids=(), state="start", severity="high", start_s=10.0 * i, end_s=None,
                   wall_start=1.7e9 + 10 * i)
        out += [build_alert(ev), build_alert(ev.with_(state="end", end_s=10.0 * i + 5))]
    return out


def test_one_rejected_alert_does_not_block_the_others(tmp_path, monkeypatch):
    port = free_port()
    rx = Picky(port)
    acfg = AlertsConfig.model_validate({"retry_initial_s": 0.05, "retry_max_s": 0.2, "retry_max_attempts": 4,
                                        "webhooks": [{"id": "ops", "url": f"http://127.0.0.1:{port}/h",
                                                      "secret": "k"}]})
    store = EventStore.for_dir(tmp_path)
    box = WebhookOutbox(store, acfg.webhooks, retry_initial_s=0.05, retry_max_s=0.2, poll_s=0.02,
                        max_attempts=acfg.retry_max_attempts)
    try:
        for a in _alerts(6):  # ev01 (start and end) comes second of six: everything after it must still go
            box.enqueue(a)
        box.start()
        deadline = time.time() + 30
        while box.pending() and time.time() < deadline:
            time.sleep(0.05)
        assert box.pending() == 0
    finally:
        box.close(flush_timeout_s=0)
        rx.close()
    got = [json.loads(b)["event_id"] + json.loads(b)["state"] for _, b in rx.got]
    assert sorted(got) == sorted(f"ev{i:02d}{s}" for i in range(6) if i != 1 for s in ("start", "end"))
    for h, b in rx.got:
        assert verify_body("k", b, h[SIGNATURE_HEADER], h[TIMESTAMP_HEADER])
    assert rx.rejected == 8  # the attempt limit, for the start of ev01 and then for its end (which waited)
    dead = box.dead_letters()
    assert sorted((d["event_id"], d["state"], d["attempts"]) for d in dead) == [(BAD, "end", 4), (BAD, "start", 4)]
    assert {d["last_error"] for d in dead} == {"HTTP 400"}
    # the dead letter is visible in /metrics and to admins
    from fastapi.testclient import TestClient

    from pipeline.web.app import create_app
    from pipeline.web.auth import add_user

    add_user(store, "root", "admin", "admin-password-1")
    add_user(store, "vic", "viewer", "viewer-password")
    store.close()
    monkeypatch.setenv("COUNTERWATCH_METRICS_TOKEN", "scrape")
    with TestClient(create_app(tmp_path)) as c:
        text = c.get("/metrics", headers={"Authorization": "Bearer scrape"}).text
        assert 'counterwatch_webhook_dead_letters{sink="ops"} 2' in text
        c.post("/api/login", json={"username": "vic", "password": "viewer-password"}).raise_for_status()
        assert c.get("/api/admin/dead-letters").status_code == 403
        assert "dead-letter-banner" not in c.get("/").text  # only admins see it
    with TestClient(create_app(tmp_path)) as c:
        c.post("/api/login", json={"username": "root", "password": "admin-password-1"}).raise_for_status()
        body = c.get("/api/admin/dead-letters").json()
        assert body["total"] == 2 and {d["event_id"] for d in body["items"]} == {BAD}
        page = c.get("/?lang=en").text
        assert "dead-letter-banner" in page and "2 alert(s) could not be delivered" in page
