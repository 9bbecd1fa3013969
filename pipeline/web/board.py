"""The live hall board (/board) and the camera status page (/cameras).

The board answers "who is at which post right now": one tile per post, ordered as the
posts sit in the hall (camera by camera, left to right by the seat zone's centre in the
camera picture), with staffed / away since HH:MM / unknown (the camera is down or has
sent nothing yet), the A/B coverage of each duty, open alerts with their age, the
waiting-area count and each camera's health.

Where the figures come from, in this order:
- `counterwatch run` (a LiveRunner in this process): the PresenceBoard the rules read
  (smoothed presence, so the board and the rules agree), the cameras' health, and the
  open events; presence flips and camera state changes are pushed on the SSE feed
  (`/api/events/stream?kinds=event,presence,camera`), and the page refetches on each.
- `counterwatch serve`: the last presence intervals, camera_state rows and open events
  in the database (a run elsewhere flushes presence about once a minute), so the board
  says "as of" when the data is from. Queue length and customers per post are live-only.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from pipeline.events import queries
from pipeline.live.health import DOWN_STATES
from pipeline.web.auth import ViewerUser
from pipeline.web.i18n import get_lang, render, rule_name
from pipeline.web.live_api import camera_rows
from pipeline.web.names import names_of, site_config_of

router = APIRouter()
OPEN_ALERTS_MAX = 30
PRESENCE_MERGE_GAP_S = 5.0  # presence rows closer than this continue one another (flushes cut intervals)


def _epoch(v: dt.datetime | None) -> float | None:
    return None if v is None else v.timestamp()


def _centroid(poly: Any) -> tuple[float, float]:
    pts = [(float(p[0]), float(p[1])) for p in poly or []]
    if not pts:
        return 0.5, 0.5
    return sum(x for x, _ in pts) / len(pts), sum(y for _, y in pts) / len(pts)


def board_posts(app: Any) -> list[dict[str, Any]]:
    """The posts in hall order: from the config, else the posts seen in the database."""
    cfg = site_config_of(app)
    names = names_of(app)
    out: list[dict[str, Any]] = []
    if cfg is not None:
        staff_by_post: dict[str, list[dict[str, str]]] = {}
        for s in cfg.roster.staff:
            if s.post:
                staff_by_post.setdefault(s.post, []).append({"id": s.id, "name": s.name or s.id})
        for ci, cam in enumerate(cfg.cameras):
            if not cam.enabled:
                continue
            posts = sorted(cam.posts, key=lambda p: _centroid(p.seat)[0])
            for p in posts:
                x, y = _centroid(p.seat)
                out.append({"post_id": p.id, "name": p.name or p.id, "camera_id": cam.id,
                            "camera_name": cam.name or cam.id, "camera_order": ci, "x": round(x, 3),
                            "y": round(y, 3), "staff": staff_by_post.get(p.id, [])})
        return out
    for cam_id, post_id in sorted(queries.posts_seen(app.state.store)):
        out.append({"post_id": post_id, "name": names.post(post_id), "camera_id": cam_id,
                    "camera_name": names.camera(cam_id), "camera_order": 0, "x": None, "y": None, "staff": []})
    return out


def _db_presence(store: Any, post_id: str) -> dict[str, Any] | None:
    """The post's current run of one state from the stored intervals: state, since, as of."""
    rows = queries.recent_presence(store, post_id, limit=200)
    if not rows:
        return None
    head = rows[0]
    start, since_wall = head.start_s, head.wall_start
    for r in rows[1:]:
        if r.state != head.state or start - r.end_s > PRESENCE_MERGE_GAP_S:
            break
        start, since_wall = r.start_s, r.wall_start
    return {"state": head.state, "since": _epoch(since_wall), "as_of": _epoch(head.wall_end)}


def _open_outages(store: Any) -> dict[str, float]:
    return {cam: start.timestamp() for cam, start in queries.open_outage_starts(store).items()}


