"""`counterwatch samples list|fetch` and `counterwatch demo`."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline import samples

PROJECT = Path(__file__).resolve().parents[2]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("samples", help="list or fetch the public sample clips")
    s = p.add_subparsers(dest="samples_cmd", required=True)
    ls = s.add_parser("list", help="list the sample clips and whether they are here")
    ls.set_defaults(func=_list)
    f = s.add_parser("fetch", help="download (or copy from COUNTERWATCH_SAMPLES_DIR) and verify sha256")
    f.add_argument("names", nargs="*")
    f.add_argument("--dest", type=Path, default=samples.SAMPLES_DIR)
    f.set_defaults(func=_fetch)
    d = sub.add_parser("demo", help="fetch the demo clip and analyse it with configs/demo.yaml")
    d.add_argument("--out", type=Path, default=PROJECT / "out" / "demo", help="data folder")
    d.add_argument("--config", type=Path, default=PROJECT / "configs" / "demo.yaml")
    d.set_defaults(func=_demo)


def _list(args: argparse.Namespace) -> int:
    for s in samples.manifest():
        path = samples.SAMPLES_DIR / s["file"]
        print(f"{s['name']:24s} {'present' if path.is_file() else 'missing':8s} {s['license']}  {s['source']}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    for p in samples.fetch(args.names or None, dest=args.dest):
        print(p)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from pipeline.commands import analyze_cmd

    clip = samples.fetch(["office_cctv_cam5"])[0]
    ns = argparse.Namespace(videos=[str(clip)], config=str(args.config), out=str(args.out), camera="cam5",
                            start="2026-11-26T10:02:58", fps=None, db_url=None, source="live", no_progress=False)
    rc = analyze_cmd.run(ns)
    print(f"review the events: counterwatch serve --config {args.config} --data {args.out}")
    return rc
