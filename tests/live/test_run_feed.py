"""`counterwatch run` on a real clip played as a live camera: an event raised from real frames
reaches an SSE client and a WebSocket client; cameras, metrics and auth; SIGTERM stops cleanly."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from pipeline.events.store import EventStore
from tests.live.helpers import DESK, free_port, login, make_user, site_config, start_run, stop_run, wait_healthy


class SseReader(threading.Thread):
    def __init__(self, client: httpx.Client, path: str):
        super().__init__(daemon=True)
        self.client, self.path, self.alerts, self.error = client, path, [], None

    def run(self):
        try:
            with self.client.stream("GET", self.path, timeout=httpx.Timeout(10, read=60)) as r:
                assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
                for line in r.iter_lines():
                    if line.startswith("data: "):
                        self.alerts.append(json.loads(line[6:]))
                        if any(a["state"] == "start" for a in self.alerts):
                            return
        except Exception as exc:
            self.error = exc


@pytest.mark.models
@pytest.mark.data
@pytest.mark.timeout(120)
def test_sse_and_websocket_receive_a_real_event_then_clean_stop(tmp_path, data_dir, models_dir):
    data = tmp_path / "data"
    make_user(data)
    cfg = site_config(tmp_path / "site.yaml", str(data_dir / DESK))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "run.log"
    proc = start_run(cfg, data, port, log)
    try:
        wait_healthy(base, proc, log)
        assert httpx.get(f"{base}/api/cameras").status_code == 401
        assert httpx.get(f"{base}/metrics").status_code == 401
        assert httpx.get(f"{base}/api/events/stream").status_code == 401
        c = login(base)
        sse = SseReader(c, "/api/events/stream?camera=desk&severity=medium")
        sse.start()
        ignored = SseReader(login(base), "/api/events/stream?severity=high")  # medium alerts filtered out
        ignored.start()
        cookie = f"cw_session={c.cookies.get('cw_session')}"
        with connect(f"ws://127.0.0.1:{port}/ws/events?post=P1", additional_headers={"Cookie": cookie},
                     open_timeout=10) as ws:
            ws_alert = json.loads(ws.recv(timeout=60))
        sse.join(60)
        assert sse.error is None and sse.alerts, f"no SSE alert: {sse.error}\n{log.read_text()[-2000:]}"
        start = next(a for a in sse.alerts if a["state"] == "start")
        for a in (start, ws_alert):
            assert a["rule_id"] == "post.unattended" and a["post_id"] == "P1" and a["site_id"] == "hall-live"
            assert a["article"] == "第二十条" and a["article_en"].startswith("Article 20") and a["post_name"] == "1号窗口"
            assert a["snapshot_url"].startswith("/media/snapshots/") and a["clip_url"].startswith("/media/clips/")
            assert 0 <= time.time() - a["frame_s"] < 30  # live frames carry wall-clock time
        snap = c.get(start["snapshot_url"])
        assert snap.status_code == 200 and snap.content[:2] == b"\xff\xd8"  # the snapshot existed when alerted
        assert ignored.alerts == []

        with pytest.raises(InvalidStatus, match="403"):  # no session cookie: refused at the handshake
            connect(f"ws://127.0.0.1:{port}/ws/events", open_timeout=10)

        cams = c.get("/api/cameras").json()["cameras"]
        assert [(x["camera_id"], x["state"]) for x in cams] == [("desk", "online")] and cams[0]["fps"] > 0
        m = c.get("/metrics")
        assert m.status_code == 200 and 'counterwatch_camera_up{camera="desk",site="hall-live"} 1' in m.text
        assert "counterwatch_alerts_published_total" in m.text
        health = httpx.get(f"{base}/api/health").json()
        assert health["status"] == "ok" and health["cameras"] == {"online": 1}
    finally:
        rc = stop_run(proc)
    out = log.read_text()
    assert rc == 0 and "stopped cleanly" in out, out[-3000:]
    store = EventStore.for_dir(data)
    try:
        ev = store.get_event(start["event_id"])
        assert ev is not None and ev["state"] == "end" and ev["site_id"] == "hall-live"
        assert ev["clip_status"] in ("ready", "partial") and (data / ev["clip"]).stat().st_size > 0
        states = store.list_events(camera_id="desk")
        assert all(e["state"] == "end" for e in states)  # shutdown ended every running event
    finally:
        store.close()
