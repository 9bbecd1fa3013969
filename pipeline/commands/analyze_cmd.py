"""`counterwatch analyze VIDEO... --config CFG --out DIR`."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path

from pipeline.commands.syscheck import CLIP_NEEDS, require
from pipeline.core.errors import ConfigError, SourceError
from pipeline.core.sitetime import use_site_timezone
from pipeline.settings import load_config

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="analyse recorded videos into a data folder (events, clips, database)")
    p.add_argument("videos", nargs="*", help="video files (mp4/avi/mkv/mov) or image folders (default: the source "
                                             "of --camera, or of every camera, relative to the config file)")
    p.add_argument("--config", required=True, help="site config YAML")
    p.add_argument("--out", required=True, help="data folder (events.jsonl, counterwatch.db, clips/)")
    p.add_argument("--camera", help="camera id in the config (default: the first camera)")
    p.add_argument("--start", help="wall-clock start of the recording, e.g. 2026-11-26T09:00:00")
    p.add_argument("--fps", type=float, help="analysed frames per second (default: config analysis.fps)")
    p.add_argument("--db-url", help="database URL (default: SQLite in the data folder)")
    p.add_argument("--source", choices=["live", "batch"], default="live", help=argparse.SUPPRESS)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def camera_sources(cfg, config_path: str, camera_id: str | None) -> list[tuple[str, str]]:
    """(file, camera id) for each chosen camera's recorded source, relative to the config file."""
    from pipeline.sources import config_dir, is_live_spec, resolve_source

    cams = [cfg.camera(camera_id)] if camera_id else [c for c in cfg.cameras if c.enabled]
    jobs = []
    for cam in cams:
        spec = resolve_source(cam.source, config_dir(config_path))
        if not spec:
            if camera_id:
                raise ConfigError(f"{config_path}: camera {cam.id!r} field source: empty; name a VIDEO to analyse")
            continue
        if is_live_spec(spec):
            if camera_id:
                raise ConfigError(f"{config_path}: camera {cam.id!r} field source: {spec} is live; "
                                  "use `counterwatch run`, or name a VIDEO")
            continue
        if not Path(spec).exists():
            raise ConfigError(f"{config_path}: camera {cam.id!r} field source: {spec} does not exist")
        jobs.append((spec, cam.id))
    if not jobs:
        raise ConfigError(f"{config_path}: no VIDEO given and no camera has a recorded source (file or folder)")
    return jobs


def run(args: argparse.Namespace) -> int:
    from pipeline.analyze import analyze_file, summary_table
    from pipeline.events.sinks import rewrite_jsonl
    from pipeline.events.siteconfig import remember as remember_config
    from pipeline.events.store import EventStore
    from pipeline.processor import build_models

    cfg = load_config(args.config)
    require(warn=CLIP_NEEDS)
    use_site_timezone(cfg)
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
    missing = [v for v in args.videos if not Path(v).exists()]
    if missing:  # before the models load and before the data folder is created
        raise SourceError("; ".join(f"{v}: video file not found" for v in missing))
    from pipeline.commands.doctor_cmd import check_models
    from pipeline.core.errors import ModelNotFoundError

    no_model = [c.detail for c in check_models([(Path(args.config), cfg)]) if not c.ok]
    if no_model:  # every missing model at once, before the data folder is created
        raise ModelNotFoundError("; ".join(no_model) + " (`counterwatch doctor` lists everything missing)")
    jobs = [(v, args.camera) for v in args.videos] or camera_sources(cfg, args.config, args.camera)
    out = Path(args.out)
    store = EventStore.for_dir(out, args.db_url)
    remember_config(out, cfg, origin=str(args.config), command="analyze", day=start.date() if start else None)
    # what a crashed earlier run left: open events of recordings, unfinished clips, orphan .part files
    store.close_interrupted(source=args.source, recorded=True, site_id=cfg.site.id)
    store.mark_unfinished_clips_partial()
    store.repair_evidence(out, site_id=cfg.site.id)
    models = build_models(cfg)
    events, failed, frames, wall = [], [], 0, 0.0
    for video, camera_id in jobs:
        res = analyze_file(video, cfg, camera_id, out, store=store, source=args.source, start=start,
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
        print(f"{len(failed)} of {len(jobs)} file(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
