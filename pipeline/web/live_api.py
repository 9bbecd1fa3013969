"""Live routes: /api/health (anonymous), /api/cameras, /metrics, SSE /api/events/stream, WS /ws/events.

The SSE and WebSocket handlers read from the in-process AlertBus (app.state.alert_bus)
with a bounded queue each, so a slow browser loses its oldest alerts rather than
slowing a camera. /api/cameras and /metrics read the running LiveRunner
(app.state.live_runner) when `counterwatch run` serves the app, and the camera_state
table otherwise (`counterwatch serve` next to a separate run process).
Everything but /api/health needs a login; Prometheus may instead send
`Authorization: Bearer $COUNTERWATCH_METRICS_TOKEN`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import PlainTextResponse, StreamingResponse

from pipeline import __version__
from pipeline.alerts.bus import AlertBus, AlertFilter
from pipeline.alerts.webhooks import dead_letters
from pipeline.events import queries
from pipeline.web.auth import SESSION_COOKIE, auth_state, current_user, has_role, origin_allowed, require_user
from pipeline.web.schedule import app_schedule

router = APIRouter()
viewer = require_user("viewer")
Viewer = Annotated[dict, Depends(viewer)]
HEARTBEAT_S = 15.0
REVALIDATE_S = 15.0  # an open stream re-checks its session this often: logout or `users disable` ends it


def _session_alive(conn: Any) -> bool:
    return auth_state(conn).session_user(conn.cookies.get(SESSION_COOKIE)) is not None
STARTED = time.time()


def _bus(app: Any) -> AlertBus:
    bus = getattr(app.state, "alert_bus", None)
    if bus is None:
        raise HTTPException(503, "live alert feed is not running in this process (start `counterwatch run`)")
    return bus


STREAM_KINDS = ("event", "presence", "camera")  # presence flips and camera states feed the hall board


def _filter(camera: str | None, post: str | None, rule: str | None, severity: str | None,
            kinds: str | None = None) -> AlertFilter:
    wanted = tuple(k.strip() for k in (kinds or "event").split(",") if k.strip()) or ("event",)
    bad = sorted(set(wanted) - set(STREAM_KINDS))
    if bad:
        raise HTTPException(422, f"kinds: one of {', '.join(STREAM_KINDS)}, got {', '.join(bad)}")
    try:
        return AlertFilter.parse(camera, post, rule, severity, kinds=wanted)
    except ValueError as exc:
        raise HTTPException(422, f"severity: {exc}") from None


def camera_rows(app: Any) -> list[dict[str, Any]]:
    """Live figures from the runner in this process, else the last camera_state rows in the DB."""
    runner = getattr(app.state, "live_runner", None)
    if runner is not None:
        return [{**h.as_dict(), "source": "live"} for h in runner.health()]
    return [{"camera_id": r.camera_id, "site_id": r.site_id, "state": r.state, "fps": round(r.fps, 3),
             "drop_rate": round(r.drop_rate, 3), "latency_s": round(r.latency_s, 3),
             "updated_at": r.updated_at.isoformat() if r.updated_at else None, "source": "db"}
            for r in queries.camera_states(app.state.store)]


@router.get("/api/health", tags=["live"])
def health(request: Request) -> dict[str, Any]:
    """Anonymous liveness probe: no camera names, no data."""
    runner = getattr(request.app.state, "live_runner", None)
    out: dict[str, Any] = {"status": "ok", "version": __version__, "uptime_s": round(time.time() - STARTED, 1),
                           "live": runner is not None}
    if runner is not None:
        states = [h.state for h in runner.health()]
        out["cameras"] = {s: states.count(s) for s in sorted(set(states))}

    schedule = app_schedule(request.app)  # rules inactive now (outside opening hours) and until when
    if schedule is not None:
        out["schedule"] = schedule
    return out


@router.get("/api/cameras", tags=["live"])
def cameras(request: Request, user: Viewer) -> dict[str, Any]:
    """State (online / reconnecting / offline), analysed fps, drop rate and latency per camera."""
    rows = camera_rows(request.app)
    by_cam = {cam: start.isoformat() for cam, start in queries.open_outage_starts(request.app.state.store).items()}
    for r in rows:
        r["outage_since"] = by_cam.get(r["camera_id"])
    return {"cameras": rows}


@router.get("/api/outages", tags=["live"])
def outages(request: Request, user: Viewer, camera: str | None = None,
            limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    return {"outages": [{"id": o.id, "site_id": o.site_id, "camera_id": o.camera_id,
                         "start": o.start.isoformat(), "end": o.end.isoformat() if o.end else None,
                         "reason": o.reason}
                        for o in queries.outages(request.app.state.store, camera_id=camera, limit=limit)]}


def _metrics_auth(request: Request) -> None:
    token = os.environ.get("COUNTERWATCH_METRICS_TOKEN")
    sent = request.headers.get("authorization", "")
    if token and sent.startswith("Bearer ") and hmac.compare_digest(sent[7:], token):
        return
    if current_user(request) is None:
        raise HTTPException(401, "login required")


@router.get("/metrics", tags=["live"], response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    """Prometheus text format (0.0.4)."""
    _metrics_auth(request)
    lines: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: list[tuple[dict[str, str], float]]) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            lab = ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items())
            lines.append(f"{name}{{{lab}}} {value:g}" if lab else f"{name} {value:g}")

    rows = camera_rows(request.app)
    cam = [({"camera": r["camera_id"], "site": r["site_id"]}, r) for r in rows]
    metric("counterwatch_camera_up", "gauge", "1 when the camera is online",
           [(lab, 1.0 if r["state"] == "online" else 0.0) for lab, r in cam])
    metric("counterwatch_camera_fps", "gauge", "Analysed frames per second (last 10 s)", [(lab, r["fps"]) for lab, r in cam])
    metric("counterwatch_camera_drop_rate", "gauge", "Share of analysis slots without an analysed frame",
           [(lab, r["drop_rate"]) for lab, r in cam])
    metric("counterwatch_camera_latency_seconds", "gauge", "Median frame-to-result latency",
           [(lab, r["latency_s"]) for lab, r in cam])
    if rows and "analysed" in rows[0]:
        metric("counterwatch_frames_analysed_total", "counter", "Frames analysed", [(lab, r["analysed"]) for lab, r in cam])
        metric("counterwatch_frames_dropped_total", "counter", "Frames replaced or skipped as stale",
               [(lab, r["dropped"]) for lab, r in cam])
        metric("counterwatch_events_started_total", "counter", "Events started", [(lab, r["events"]) for lab, r in cam])
        metric("counterwatch_camera_outages_total", "counter", "Outages since start", [(lab, r["outages"]) for lab, r in cam])
    bus = getattr(request.app.state, "alert_bus", None)
    if bus is not None:
        metric("counterwatch_alerts_published_total", "counter", "Alerts published on the bus", [({}, bus.published)])
        metric("counterwatch_alert_subscribers", "gauge", "Connected SSE/WebSocket clients", [({}, bus.subscribers)])
    pend, dead = queries.outbox_sinks(request.app.state.store)
    sinks = sorted(set(pend))
    metric("counterwatch_webhook_pending", "gauge", "Alerts waiting in the webhook outbox",
           [({"sink": k}, float(pend.count(k))) for k in sinks] or [({}, 0.0)])
    metric("counterwatch_webhook_dead_letters", "gauge", "Alerts given up on after the attempt limit",
           [({"sink": k}, float(dead.count(k))) for k in sorted(set(dead))] or [({}, 0.0)])
    runner = getattr(request.app.state, "live_runner", None)
    if runner is not None and runner.outbox is not None:
        metric("counterwatch_webhook_delivered_total", "counter", "Webhook deliveries", [({}, runner.outbox.delivered)])
        metric("counterwatch_webhook_failures_total", "counter", "Failed webhook attempts", [({}, runner.outbox.failures)])
    if runner is not None:
        restarts = getattr(runner, "worker_restarts", None)
        if callable(restarts):
            metric("counterwatch_camera_worker_restarts_total", "counter", "Camera workers restarted after an error",
                   [({"camera": k}, float(v)) for k, v in sorted(restarts().items())] or [({}, 0.0)])
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4; charset=utf-8")


def _esc(v: Any) -> str:
    return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@router.get("/api/admin/dead-letters", tags=["live"])
def get_dead_letters(user: Annotated[dict, Depends(require_user("admin"))], request: Request,
                     limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    """Webhook alerts given up on after `alerts.retry_max_attempts` (newest first), admins only."""

    store = request.app.state.store
    return {"total": queries.dead_letter_count(store), "items": dead_letters(store, limit)}


@router.get("/api/events/stream", tags=["live"])
async def events_stream(request: Request, user: Viewer, camera: str | None = None, post: str | None = None,
                        rule: str | None = None,
                        severity: str | None = Query(None, description="minimum severity"),
                        kinds: str | None = Query(None, description="comma-separated: event (default), presence, camera")
                        ) -> StreamingResponse:
    """Server-Sent Events: one `event: alert` per event state (`event: presence` / `event: camera` for those
    kinds); `: ping` comments keep proxies open."""
    bus = _bus(request.app)
    flt = _filter(camera, post, rule, severity, kinds)
    sub = bus.subscribe(flt, maxsize=500)
    sub.bind_loop()

    async def gen():
        checked = time.monotonic()
        try:
            yield ": connected\n\n"
            while True:
                alert = await sub.aget(HEARTBEAT_S)
                if await request.is_disconnected():
                    break
                if time.monotonic() - checked >= REVALIDATE_S:
                    checked = time.monotonic()
                    if not _session_alive(request):
                        yield "event: logout\ndata: {}\n\n"
                        break
                if alert is None:
                    yield ": ping\n\n"
                    continue
                data = json.dumps(alert, ensure_ascii=False)
                if alert.get("kind", "event") != "event":
                    yield f"event: {alert['kind']}\ndata: {data}\n\n"
                    continue
                yield f"id: {alert['event_id']}:{alert['state']}\nevent: alert\ndata: {data}\n\n"
        except asyncio.CancelledError:
            pass
        finally:
            sub.close()

    return StreamingResponse(gen(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.websocket("/ws/events")
async def events_ws(ws: WebSocket, camera: str | None = None, post: str | None = None, rule: str | None = None,
                    severity: str | None = None) -> None:
    """WebSocket: JSON alerts; the client may send {"ping": 1} and gets {"pong": 1}."""
    if not origin_allowed(ws):  # a page on another site must not ride the session cookie
        await ws.close(code=1008, reason="origin not allowed")
        return
    user = current_user(ws)
    if user is None or not has_role(user, "viewer"):
        await ws.close(code=1008, reason="login required")
        return
    try:
        bus = _bus(ws.app)
        flt = _filter(camera, post, rule, severity)
    except HTTPException as exc:
        await ws.close(code=1011 if exc.status_code == 503 else 1008, reason=str(exc.detail)[:120])
        return
    await ws.accept()
    sub = bus.subscribe(flt, maxsize=500)
    sub.bind_loop()

    async def pump_in() -> None:
        while True:
            msg = await ws.receive_text()
            if '"ping"' in msg:
                await ws.send_text('{"pong":1}')

    reader = asyncio.create_task(pump_in())
    checked = time.monotonic()
    try:
        while not reader.done():
            if time.monotonic() - checked >= REVALIDATE_S:
                checked = time.monotonic()
                if not _session_alive(ws):
                    await ws.close(code=1008, reason="session ended")
                    break
            alert = await sub.aget(1.0)
            if alert is not None:
                await ws.send_text(json.dumps(alert, ensure_ascii=False))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        reader.cancel()
        sub.close()


def prefer_live_routes(app: Any) -> None:
    """Move this router's routes to the front: `/api/events/stream` must win over `/api/events/{event_id}`.

    Needed while the app factory includes the review router first; harmless once it includes this one first.
    """
    routes = app.router.routes
    mine = [r for r in routes if getattr(r, "original_router", None) is router
            or getattr(r, "endpoint", None) in {events_stream, events_ws, health, cameras, outages, metrics}]
    rest = [r for r in routes if r not in mine]
    routes[:] = mine + rest
