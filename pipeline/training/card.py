"""The model card written next to a trained model: data sets and licences, class map, training, figures."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from pipeline.training.train import write_card


def build_card(spec, rep, res, args) -> Path:
    """Write <name>.md and <name>.json next to the ONNX file; returns the card path."""
    card = res.onnx.with_suffix(".md")
    src_rows = ["| source | licence | train | val | test | groups (train/val/test) |", "|---|---|---|---|---|---|"]
    for s in spec.sources:
        c = rep.counts.get(s.name, {})
        g = rep.groups.get(s.name, {})
        src_rows.append(
            f"| {s.name} | {s.licence} | {c.get('train', 0)} | {c.get('val', 0)} | {c.get('test', 0)} | "
            f"{g.get('train', 0)}/{g.get('val', 0)}/{g.get('test', 0)} |"
        )
    maps = "\n".join(
        f"- {s.name}: "
        + ", ".join(f"{k} -> {v or 'dropped'}" for k, v in s.map.items())
        + (f"; pseudo-labelled: {', '.join(s.pseudo_label)}" if s.pseudo_label else "")
        for s in spec.sources
    )
    ep = res.epochs[-1] if res.epochs else {}
    figures: dict[str, Any] = {
        "epochs": res.epochs,
        "test": res.test,
        "boxes": rep.boxes,
        "pseudo_boxes": rep.pseudo_boxes,
        "wall_s": round(res.wall_s, 1),
        "device": res.device,
    }
    sections = [
        (
            "What",
            f"Ultralytics YOLO fine-tuned from `{Path(str(args.checkpoint)).name}` for the phone step of "
            f"counterwatch (crops of staff upper bodies and hands). ONNX FP32, dynamic batch, input "
            f"{args.imgsz} px; classes {spec.classes} first (other class slots of the checkpoint are named "
            f"`unusedN` and trained to stay silent). Made {dt.date.today().isoformat()} by "
            f"`counterwatch train --dataset {args.dataset} --epochs {args.epochs} --imgsz {args.imgsz}`.",
        ),
        ("Data and licences", "\n".join(src_rows)),
        ("Class map", maps),
        (
            "Training",
            f"{len(res.epochs)} epochs on {res.device} in {res.wall_s / 60:.1f} min; last epoch: "
            + ", ".join(f"{k}={v}" for k, v in ep.items()),
        ),
        ("Figures (test split, Ultralytics val)", "```\n" + json.dumps(res.test, indent=1) + "\n```"),
    ]

    write_card(card, {"title": res.onnx.name, "sections": sections, "figures": figures})
    return card
