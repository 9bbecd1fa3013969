"""`counterwatch train`: fine-tune the phone detector; `counterwatch train dataset`: reviewed events as data.

    counterwatch train --dataset configs/train/phone.yaml --out runs/phone --epochs 10 --imgsz 320
    counterwatch train dataset --data DATA_DIR --out reviewed_phone/

Training needs the `ultralytics` extra (torch + ultralytics); every other command works without it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from pipeline.core.errors import ConfigError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="fine-tune the phone detector (needs counterwatch[ultralytics])", allow_abbrev=False)
    p.add_argument("--dataset", help="dataset YAML (sources, class map, splits): e.g. configs/train/phone.yaml")
    p.add_argument(
        "--data-root",
        default=os.environ.get("COUNTERWATCH_DATA_DIR"),
        help="root for the dataset's relative paths (default: COUNTERWATCH_DATA_DIR)",
    )
    p.add_argument("--out", default="runs/phone", help="output folder (merged dataset, run, ONNX, model card)")
    p.add_argument(
        "--checkpoint",
        default="yolo11n_dequant.pt",
        help="Ultralytics .pt to start from (a path or a name in the models directory)",
    )
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--time", type=float, help="train for this many hours instead (the schedule fits the time)")
    p.add_argument("--imgsz", type=int, default=320)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--fraction", type=float, default=1.0, help="use this fraction of the training images")
    p.add_argument("--device", help="cpu, 0, 0,1 ... (default: the first GPU when present, else cpu)")
    p.add_argument("--name", default="counterwatch_phone", help="file name of the exported model (no suffix)")
    p.add_argument("--check", action="store_true", help="only check the dataset YAML and its labels, then stop")
    p.add_argument("--no-synthetic", action="store_true", help="leave out the dataset's synthetic sections")
    p.add_argument(
        "--eval-only",
        default="",
        metavar="NAMES",
        help="comma-separated synthetic sections that are made but only for val/test, never trained on "
        "(e.g. those whose frames have no stated licence)",
    )
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_train)
    s = p.add_subparsers(dest="train_cmd")
    d = s.add_parser("dataset", help="export reviewed phone.use events as a YOLO dataset (dismissed = negatives)")
    d.add_argument("--data", required=True, help="data folder (counterwatch.db and evidence)")
    d.add_argument("--db-url", help="database URL instead of the folder's SQLite file")
    d.add_argument("--out", required=True, help="output folder (images/, labels/, data.yaml)")
    d.add_argument("--rule", default="phone.use", help="rule whose reviewed events are exported")
    d.set_defaults(func=_dataset)
    w = s.add_parser("sweep", help="phone precision/recall per score threshold on a held-out split")
    w.add_argument("--model", required=True, help="ONNX phone model")
    w.add_argument("--images", required=True, help="images folder of a YOLO split (labels in ../labels/...)")
    w.add_argument("--target-precision", type=float, default=0.9)
    w.add_argument("--json", help="write the table here")
    w.add_argument("--no-progress", action="store_true")
    w.set_defaults(func=_sweep)


def _progress(args):
    if args.no_progress:
        return None
    from tqdm import tqdm

    return lambda it, desc="": tqdm(it, desc=desc, unit="img")


def _train(args: argparse.Namespace) -> int:
    from pipeline.training.dataset import check_spec, make_synthetic, merge
    from pipeline.training.spec import load_spec

    if not args.dataset:
        raise ConfigError("train: --dataset YAML is required (e.g. configs/train/phone.yaml)")
    spec = load_spec(args.dataset, args.data_root)
    eval_only = [n.strip() for n in (args.eval_only or "").split(",") if n.strip()]
    unknown = [n for n in eval_only if n not in {s.name for s in spec.synthetic}]
    if unknown:
        raise ConfigError(
            f"train: --eval-only {unknown[0]!r} is not a synthetic section of {args.dataset} "
            f"(sections are {', '.join(s.name for s in spec.synthetic) or 'none'})"
        )
    counts = check_spec(spec)
    print(
        "dataset "
        + ", ".join(f"{k}: {v} images" for k, v in counts.items())
        + (f"; {len(spec.synthetic)} synthetic section(s)" if spec.synthetic and not args.no_synthetic else "")
    )
    if args.check:
        return 0
    from pipeline.training.card import build_card
    from pipeline.training.deps import load_yolo, ultralytics
    from pipeline.training.train import evaluate, train

    ultralytics()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    prog = _progress(args)
    if spec.synthetic and not args.no_synthetic:
        pose = load_yolo(spec.pose_model, what="pose checkpoint")
        made = make_synthetic(spec, out / "synthetic", pose, progress=prog)
        for src in made:
            src.eval_only = any(src.name in (n, f"{n}_images") for n in eval_only)
        spec.sources += made
    needs_pseudo = any(s.pseudo_label for s in spec.sources)
    pseudo = load_yolo(spec.pseudo_model, what="pseudo-label checkpoint") if needs_pseudo else None
    rep = merge(spec, out / "dataset", pseudo_model=pseudo, progress=prog)
    print(f"merged: {json.dumps(rep.boxes)}; {rep.pseudo_boxes} person boxes pseudo-labelled")
    init = {"person": 0, "phone": 67} if set(spec.classes) <= {"person", "phone"} else None
    # AdamW at a fine-tuning rate; no high bias warm-up rate (it would wash out the checkpoint's biases)
    extra = {"close_mosaic": 2, "optimizer": "AdamW", "lr0": 0.001, "warmup_epochs": 1, "warmup_bias_lr": 0.0}
    if args.time:
        extra["time"] = args.time
    res = train(
        rep.data_yaml,
        args.checkpoint,
        out,
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        device=args.device,
        name=args.name,
        fraction=args.fraction,
        init_from=init,
        extra=extra,
    )
    test = (
        evaluate(res.best_pt, res.run_dir.parent / "data_train.yaml" if init else rep.data_yaml, "test", args.imgsz)
        if rep.counts and any(c["test"] for c in rep.counts.values())
        else {}
    )
    res.test = test
    card = build_card(spec, rep, res, args)
    print(f"model: {res.onnx} ({res.onnx.stat().st_size / 1e6:.1f} MB); card: {card}")
    if test:
        print("test split: " + json.dumps(test["per_class"]))
    return 0


def _dataset(args: argparse.Namespace) -> int:
    from pipeline.training.reviewed import export_reviewed

    rep = export_reviewed(args.data, Path(args.out), rule_id=args.rule, db_url=args.db_url)
    print(
        f"{rep['images']} image(s) from {rep['events']} reviewed event(s): {rep['positives']} confirmed "
        f"(phone boxes), {rep['negatives']} dismissed (hard negatives), {rep['skipped']} skipped; "
        f"{Path(args.out) / 'data.yaml'}"
    )
    for why in rep["skipped_why"][:10]:
        print(f"  skipped: {why}", file=sys.stderr)
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from pipeline.training.operating import choose, sweep

    res = sweep(args.model, Path(args.images), progress=_progress(args))
    print(f"{res['images']} images, {res['positives']} with a phone")
    print("thresh  box P  box R  img P  img R")
    for r in res["rows"]:
        print(
            f"{r['threshold']:6.2f} {r['box_precision'] or 0:6.3f} {r['box_recall'] or 0:6.3f} "
            f"{r['image_precision'] or 0:6.3f} {r['image_recall'] or 0:6.3f}"
        )
    pick = choose(res["rows"], args.target_precision)
    res["chosen"] = pick
    print(f"chosen: threshold {pick['threshold']} (image P {pick['image_precision']}, R {pick['image_recall']})")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0
