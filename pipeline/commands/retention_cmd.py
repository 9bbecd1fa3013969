"""`counterwatch retention --config CFG --data DIR`: purge evidence by age and verdict, and when the disk is low."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("retention", help="purge old clips and snapshots by verdict (and when the disk is low); "
                                         "events, reviews and the database are kept")
    p.add_argument("--config", required=True, help="site config (its retention: section)")
    p.add_argument("--data", required=True, help="data folder")
    p.add_argument("--db-url", default=None, help="database URL (default: SQLite in the data folder)")
    p.add_argument("--dry-run", action="store_true", help="only say what would be purged")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipeline.settings import load_config

    cfg = load_config(args.config)
    return run_retention(cfg, args.data, getattr(args, "db_url", None), dry_run=args.dry_run)


def run_retention(cfg, data: str, db_url: str | None = None, *, dry_run: bool = False) -> int:  # noqa: ANN001
    from pipeline.events.retention import apply_retention
    from pipeline.events.store import EventStore

    store = EventStore.for_dir(data, db_url)
    try:
        res = apply_retention(store, data, cfg.retention, dry_run=dry_run)
    finally:
        store.close()
    print(("(dry run) " if dry_run else "") + res.line(), flush=True)
    return 0
