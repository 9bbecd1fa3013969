"""`counterwatch run --config site.yaml --data DIR`: watch every enabled camera live and serve the web app.

Cameras, the alert bus and the web server share one process (see pipeline.live.runner
for why). SIGINT/SIGTERM stop the web server first, then every camera: running events
end, clips are finished, presence and the webhook outbox are flushed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from pathlib import Path

from pipeline.commands.syscheck import CLIP_NEEDS, require
from pipeline.config.schedule import describe, schedule_status
from pipeline.core.errors import ConfigError
from pipeline.core.sitetime import use_site_timezone
from pipeline.settings import load_config

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="watch the site's cameras live and serve the web app (alerts, review)")
    p.add_argument("--config", required=True, help="site config YAML")
    p.add_argument("--data", required=True, help="data folder (counterwatch.db, clips/, snapshots/)")
    p.add_argument("--host", default="127.0.0.1", help="web server address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="web server port (default 8080)")
    p.add_argument("--db-url", help="database URL, e.g. postgresql://user@host/db (default: SQLite in --data)")
    p.add_argument("--camera", action="append", help="watch only this camera id (repeatable)")
    p.add_argument("--fps", type=float, help="analysed frames per second per camera (default: analysis.fps)")
    p.add_argument("--workers", type=int, help="parallel inference model sets (default: CPU cores)")
    p.add_argument("--max-lag-s", type=float, default=2.0, help="skip frames older than this when a model set frees up")
    p.add_argument("--offline-after-s", type=float, default=60.0,
                   help="a camera reconnecting this long is reported offline (default 60)")
    p.add_argument("--backoff-max-s", type=float, default=30.0, help="longest wait between reconnect tries (default 30)")
    p.add_argument("--rtsp-transport", choices=["tcp", "udp"], help="force RTSP over TCP or UDP (default: FFmpeg's)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipeline.alerts.bus import AlertBus
    from pipeline.events.siteconfig import remember as remember_config
    from pipeline.events.store import EventStore
    from pipeline.live.logjson import install_json_logging
    from pipeline.live.runner import LiveRunner
    from pipeline.live.webserver import make_server
    from pipeline.sources import config_dir
    from pipeline.web.app import create_app
    from pipeline.web.live_api import prefer_live_routes

    install_json_logging()
    require(warn=CLIP_NEEDS)
    if args.fps is not None and args.fps <= 0:
        raise ConfigError(f"--fps must be > 0, got {args.fps}")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    for flag in ("offline_after_s", "backoff_max_s"):
        if getattr(args, flag) <= 0:
            raise ConfigError(f"--{flag.replace('_', '-')} must be > 0, got {getattr(args, flag)}")
    live_options = {"offline_after_s": args.offline_after_s, "backoff_max_s": args.backoff_max_s}
    if args.rtsp_transport:
        live_options["rtsp_transport"] = args.rtsp_transport
    cfg_path = Path(args.config)
    cfg = load_config(cfg_path)
    use_site_timezone(cfg)
    data = Path(args.data)
    store = EventStore.for_dir(data, args.db_url)
    remember_config(data, cfg, origin=str(cfg_path), command="run", day=dt.date.today())
    bus = AlertBus()
    runner = LiveRunner(cfg, data, store, bus=bus, config_dir=config_dir(cfg_path), pool_size=args.workers,
                        fps=args.fps, max_lag_s=args.max_lag_s, cameras=args.camera, live_options=live_options,
                        config_path=cfg_path)
    app = create_app(data, config_path=cfg_path, db_url=args.db_url, alert_bus=bus)
    app.state.live_runner = runner
    runner.config_listeners.append(lambda new: setattr(app.state, "config", new))  # hand edits reach the web app
    prefer_live_routes(app)
    server = make_server(app, args.host, args.port)
    runner.start()
    print(f"counterwatch: watching {len(runner.cameras)} camera(s) of site {cfg.site.id!r}; "
          f"web app on http://{args.host}:{args.port}/", flush=True)
    schedule = describe(schedule_status(cfg))
    if schedule:  # 0 events outside opening hours is expected: say so, and until when
        log.warning("%s", schedule)
        print(f"counterwatch: {schedule}", flush=True)
    try:
        server.run()
    finally:
        runner.stop()
        store.close()
    if not server.started:
        raise ConfigError(f"--port {args.port}: the web server could not start (address in use?)")
    print("counterwatch: stopped cleanly", flush=True)
    return 0
