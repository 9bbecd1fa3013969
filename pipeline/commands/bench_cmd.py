"""`counterwatch bench live --cameras N`: how many live cameras this machine carries.

N file-backed cameras play a real clip at real-time pace (looping) through the same
LiveRunner, AlertBus and web server as `counterwatch run`. Each camera has a post
whose seat zone is an empty corner, so `post.unattended` raises an event and then an
update every second: a steady stream of real alerts. A client logged in over HTTP
reads them from the SSE endpoint, and latency is measured from the timestamp of the
frame that raised each alert to its arrival at that client. Figures are printed
(and written as JSON); nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from pipeline.core.errors import ConfigError, SourceError

log = logging.getLogger(__name__)
DEFAULT_CLIP = "dev/desk_videos/lintasartasolutions__cctv_region_counter/Office_CCTV.mp4"


def _bench_parser(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The `bench` subcommand's own subparsers (created by bench_models when present)."""
    bench = sub.choices.get("bench")
    if bench is None:
        bench = sub.add_parser("bench", help="measure speed on this machine")
        return bench.add_subparsers(dest="bench_cmd", required=True)
    for action in bench._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return bench.add_subparsers(dest="bench_cmd", required=True)


def add_parser(sub: argparse._SubParsersAction) -> None:
    s = _bench_parser(sub)
    p = s.add_parser("live", help="N looping file cameras in real time: fps, drops, CPU, memory, alert latency")
    p.add_argument("--cameras", type=int, default=1, help="number of cameras (default 1)")
    p.add_argument("--duration-s", type=float, default=60.0, help="measured seconds after warm-up (default 60)")
    p.add_argument("--warmup-s", type=float, default=8.0, help="seconds before measuring (default 8)")
    p.add_argument("--fps", type=float, default=2.0, help="analysed fps per camera (default 2)")
    p.add_argument("--clip", help=f"video to loop (default $COUNTERWATCH_DATA_DIR/{DEFAULT_CLIP})")
    p.add_argument("--config", help="site config whose models/analysis sections are used (default: built-in)")
    p.add_argument("--workers", type=int, help="parallel model sets (default: CPU cores)")
    p.add_argument("--no-pose", action="store_true", help="detector only (models.pose.type none)")
    p.add_argument("--json", help="write the figures to this JSON file")
    p.set_defaults(func=run_bench)


