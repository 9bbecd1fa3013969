"""`counterwatch analyze VIDEO... --config CFG --out DIR`."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path

from pipeline.config.loader import load_config
from pipeline.core.errors import ConfigError

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="analyse recorded videos into a data folder (events, clips, database)")
    p.add_argument("videos", nargs="+", help="video files (mp4/avi/mkv/mov) or image folders")
    p.add_argument("--config", required=True, help="site config YAML")
    p.add_argument("--out", required=True, help="data folder (events.jsonl, counterwatch.db, clips/)")
    p.add_argument("--camera", help="camera id in the config (default: the first camera)")
    p.add_argument("--start", help="wall-clock start of the recording, e.g. 2026-11-26T09:00:00")
    p.add_argument("--fps", type=float, help="analysed frames per second (default: config analysis.fps)")
    p.add_argument("--db-url", help="database URL (default: SQLite in the data folder)")
    p.add_argument("--source", choices=["live", "batch"], default="live", help=argparse.SUPPRESS)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipeline.analyze import analyze_file, summary_table
    from pipeline.events.sinks import rewrite_jsonl
    from pipeline.events.store import EventStore
    from pipeline.processor import build_models

    cfg = load_config(args.config)
    start = None
    if args.start:
        try:
            start = dt.datetime.fromisoformat(args.start)
        except ValueError:
            raise ConfigError(f"--start {args.start!r}: not an ISO date-time like 2026-11-26T09:00:00") from None
    if args.camera:
        try:
            cfg.camera(args.camera)
        except KeyError as exc:
            raise ConfigError(f"{args.config}: {exc.args[0]}") from None
    out = Path(args.out)
    store = EventStore.for_dir(out, args.db_url)
    # what a crashed earlier run left: open events of recordings, unfinished clips, orphan .part files
    store.close_interrupted(source=args.source, recorded=True)
    store.mark_unfinished_clips_partial()
    store.repair_evidence(out)
    models = build_models(cfg)
    events, failed, frames, wall = [], [], 0, 0.0
    for video in args.videos:
        res = analyze_file(video, cfg, args.camera, out, store=store, source=args.source, start=start,
                           fps=args.fps, progress=not args.no_progress, models=models, echo=True)
        frames += res.frames
        wall += res.wall_s
        events += res.events
        if res.error:
            print(f"error: {res.error}", file=sys.stderr)
            failed.append(video)
        else:
            print(f"{video}: {res.frames} frames, {res.video_s:.1f} s of video in {res.wall_s:.1f} s "
                  f"({res.fps:.1f} analysed frames/s, {res.x_realtime:.1f}x real time), {len(res.events)} event(s)")
    rewrite_jsonl(store, out / "events.jsonl")  # a re-run over the same folder leaves one line per event
    store.close()
    print()
    print(summary_table(events))
    print(f"data folder: {out}")
    if failed:
        print(f"{len(failed)} of {len(args.videos)} file(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
