"""`counterwatch eval images|videos|reviews`: accuracy figures that print and land in JSON."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pipeline.core.errors import ConfigError, OutputError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="accuracy of the rules on labelled images, labelled clips or reviews")
    s = p.add_subparsers(dest="eval_cmd", required=True)

    i = s.add_parser("images", help="frame-level judgement of each rule on labelled images")
    i.add_argument("--data", required=True, help="image root (CSV paths are relative to it) or a YOLO dataset")
    g = i.add_mutually_exclusive_group(required=True)
    g.add_argument("--labels", help="image-level CSV: image,<rule_id>,... with cells 1, 0 or empty")
    g.add_argument("--map", help="YOLO dataset class map YAML: classes: {class_name: rule_id}")
    i.add_argument("--config", help="site config (models and rule thresholds); default: built-in defaults")
    i.add_argument("--json", required=True, help="write per-rule figures here")
    i.add_argument("--html", help="write a page of false positives/negatives with overlays here")
    i.add_argument("--limit", type=int, help="only the first N labelled images (quick checks)")
    i.add_argument("--no-progress", action="store_true")
    i.set_defaults(func=_images)

    v = s.add_parser("videos", help="event-level accuracy of the whole pipeline on labelled clips")
    v.add_argument("--scenarios", required=True, help="scenarios YAML (clip, config, ground-truth events)")
    v.add_argument("--data", default=os.environ.get("COUNTERWATCH_DATA_DIR"),
                   help="root the scenario clips are relative to (default: $COUNTERWATCH_DATA_DIR)")
    v.add_argument("--json", required=True, help="write per-rule and per-scenario figures here")
    v.add_argument("--out", help="data folder for the analysis output (default: a temporary folder)")
    v.add_argument("--only", action="append", help="run only this scenario id (repeatable)")
    v.add_argument("--min-iou", type=float, default=0.3, help="temporal IoU for a match (default 0.3)")
    v.add_argument("--no-progress", action="store_true")
    v.set_defaults(func=_videos)

    r = s.add_parser("reviews", help="per-rule precision from the verdicts in a data folder")
    r.add_argument("--data", required=True, help="data folder (counterwatch.db)")
    r.add_argument("--db-url", help="database URL instead of the folder's SQLite file")
    r.add_argument("--site", help="only this site id")
    r.add_argument("--source", choices=["live", "batch"], help="only live or only batch events")
    r.add_argument("--json", help="write the figures here")
    r.set_defaults(func=_reviews)


def _write_json(path: str, doc: dict[str, Any]) -> None:
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{p}: cannot write JSON ({exc.strerror})") from None


def _beside(path: str, data: Path) -> Path:
    """A labels/map path as given, or else inside the data folder (labels usually live there)."""
    p = Path(path)
    return p if p.exists() or p.is_absolute() or not (data / p).exists() else data / p


def _images(args: argparse.Namespace) -> int:
    from pipeline.evaluation.html_report import write_html
    from pipeline.evaluation.images import evaluate_images, persons_table, threshold_summary
    from pipeline.evaluation.labels import load_class_map, load_csv, load_yolo
    from pipeline.evaluation.metrics import counts_table
    from pipeline.settings import SiteConfig, load_config

    data = Path(args.data)
    if not data.is_dir():
        raise ConfigError(f"{data}: data folder not found")
    if args.labels:
        labels, rules = load_csv(_beside(args.labels, data), data)
    else:
        labels, rules = load_yolo(data, load_class_map(_beside(args.map, data)))
    if args.limit:
        labels = {k: labels[k] for k in sorted(labels)[: args.limit]}
    cfg = load_config(args.config) if args.config else SiteConfig()
    ev = evaluate_images(data, labels, rules, cfg, progress=not args.no_progress, keep_facts=bool(args.html))
    extra = {r: threshold_summary(ev.thresholds[r]) for r in rules}
    print(counts_table(ev.counts, extra))
    print(persons_table(ev.extra.get("persons", {})))
    print(f"{len(ev.images)} image(s) in {ev.wall_s:.1f} s; detector {cfg.models.detector.model}, "
          f"pose {cfg.models.pose.model}, phone cascade {'on' if cfg.models.phone_cascade.enabled else 'off'}")
    source = {"labels": args.labels} if args.labels else {"map": args.map}
    doc = ev.as_json({"file": args.config, **source, "data": str(data)})
    _write_json(args.json, doc)
    if args.html:
        write_html(ev, data, args.html)
        print(f"FP/FN page: {args.html}")
    return 0


def _videos(args: argparse.Namespace) -> int:
    from pipeline.evaluation.metrics import counts_table
    from pipeline.evaluation.videos import evaluate_videos, load_scenarios, quiet_table

    if not args.data:
        raise ConfigError("eval videos: --data not given and COUNTERWATCH_DATA_DIR not set")
    scenarios = load_scenarios(args.scenarios)
    if args.only:
        wanted = set(args.only)
        missing = wanted - {s.id for s in scenarios}
        if missing:
            raise ConfigError(f"{args.scenarios}: no scenario {', '.join(sorted(missing))}")
        scenarios = [s for s in scenarios if s.id in wanted]
    with tempfile.TemporaryDirectory(prefix="cw-eval-") as tmp:
        out = args.out or tmp
        doc, total = evaluate_videos(scenarios, args.data, out, min_iou=args.min_iou,
                                     progress=not args.no_progress)
    for sid, sc in doc["scenarios"].items():
        print(f"{sid}: {len(sc['matches'])} matched, {len(sc['fn'])} missed, {len(sc['fp'])} false "
              f"({sc['video_s']} s of video in {sc['wall_s']} s)" + (f"  error: {sc['error']}" if sc["error"] else ""))
    print(counts_table(total))
    if doc.get("quiet"):
        print(quiet_table(doc["quiet"]))
    _write_json(args.json, doc)
    return 0


def _reviews(args: argparse.Namespace) -> int:
    from pipeline.evaluation.metrics import fmt
    from pipeline.evaluation.reviews import open_store, review_counts, reviews_json

    store = open_store(args.data, args.db_url)
    try:
        counts, totals, reasons = review_counts(store, site_id=args.site, source=args.source)
    finally:
        store.close()
    doc = reviews_json(counts, totals, reasons)
    head = f"{'rule':<24} {'confirmed':>9} {'dismissed':>9} {'events':>6}  {'precision':>9} {'coverage':>8}"
    print(head)
    print("-" * len(head))
    for rule_id, r in doc["rules"].items():
        print(f"{rule_id:<24} {r['confirmed']:>9} {r['dismissed']:>9} {r['events']:>6}  "
              f"{fmt(r['precision']):>9} {fmt(r['coverage']):>8}")
    if not doc["rules"]:
        print("(no events in this data folder)")
    if args.json:
        _write_json(args.json, doc)
    return 0