def _open_alerts(app: Any, lang: str, now: float) -> list[dict[str, Any]]:
    names = names_of(app)
    rows = queries.events(app.state.store, queries.EventQuery(open_only=True, include_superseded=True),
                          limit=OPEN_ALERTS_MAX)
    out = []
    for e in rows:
        start = _epoch(e.wall_start)
        out.append({"event_id": e.event_id, "rule_id": e.rule_id, "rule_name": rule_name(e.rule_id, lang),
                    "post_id": e.post_id, "post_name": names.post(e.post_id) if e.post_id else None,
                    "camera_id": e.camera_id, "camera_name": names.camera(e.camera_id), "severity": e.severity,
                    "state": e.state, "start": start,
                    "age_s": None if start is None else round(max(0.0, now - start), 1)})
    return out


def _cameras(app: Any, now: float) -> list[dict[str, Any]]:
    names = names_of(app)
    rows = camera_rows(app)
    outages = _open_outages(app.state.store)
    cfg = site_config_of(app)
    known = {r["camera_id"] for r in rows}
    if cfg is not None:  # configured cameras with no state yet are "unknown", not missing
        rows += [{"camera_id": c.id, "state": "unknown", "fps": 0.0, "drop_rate": 0.0, "latency_s": 0.0,
                  "source": "none"} for c in cfg.cameras if c.enabled and c.id not in known]
    out = []
    for r in rows:
        upd = r.get("updated_at")
        if r.get("last_frame_age_s") is not None:
            last_frame = now - float(r["last_frame_age_s"])
        elif upd:  # camera_state.updated_at is UTC
            last_frame = dt.datetime.fromisoformat(upd).replace(tzinfo=dt.UTC).timestamp()
        else:
            last_frame = None
        out.append({"camera_id": r["camera_id"], "name": names.camera(r["camera_id"]), "state": r["state"],
                    "fps": r.get("fps", 0.0), "drop_rate": r.get("drop_rate", 0.0),
                    "latency_s": r.get("latency_s", 0.0), "last_frame": last_frame,
                    "last_frame_age_s": None if last_frame is None else round(max(0.0, now - last_frame), 1),
                    "outage_since": outages.get(r["camera_id"]), "source": r.get("source", "db"),
                    "reason": r.get("reason", "")})
    return out


def board_state(app: Any, lang: str, now: float | None = None) -> dict[str, Any]:
    """Everything the board shows, as one JSON-able dict."""
    now = time.time() if now is None else now
    runner = getattr(app.state, "live_runner", None)
    live_board = getattr(runner, "board", None) if runner is not None else None
    snap = live_board.snapshot(now) if live_board is not None else None
    cameras = _cameras(app, now)
    cam_by_id = {c["camera_id"]: c for c in cameras}
    alerts = _open_alerts(app, lang, now)
    posts = board_posts(app)
    as_of: float | None = None
    by_post: dict[str, dict[str, Any]] = {}
    for p in posts:
        cam = cam_by_id.get(p["camera_id"])
        cam_down = cam is not None and cam["state"] in DOWN_STATES
        tile = {**p, "state": "unknown", "reason": "no_data", "since": None, "customers": None, "as_of": None}
        if snap is not None:
            entry = snap["posts"].get(p["post_id"])
            if cam_down:
                tile.update(reason="camera_down", since=cam["outage_since"] if cam else None)
            elif entry is not None and entry["fresh"]:
                tile.update(state="staffed" if entry["present"] else "away", reason=None, since=entry["since"],
                            customers=entry["customers"], as_of=entry["t"])
            elif entry is not None:  # seen, but not for max_age_s: the camera lags (the rules say unknown too)
                tile.update(reason="stale", as_of=entry["t"])
        else:
            got = _db_presence(app.state.store, p["post_id"])
            if got is not None:
                tile["as_of"] = got["as_of"]
                as_of = max(as_of or 0.0, got["as_of"] or 0.0) or None
                if got["state"] == "unknown" or cam_down:
                    tile.update(reason="camera_down", since=got["since"] if got["state"] == "unknown" else
                                (cam["outage_since"] if cam else None))
                else:
                    tile.update(state="staffed" if got["state"] == "present" else "away", reason=None,
                                since=got["since"])
            elif cam_down:
                tile["reason"] = "camera_down"
        tile["alerts"] = [a["event_id"] for a in alerts if a["post_id"] == p["post_id"]]
        by_post[p["post_id"]] = tile
    return {"source": "live" if snap is not None else "db", "now": now, "as_of": now if snap is not None else as_of,
            "posts": list(by_post.values()), "duties": _duties(app, by_post, now), "alerts": alerts,
            "queue": _queue(app, snap), "cameras": cameras}