def bench_config(n: int, clip: str, base: Any = None, no_pose: bool = False) -> Any:
    from pipeline.settings import SiteConfig

    if n < 1:
        raise ConfigError(f"--cameras must be >= 1, got {n}")
    corner = [[0.0, 0.0], [0.06, 0.0], [0.06, 0.06], [0.0, 0.06]]
    data: dict[str, Any] = {
        "site": {"id": "bench", "name": "bench", "opening_hours": [
            {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00"}]},
        "cameras": [{"id": f"cam{i + 1}", "source": clip,
                     "posts": [{"id": f"P{i + 1}", "name": f"{i + 1}号窗口", "seat": corner}]} for i in range(n)],
        "rules": {"post.unattended": {"min_duration_s": 1.0, "clear_after_s": 2.0, "update_every_s": 1.0,
                                      "active": "always"}},
    }
    if base is not None:
        data["models"] = base.models.model_dump()
        data["analysis"] = base.analysis.model_dump()
    if no_pose:
        data.setdefault("models", {})["pose"] = {"type": "none"}
    return SiteConfig.model_validate(data)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SseClient(threading.Thread):
    """Logs in and reads /api/events/stream, recording frame-to-arrival latency per alert."""

    def __init__(self, base_url: str, username: str, password: str):
        super().__init__(name="bench-sse", daemon=True)
        self.base_url, self.username, self.password = base_url, username, password
        self.samples: list[tuple[float, float, str]] = []  # (arrival, latency_s, camera)
        self.connected = threading.Event()
        self.stop = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        import httpx

        try:
            with httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(10.0, read=30.0)) as c:
                c.post("/api/login", json={"username": self.username, "password": self.password}).raise_for_status()
                with c.stream("GET", "/api/events/stream") as resp:
                    resp.raise_for_status()
                    self.connected.set()
                    for line in resp.iter_lines():
                        if self.stop.is_set():
                            break
                        if line.startswith("data: "):
                            now = time.time()
                            alert = json.loads(line[6:])
                            if alert.get("frame_s"):
                                self.samples.append((now, now - alert["frame_s"], alert["camera_id"]))
        except Exception as exc:  # reported in the figures
            self.error = f"{type(exc).__name__}: {exc}"
            self.connected.set()


def _rss_mb() -> float:
    """Resident memory now (Linux /proc), MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def _pct(vals: list[float], p: float) -> float | None:
    if not vals:
        return None
    s = sorted(vals)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def run_bench(args: argparse.Namespace) -> int:
    import uvicorn

    from pipeline.alerts.bus import AlertBus
    from pipeline.events.store import EventStore
    from pipeline.live.runner import LiveRunner
    from pipeline.settings import load_config
    from pipeline.web.app import create_app
    from pipeline.web.auth import add_user
    from pipeline.web.live_api import prefer_live_routes

    clip = args.clip or str(Path(os.environ.get("COUNTERWATCH_DATA_DIR", "")) / DEFAULT_CLIP)
    if not Path(clip).is_file():
        raise SourceError(f"--clip {clip}: video file not found (set COUNTERWATCH_DATA_DIR or pass --clip)")
    base = load_config(args.config) if args.config else None
    cfg = bench_config(args.cameras, clip, base, args.no_pose)
    data = Path(tempfile.mkdtemp(prefix="cw-bench-"))
    store = EventStore.for_dir(data)
    add_user(store, "bench", "viewer", "bench-password")
    bus = AlertBus()
    runner = LiveRunner(cfg, data, store, bus=bus, pool_size=args.workers, fps=args.fps)
    app = create_app(data, alert_bus=bus)
    app.state.live_runner = runner
    prefer_live_routes(app)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                           timeout_graceful_shutdown=1))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # runs in a thread
    web = threading.Thread(target=server.run, name="bench-web", daemon=True)
    web.start()
    while not server.started:
        time.sleep(0.05)
    client = SseClient(f"http://127.0.0.1:{port}", "bench", "bench-password")
    client.start()
    client.connected.wait(10)
    from pipeline.core.threads import thread_plan

    print(f"bench live: {args.cameras} camera(s) x {args.fps:g} fps, clip {Path(clip).name}, "
          f"{runner.pool_size} model set(s) ({thread_plan(runner.pool_size).describe()}); "
          f"warm-up {args.warmup_s:g} s, measuring {args.duration_s:g} s", flush=True)
    runner.start()
    try:
        time.sleep(args.warmup_s)
        h0 = {h.camera_id: h for h in runner.health()}
        ru0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.time()
        rss0 = _rss_mb()
        time.sleep(args.duration_s)
        h1 = {h.camera_id: h for h in runner.health()}
        ru1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.time()
        rss1 = _rss_mb()
    finally:
        client.stop.set()
        server.should_exit = True
        runner.stop()
        web.join(5)
        store.close()
    wall = t1 - t0
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    per_cam = []
    for cam_id, a in h1.items():
        b = h0.get(cam_id)
        n = a.analysed - (b.analysed if b else 0)
        fps = n / wall
        per_cam.append({"camera": cam_id, "analysed_fps": round(fps, 3),
                        "drop_rate": round(max(0.0, 1 - fps / args.fps), 3),
                        "frame_latency_p50_s": round(a.latency_s, 3), "frame_latency_p95_s": round(a.latency_p95_s, 3),
                        "state": a.state})
    lat = [s[1] for s in client.samples if t0 <= s[0] <= t1]
    result = {
        "cameras": args.cameras, "target_fps": args.fps, "workers": runner.pool_size, "measured_s": round(wall, 1),
        "clip": Path(clip).name, "pose": cfg.models.pose.type, "detector": cfg.models.detector.model,
        "cpu_percent": round(100 * cpu / wall, 1), "cpu_cores": os.cpu_count(),
        "peak_rss_mb": round(ru1.ru_maxrss / 1024, 1), "rss_start_mb": rss0, "rss_end_mb": rss1,
        "mean_analysed_fps_per_camera": round(statistics.mean(c["analysed_fps"] for c in per_cam), 3),
        "mean_drop_rate": round(statistics.mean(c["drop_rate"] for c in per_cam), 3),
        "alerts_received": len(lat),
        "alert_latency_p50_s": None if not lat else round(_pct(lat, 50), 3),
        "alert_latency_p95_s": None if not lat else round(_pct(lat, 95), 3),
        "sse_error": client.error, "per_camera": per_cam,
    }
    print(f"{'camera':<8} {'fps':>6} {'drop':>6} {'lat p50':>8} {'lat p95':>8}")
    for c in per_cam:
        print(f"{c['camera']:<8} {c['analysed_fps']:>6.2f} {c['drop_rate']:>6.1%} {c['frame_latency_p50_s']:>7.2f}s "
              f"{c['frame_latency_p95_s']:>7.2f}s")
    print(f"CPU {result['cpu_percent']:.0f}% of one core ({result['cpu_cores']} cores), RSS "
          f"{rss0:.0f} MB at the start of measuring, {rss1:.0f} MB at the end, peak {result['peak_rss_mb']:.0f} MB, mean {result['mean_analysed_fps_per_camera']:.2f} fps/camera, "
          f"drop rate {result['mean_drop_rate']:.1%}")
    if lat:
        print(f"alert latency frame->SSE: p50 {result['alert_latency_p50_s']:.2f} s, "
              f"p95 {result['alert_latency_p95_s']:.2f} s over {len(lat)} alerts")
    else:
        print(f"alert latency: no alerts received ({client.error or 'none raised'})")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return 0
