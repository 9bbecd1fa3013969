"""`counterwatch models list|fetch|export`: the model files a site needs, and where they are."""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
from pathlib import Path

from pipeline.core.errors import ConfigError
from pipeline.core.fetch import sha256_file
from pipeline.core.modelpath import models_dirs
from pipeline.modelsfetch import MANIFEST, build, default_dest, fetch, find_entry, load_manifest, locate


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, download or export model files (models/manifest.yaml)")
    p.add_argument("--manifest", default=str(MANIFEST), help="manifest file (default: models/manifest.yaml)")
    s = p.add_subparsers(dest="models_cmd", required=True)
    ls = s.add_parser("list", help="each model in the manifest: found or missing, and where")
    ls.add_argument("--verify", action="store_true", help="also check the sha256 of each file found")
    ls.set_defaults(func=_list)
    f = s.add_parser("fetch", help="download models (all by default), verify sha256, rename into place")
    f.add_argument("names", nargs="*", metavar="NAME")
    f.add_argument("--dest", help="target folder (default: COUNTERWATCH_MODELS_DIR, else models/)")
    f.add_argument("--force", action="store_true", help="download again even if a verified file is present")
    f.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds")
    f.set_defaults(func=_fetch)
    e = s.add_parser("export", help="export an Ultralytics .pt model to ONNX (needs counterwatch[ultralytics])")
    e.add_argument("name", metavar="NAME.pt")
    e.add_argument("--imgsz", type=int, default=640)
    e.add_argument("--dynamic", action="store_true", help="dynamic batch and input size")
    e.add_argument("--dest", help="where the .onnx goes (default: next to the .pt)")
    e.set_defaults(func=_export)


def _list(args: argparse.Namespace) -> int:
    entries = load_manifest(args.manifest)
    print(f"models directories: {', '.join(str(d) for d in models_dirs())}")
    for e in entries:
        path = locate(e)
        state = "found" if path else "missing"
        check = ""
        if path and args.verify:
            digest = sha256_file(path)
            check = (
                " sha256 ok"
                if e.accepts(digest)
                else (" sha256 not pinned" if e.sha256 is None else f" sha256 MISMATCH ({digest[:12]}...)")
            )
        print(f"{e.name:<28} {e.kind:<9} {state:<8}{check} {path or e.url}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    entries = load_manifest(args.manifest)
    chosen = [find_entry(entries, n) for n in args.names] if args.names else entries
    dest = Path(args.dest) if args.dest else default_dest()
    for e in chosen:
        if e.built:
            if not args.names and importlib.util.find_spec("ultralytics") is None:
                print(f"{e.name}: skipped (an export recipe: pip install 'counterwatch[ultralytics]', then "
                      f"counterwatch models fetch {e.name})")
                continue
            path, digest = build(e, entries, dest, progress=sys.stderr.isatty(), timeout_s=args.timeout,
                                 force=args.force)
            r = e.recipe or {}
            print(f"{e.name}: {path} sha256 {digest} (exported from {r['weights']} at {r['imgsz']} px"
                  f"{', dynamic axes' if r.get('dynamic') else ''})")
            continue
        path, digest = fetch(e, dest, progress=sys.stderr.isatty(), timeout_s=args.timeout, force=args.force)
        pinned = "verified" if e.sha256 else "not pinned in the manifest"
        print(f"{e.name}: {path} sha256 {digest} ({pinned})")
    return 0


def _export(args: argparse.Namespace) -> int:
    from pipeline.core.modelpath import resolve_model
    from pipeline.detectors.ultralytics_backend import import_ultralytics

    if not args.name.endswith(".pt"):
        raise ConfigError(f"models export: {args.name} is not a .pt file")
    yolo_cls = import_ultralytics(f"models export {args.name}")
    src = resolve_model(args.name)
    out = Path(yolo_cls(str(src)).export(format="onnx", imgsz=args.imgsz, dynamic=args.dynamic, simplify=True))
    dest_dir = Path(args.dest) if args.dest else src.parent
    target = dest_dir / f"{src.stem}_{args.imgsz}.onnx"
    dest_dir.mkdir(parents=True, exist_ok=True)
    shutil.move(str(out), target)
    print(f"{target} (imgsz {args.imgsz}); use it with models.detector.type: yolo_onnx, model: {target.name}")
    return 0