def _duties(app: Any, by_post: dict[str, dict[str, Any]], now: float) -> list[dict[str, Any]]:
    cfg = site_config_of(app)
    if cfg is None:
        return []
    names = names_of(app)
    today = dt.datetime.fromtimestamp(now).date()
    out = []
    for d in cfg.roster.duties:
        roles = {}
        for key, role in (("a", d.a), ("b", d.b)):
            tile = by_post.get(role.post)
            roles[key] = {"staff": role.staff, "name": names.person(role.staff), "post_id": role.post,
                          "post_name": names.post(role.post), "state": tile["state"] if tile else "unknown",
                          "on_leave": cfg.roster.on_leave(role.staff, today)}
        a, b = roles["a"]["state"], roles["b"]["state"]
        if a == "staffed":
            coverage = "both" if b == "staffed" else "a"
        elif a == "unknown" or b == "unknown":
            coverage = "unknown"
        else:
            coverage = "b" if b == "staffed" else "none"
        out.append({"duty_id": d.id, "name": d.name or d.id, "a": roles["a"], "b": roles["b"], "coverage": coverage})
    return out


def _queue(app: Any, snap: dict[str, Any] | None) -> dict[str, Any]:
    """People in the waiting areas of the cameras that have one (live only; None when unknown)."""
    cfg = site_config_of(app)
    cams = [c.id for c in cfg.cameras if c.enabled and c.waiting] if cfg is not None else []
    if not cams:
        return {"waiting": None, "configured": False, "by_camera": {}}
    by_cam = {}
    if snap is not None:
        by_cam = {c: snap["waiting"][c]["count"] for c in cams if c in snap["waiting"] and snap["waiting"][c]["fresh"]}
    return {"waiting": sum(by_cam.values()) if by_cam else None, "configured": True, "by_camera": by_cam}


# --------------------------------------------------------------------------------------------
# routes
# --------------------------------------------------------------------------------------------
@router.get("/api/board", tags=["live"])
def api_board(request: Request, user: ViewerUser) -> dict[str, Any]:
    """The hall board: posts (staffed / away since / unknown), A/B duties, open alerts, queue, cameras."""
    return board_state(request.app, get_lang(request))


@router.get("/board", response_class=HTMLResponse, include_in_schema=False)
def page_board(request: Request, user: ViewerUser):
    cfg = site_config_of(request.app)
    site = cfg.site.name or cfg.site.id if cfg is not None else ""
    return render(request, "board.html", site=site, has_config=cfg is not None, live_mode=live_mode(request.app))


@router.get("/cameras", response_class=HTMLResponse, include_in_schema=False)
def page_cameras(request: Request, user: ViewerUser):
    now = time.time()
    cams = _cameras(request.app, now)
    outages = [{"camera_id": o.camera_id, "start": o.start, "end": o.end, "reason": o.reason}
               for o in queries.outages(request.app.state.store, limit=20)]
    live = getattr(request.app.state, "live_runner", None) is not None
    return render(request, "cameras.html", cams=cams, outages=outages, live=live, now=now,
                  fmt_clock=lambda t: dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S") if t else "—")


def live_mode(app: Any) -> str | None:
    """What the SSE feed can push here: "run" (cameras in this process), "tail" (events other processes
    write into the database, `serve`) or None (no alert bus: nothing is ever pushed)."""
    if getattr(app.state, "alert_bus", None) is None:
        return None
    return "run" if getattr(app.state, "live_runner", None) is not None else "tail"


def run_home(request: Request) -> RedirectResponse | None:
    """Under `counterwatch run` the home page is the board; the review list lives on at /review."""
    if getattr(request.app.state, "live_runner", None) is None:
        return None
    q = request.url.query
    return RedirectResponse("/review?" + q if q else "/board", status_code=303)
