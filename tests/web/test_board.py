"""The hall board and the camera status page over the database (`counterwatch serve` next to a run
elsewhere): presence runs merged across flushes, unknown while the camera is down, A/B coverage,
open alerts with their age, camera health; and the live PresenceBoard's own bookkeeping."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.core.types import Event
from pipeline.scene.board import PresenceBoard
from pipeline.scene.facts import PostFacts

NOW = dt.datetime(2026, 11, 26, 10, 30, 0)


def _presence(store, post, state, start, end, camera="cam5"):
    t0 = dt.datetime(2026, 11, 26)
    store.add_presence([{"site_id": "demo-hall", "source": "live", "camera_id": camera, "post_id": post,
                         "state": state, "start_s": (start - t0).total_seconds(), "end_s": (end - t0).total_seconds(),
                         "wall_start": start, "wall_end": end, "recording": None}])


@pytest.fixture
def seeded_board(app):
    store = app.state.store
    m = dt.timedelta(minutes=1)
    # P1 staffed since 09:00 (two flushes of one run), P2 away since 10:10 after being staffed
    _presence(store, "P1", "present", NOW - 90 * m, NOW - 30 * m)
    _presence(store, "P1", "present", NOW - 30 * m, NOW - 1 * m)
    _presence(store, "P2", "present", NOW - 90 * m, NOW - 20 * m)
    _presence(store, "P2", "absent", NOW - 20 * m, NOW - 10 * m)
    _presence(store, "P2", "absent", NOW - 10 * m, NOW - 1 * m)
    _presence(store, "P3", "unknown", NOW - 5 * m, NOW - 1 * m)  # the camera was down
    store.set_camera_state("cam5", "online", site_id="demo-hall", fps=1.9, drop_rate=0.05, latency_s=0.31)
    ev = Event("ev_open", "post.unattended", "第二十条", "cam5", "P2", (), "update", "medium", 100.0, 700.0,
               details={"empty_s": 600.0}, wall_start=(NOW - 10 * m).timestamp(), site_id="demo-hall")
    store.record_event(ev, source="live")
    return app


def test_board_state_from_the_database(seeded_board):
    from pipeline.web.board import board_state

    b = board_state(seeded_board, "zh", now=NOW.timestamp())
    assert b["source"] == "db" and b["as_of"] == pytest.approx((NOW - dt.timedelta(minutes=1)).timestamp())
    tiles = {p["post_id"]: p for p in b["posts"]}
    assert [p["post_id"] for p in b["posts"]] == ["P4", "P3", "P2", "P1"]  # left to right in the picture
    assert tiles["P1"]["name"] == "1号窗口" and tiles["P1"]["staff"] == [{"id": "zhang", "name": "张敏"}]
    assert (tiles["P1"]["state"], tiles["P1"]["since"]) == ("staffed", (NOW - dt.timedelta(minutes=90)).timestamp())
    assert (tiles["P2"]["state"], tiles["P2"]["since"]) == ("away", (NOW - dt.timedelta(minutes=20)).timestamp())
    assert (tiles["P3"]["state"], tiles["P3"]["reason"]) == ("unknown", "camera_down")
    assert (tiles["P4"]["state"], tiles["P4"]["reason"]) == ("unknown", "no_data")
    assert tiles["P2"]["alerts"] == ["ev_open"]
    alerts = {a["event_id"]: a for a in b["alerts"]}
    assert set(alerts) == {"ev_open"}  # the seeded events have ended
    assert alerts["ev_open"]["age_s"] == pytest.approx(600, abs=1) and alerts["ev_open"]["post_name"] == "2号窗口"
    duties = {d["duty_id"]: d for d in b["duties"]}
    assert duties["D2"]["coverage"] == "a" and duties["D2"]["b"]["name"] == "李娜"  # A staffed, B away
    assert duties["D1"]["coverage"] == "unknown"  # A's post (P4) has no data
    assert b["queue"] == {"waiting": None, "configured": False, "by_camera": {}}
    cam = b["cameras"][0]
    assert (cam["camera_id"], cam["name"], cam["state"], cam["fps"]) == ("cam5", "办公区 CAM 5", "online", 1.9)


def test_camera_down_makes_its_posts_unknown(seeded_board):
    from pipeline.web.board import board_state

    store = seeded_board.state.store
    store.set_camera_state("cam5", "offline", site_id="demo-hall")
    store.open_outage("cam5", NOW - dt.timedelta(minutes=3), "no frame for 10 s", site_id="demo-hall")
    b = board_state(seeded_board, "en", now=NOW.timestamp())
    assert {p["state"] for p in b["posts"]} == {"unknown"}
    assert {p["reason"] for p in b["posts"]} == {"camera_down"}
    p1 = next(p for p in b["posts"] if p["post_id"] == "P1")
    assert p1["since"] == pytest.approx((NOW - dt.timedelta(minutes=3)).timestamp())
    assert {d["coverage"] for d in b["duties"]} == {"unknown"}  # never "absent" while nobody can see


def test_board_and_cameras_pages(seeded_board, login):
    c, _ = login("vic")
    page = c.get("/board")
    assert page.status_code == 200 and 'id="board-posts"' in page.text and "/static/board.js" in page.text
    assert 'data-live=""' in page.text  # no alert bus here: the board says nothing is pushed
    j = c.get("/api/board").json()
    assert {p["post_id"] for p in j["posts"]} == {"P1", "P2", "P3", "P4"}
    cams = c.get("/cameras").text
    assert "办公区 CAM 5" in cams and "在线" in cams and "1.9" in cams and "数据库中最近记录" in cams
    en = c.get("/cameras?lang=en").text
    assert "Camera status" in en and "online" in en and "Analysed fps" in en
    c.get("/?lang=zh")
    assert c.get("/", follow_redirects=False).status_code == 200  # `serve`: the review list stays home
    seeded_board.state.live_runner = object()  # `run`: home is the board, the list lives on at /review
    r = c.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/board"
    r = c.get("/?rule=post.unattended", follow_redirects=False)
    assert r.headers["location"] == "/review?rule=post.unattended"
    assert c.get("/review").status_code == 200


def test_board_needs_login(client):
    assert client.get("/api/board").status_code == 401
    assert client.get("/board", headers={"accept": "text/html"}, follow_redirects=False).status_code == 303


def test_presence_board_since_and_pushes():
    pushed = []
    b = PresenceBoard(max_age_s=5.0, on_change=pushed.append)
    on, off = PostFacts("P1", (3,), 1), PostFacts("P1", (), 0)
    b.publish(100.0, {"P1": on})
    b.publish(101.0, {"P1": on})
    b.publish(102.0, {"P1": off})
    b.publish(103.0, {"P1": off})
    snap = b.snapshot(103.5)["posts"]["P1"]
    assert (snap["present"], snap["since"], snap["fresh"]) == (False, 102.0, True)
    assert [(m["present"], m["since"]) for m in pushed] == [(True, 100.0), (False, 102.0)]
    assert b.snapshot(109.0)["posts"]["P1"]["fresh"] is False  # stale: the board shows unknown
    b.publish(120.0, {"P1": off})  # seen again after a gap: since restarts, no flip pushed
    assert b.snapshot(120.0)["posts"]["P1"]["since"] == 120.0 and len(pushed) == 2
    b.note_waiting("cam5", 120.0, 4)
    assert b.snapshot(121.0)["waiting"] == {"cam5": {"count": 4, "t": 120.0, "fresh": True}}


def test_stream_kinds_are_checked(app, login):
    from pipeline.alerts.bus import AlertBus

    app.state.alert_bus = AlertBus()
    c, _ = login("vic")
    assert c.get("/api/events/stream?kinds=event,bogus").status_code == 422
    assert 'data-live="tail"' in c.get("/board").text  # `serve`: new events from the database are pushed


def test_board_state_live(app):
    """Under `run`: the runner's PresenceBoard and camera health (real objects, fed by hand)."""
    import time
    from types import SimpleNamespace

    from pipeline.live.health import CameraHealth
    from pipeline.web.board import board_state

    health = CameraHealth("cam5", "demo-hall", None)
    health.state = "online"
    pb = PresenceBoard(max_age_s=10.0)
    now = time.time()
    pb.publish(now - 9, {"P1": PostFacts("P1", (1,), 2), "P2": PostFacts("P2", (2,), 0)})
    pb.publish(now - 1, {"P1": PostFacts("P1", (1,), 2), "P2": PostFacts("P2", (), 0),
                         "P3": PostFacts("P3", (3,), 0)})
    pb.publish(now - 30, {"P4": PostFacts("P4", (4,), 0)})  # seen, but not for 30 s: stale
    app.state.live_runner = SimpleNamespace(board=pb, health=lambda: [health.snapshot()])
    b = board_state(app, "zh", now=now)
    tiles = {p["post_id"]: p for p in b["posts"]}
    assert b["source"] == "live"
    assert (tiles["P1"]["state"], tiles["P1"]["since"], tiles["P1"]["customers"]) == ("staffed", now - 9, 2)
    assert (tiles["P2"]["state"], tiles["P2"]["since"]) == ("away", now - 1)
    assert (tiles["P4"]["state"], tiles["P4"]["reason"]) == ("unknown", "stale")
    assert {d["duty_id"]: d["coverage"] for d in b["duties"]} == {"D1": "unknown", "D2": "a"}
    assert b["cameras"][0]["state"] == "online" and b["cameras"][0]["source"] == "live"
    health.state = "reconnecting"  # the camera drops: every post of it is unknown, never away
    b = board_state(app, "zh", now=now)
    assert {(p["state"], p["reason"]) for p in b["posts"]} == {("unknown", "camera_down")}
