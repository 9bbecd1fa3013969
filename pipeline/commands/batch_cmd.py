"""`counterwatch batch` (re-analyse a day's recordings) and `counterwatch nightly` (batch, then report)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from pipeline.commands.report_cmd import add_report_args, parse_day, report_needs, run_report
from pipeline.commands.syscheck import CLIP_NEEDS, require


def _batch_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="site config (cameras with filename_pattern)")
    p.add_argument("--recordings", required=True, help="folder of recordings (searched recursively)")
    p.add_argument("--data", required=True, help="data folder: database, clips, snapshots")
    p.add_argument("--workers", type=int, default=None, help="parallel files (default: CPU cores)")
    p.add_argument("--fps", type=float, default=None, help="analysed frames per second (default: config)")
    p.add_argument("--executor", choices=("process", "ray"), default="process",
                   help="process pool on this machine, or Ray tasks (pip install counterwatch[ray])")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: start Ray locally)")
    p.add_argument("--retry-failed", action="store_true", help="try again files that failed in an earlier run")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (logs, cron)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("batch", help="analyse one day's recordings in parallel (resumable, idempotent)")
    b.add_argument("--date", required=True, help="day of the recordings, YYYY-MM-DD")
    _batch_args(b)
    b.add_argument("--db-url", default=None, help="database URL (default: sqlite in the data folder)")
    b.set_defaults(func=_batch)
    n = sub.add_parser("nightly", help="batch for yesterday (or --date), then the daily report into OUT/DATE/")
    n.add_argument("--date", default=None, help="day, YYYY-MM-DD (default: yesterday)")
    _batch_args(n)
    n.add_argument("--out", required=True, help="reports folder; the report goes to OUT/YYYY-MM-DD/")
    add_report_args(n)
    n.set_defaults(func=_nightly)


def run_batch_cmd(args: argparse.Namespace, day: dt.date) -> int:
    from pipeline.batch.run import run_batch
    from pipeline.core.sitetime import use_site_timezone
    from pipeline.settings import load_config

    cfg = load_config(args.config)
    require(warn=CLIP_NEEDS)
    use_site_timezone(cfg)  # before the workers start: they inherit TZ
    summary = run_batch(cfg, day, args.recordings, args.data, workers=args.workers, fps=args.fps,
                        executor=args.executor, ray_address=args.ray_address, db_url=getattr(args, "db_url", None),
                        progress=not args.no_progress, retry_failed=args.retry_failed,
                        config_origin=str(args.config))
    for line in summary.lines():
        print(line, flush=True)
    return 1 if summary.of("failed") or summary.of("error") else 0


def _batch(args: argparse.Namespace) -> int:
    return run_batch_cmd(args, parse_day(args.date))


def _nightly(args: argparse.Namespace) -> int:
    day = parse_day(args.date) if args.date else dt.date.today() - dt.timedelta(days=1)
    require(fail=report_needs(args))  # before the batch: the report at its end needs them
    rc = run_batch_cmd(args, day)
    args.data = str(args.data)
    run_report(args, day, str(Path(args.out) / day.isoformat()))
    from pipeline.commands.retention_cmd import run_retention
    from pipeline.settings import load_config

    run_retention(load_config(args.config), args.data, getattr(args, "db_url", None))  # after the report used it
    return rc
