"""Live routes without cameras: auth on every route but /api/health, camera state from the DB
(as `counterwatch serve` sees a separate run process), Prometheus text, filter validation."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from pipeline.alerts.bus import AlertBus
from pipeline.events.store import EventStore
from pipeline.web.app import create_app
from pipeline.web.auth import add_user
from pipeline.web.live_api import prefer_live_routes


@pytest.fixture()
def live_client(tmp_path):
    store = EventStore.for_dir(tmp_path)
    add_user(store, "vic", "viewer", "viewer-password")
    store.set_camera_state("cam5", "reconnecting", site_id="hall-a", fps=0.0, drop_rate=0.0, latency_s=0.4)
    store.set_camera_state("cam6", "online", site_id="hall-a", fps=1.9, drop_rate=0.05, latency_s=0.3)
    store.open_outage("cam5", dt.datetime(2026, 11, 26, 9, 0), "no frame for 10 s", site_id="hall-a")
    store.close()
    app = create_app(tmp_path, alert_bus=AlertBus())
    prefer_live_routes(app)
    with TestClient(app) as c:
        yield c


def test_only_health_is_anonymous(live_client, monkeypatch):
    h = live_client.get("/api/health")
    assert h.status_code == 200 and h.json()["status"] == "ok" and "cam5" not in h.text
    for path in ("/api/cameras", "/api/outages", "/metrics", "/api/events/stream"):
        assert live_client.get(path).status_code == 401, path
    monkeypatch.setenv("COUNTERWATCH_METRICS_TOKEN", "scrape-token")
    assert live_client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    m = live_client.get("/metrics", headers={"Authorization": "Bearer scrape-token"})
    assert m.status_code == 200 and m.headers["content-type"].startswith("text/plain")


def test_cameras_and_metrics_from_the_database(live_client):
    live_client.post("/api/login", json={"username": "vic", "password": "viewer-password"}).raise_for_status()
    cams = {c["camera_id"]: c for c in live_client.get("/api/cameras").json()["cameras"]}
    assert cams["cam5"]["state"] == "reconnecting" and cams["cam5"]["outage_since"] == "2026-11-26T09:00:00"
    assert cams["cam6"]["state"] == "online" and cams["cam6"]["fps"] == 1.9 and cams["cam6"]["outage_since"] is None
    text = live_client.get("/metrics").text
    assert 'counterwatch_camera_up{camera="cam5",site="hall-a"} 0' in text
    assert 'counterwatch_camera_up{camera="cam6",site="hall-a"} 1' in text
    assert 'counterwatch_camera_drop_rate{camera="cam6",site="hall-a"} 0.05' in text
    assert "# TYPE counterwatch_webhook_pending gauge" in text
    out = live_client.get("/api/outages?camera=cam5").json()["outages"]
    assert len(out) == 1 and out[0]["end"] is None and out[0]["reason"] == "no frame for 10 s"
    bad = live_client.get("/api/events/stream?severity=urgent")
    assert bad.status_code == 422 and "severity" in bad.text
