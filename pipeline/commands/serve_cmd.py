"""`counterwatch serve`: the review web app (and the live feed, when present) under uvicorn."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the web UI / API server")
    p.add_argument("--config", default=None, help="site YAML (enables the zone editor and camera/post names)")
    p.add_argument("--data", default="data", help="data folder with counterwatch.db, clips/ and snapshots/")
    p.add_argument("--db-url", default=None, help="database URL instead of the data folder's SQLite file")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--secure-cookie", action="store_true", help="mark the session cookie Secure (behind HTTPS)")
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from pipeline.alerts.bus import AlertBus
    from pipeline.alerts.storetail import StoreTail
    from pipeline.core.errors import ConfigError
    from pipeline.events.store import DB_NAME
    from pipeline.settings import load_config
    from pipeline.web.app import create_app
    from pipeline.web.auth import list_users

    if args.config:
        load_config(args.config)  # a bad config is reported first, naming its field
    if args.db_url is None and not (Path(args.data) / DB_NAME).is_file():  # never serve a new, empty database
        where = "does not exist" if not Path(args.data).exists() else f"has no {DB_NAME}"
        raise ConfigError(f"--data {args.data}: {where}; run `counterwatch analyze`, `batch` or `run` into it "
                          "first (or `counterwatch users add ... --data` it), or pass --db-url")
    bus = AlertBus()  # fed by the database: events written by analyze, batch or another run
    app = create_app(Path(args.data), config_path=Path(args.config) if args.config else None,
                     db_url=args.db_url, secure_cookie=args.secure_cookie, alert_bus=bus)
    if app.state.config is None:  # names, hours and time zone from the config the data was analysed with
        from pipeline.events.siteconfig import CONFIG_FILE, load_stored

        app.state.config = load_stored(args.data)
        if app.state.config is not None:
            print(f"note: no --config: using {Path(args.data) / CONFIG_FILE} (stored by the analysis) for names and "
                  "hours; the zone editor needs --config")
    cfg = app.state.config
    if cfg is not None:
        from pipeline.core.sitetime import use_site_timezone

        use_site_timezone(cfg)
    tail = StoreTail(app.state.store, bus, public_url=cfg.alerts.public_url if cfg is not None else None).start()
    if not list_users(app.state.store):
        print(f"note: no users yet; add one with: counterwatch users add NAME --role admin --data {args.data}")
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="info", proxy_headers=False)
    finally:
        tail.stop()
    return 0
