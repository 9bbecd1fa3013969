"""`counterwatch run` on a real RTSP camera on loopback: the server dies mid-stream and comes back.

The camera goes offline and comes back by itself, the outage is stored as an interval
(presence is 'unknown' meanwhile, never absent), and the event raised before the drop
is still in the database, ended cleanly at shutdown. Server: Debian's rtsp-server-perl,
fed by ffmpeg with a real recorded clip in real time (as in tests/sources).
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from pipeline.events.schema import OutageRow, PresenceRow
from pipeline.events.store import EventStore
from tests.live.helpers import DESK, free_port, login, make_user, site_config, start_run, stop_run, wait_healthy
from tests.sources.test_live_rtsp import RTSP_SERVER, _need_rtsp_server, _start, _stop


def wait_for(pred, timeout_s: float, what: str, log):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}\n{log.read_text()[-3000:]}")


@pytest.mark.models
@pytest.mark.data
@pytest.mark.timeout(150)
def test_camera_drops_and_returns_outage_recorded_events_kept(tmp_path, data_dir, models_dir):
    _need_rtsp_server()
    client_port, source_port = free_port(), free_port()
    server_cmd = [RTSP_SERVER, "--clientport", str(client_port), "--serverport", str(source_port),
                  "--client_listen_address", "127.0.0.1", "--source_listen_address", "127.0.0.1", "--loglevel", "0"]
    publish_cmd = ["ffmpeg", "-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i", str(data_dir / DESK),
                   "-an", "-c", "copy", "-f", "rtsp", f"rtsp://127.0.0.1:{source_port}/cam"]

    def serve():
        server = _start(server_cmd)
        time.sleep(0.7)
        return server, _start(publish_cmd)

    data = tmp_path / "data"
    make_user(data)
    cfg = site_config(tmp_path / "site.yaml", f"rtsp://127.0.0.1:{client_port}/cam", min_duration_s=3)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "run.log"
    server, publisher = serve()
    proc = start_run(cfg, data, port, log, "--offline-after-s", "3", "--backoff-max-s", "1",
                     "--rtsp-transport", "udp")
    store = EventStore.for_dir(data)
    try:
        wait_healthy(base, proc, log)
        c = login(base)

        def camera():
            return c.get("/api/cameras").json()["cameras"][0]

        wait_for(lambda: camera()["state"] == "online", 30, "camera online", log)
        before = wait_for(lambda: store.list_events(camera_id="desk"), 30, "an event before the drop", log)
        event_id = before[0]["event_id"]

        killed = time.time()
        _stop(publisher)
        _stop(server)
        down = wait_for(lambda: (cam := camera())["state"] == "offline" and cam, 25, "camera offline", log)
        assert down["outage_since"] is not None
        assert c.get("/api/health").json()["cameras"] == {"offline": 1}

        server, publisher = serve()
        back = time.time()
        wait_for(lambda: camera()["state"] == "online", 30, "camera back online", log)
        wait_for(lambda: camera()["analysed"] > 0 and camera()["outage_since"] is None, 10, "frames again", log)
        outages = c.get("/api/outages?camera=desk").json()["outages"]
        assert outages and all(o["end"] is not None for o in outages)  # (the first connect may also have failed)
        m = c.get("/metrics").text
        assert f'counterwatch_camera_outages_total{{camera="desk",site="hall-live"}} {len(outages)}' in m
    finally:
        rc = stop_run(proc)
        _stop(publisher)
        _stop(server)
    assert rc == 0, log.read_text()[-3000:]
    try:
        with store.session() as s:
            rows = [r for r in s.scalars(select(OutageRow)) if r.start.timestamp() >= killed - 3]
            assert len(rows) == 1 and rows[0].site_id == "hall-live"  # the drop: exactly one interval
            start, end = rows[0].start.timestamp(), rows[0].end.timestamp()
            assert killed - 3 <= start <= killed + 3 and back - 1 <= end <= back + 30
            unknown = s.scalars(select(PresenceRow).where(PresenceRow.state == "unknown")).all()
            assert unknown and all(r.post_id == "P1" for r in unknown)  # outage time is unknown, not absent
        ev = store.get_event(event_id)
        assert ev is not None and ev["state"] == "end" and ev["wall_start"] is not None
    finally:
        store.close()
