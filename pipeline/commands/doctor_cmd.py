"""`counterwatch doctor`: everything a first run needs, checked at once.

Lists every missing piece in one go (config errors, model files, sample clips, system
packages ffmpeg / Chromium / CJK fonts, Python packages, the data folder) with the command
that fixes it, instead of one error per run. Exit 0 when all is there, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import CounterwatchError

PROJECT = Path(__file__).resolve().parents[2]
DEMO_CONFIG = PROJECT / "configs" / "demo.yaml"
# module -> (pip package, needed for)
PY_MODULES = {
    "numpy": ("numpy", "everything"), "cv2": ("opencv-contrib-python", "video and images"),
    "onnxruntime": ("onnxruntime", "the person detector"), "av": ("av", "video decoding"),
    "fastapi": ("fastapi", "the web app"), "uvicorn": ("uvicorn", "the web app"),
    "openpyxl": ("openpyxl", "report.xlsx"), "matplotlib": ("matplotlib", "report charts"),
    "jinja2": ("jinja2", "report and web pages"),
}


@dataclass
class Check:
    area: str
    item: str
    ok: bool
    detail: str = ""
    optional: bool = False


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check models, samples, ffmpeg/Chromium/fonts and configs; list all that is missing")
    p.add_argument("--config", action="append", default=None,
                   help="site config to check, with the models it names (repeatable; default: configs/demo.yaml)")
    p.add_argument("--data", default=None, help="data folder to check (exists, writable, database, stored config)")
    p.set_defaults(func=_doctor)


def check_configs(paths: list[Path]) -> tuple[list[Check], list]:
    from pipeline.settings import load_config

    out, cfgs = [], []
    for p in paths:
        try:
            cfgs.append((p, load_config(p)))
            out.append(Check("config", str(p), True, "valid"))
        except CounterwatchError as exc:
            for line in str(exc).splitlines():
                out.append(Check("config", str(p), False, line.removeprefix(f"{p}: ")))
    return out, cfgs


def check_models(cfgs: list) -> list[Check]:
    from pipeline.core.modelpath import resolve_model

    wanted: dict[str, str] = {}
    for path, cfg in cfgs:
        m = cfg.models
        wanted.setdefault(m.detector.model, f"detector ({path.name})")
        if m.pose.type != "none":
            wanted.setdefault(m.pose.model, f"pose ({path.name})")
        if m.phone_cascade.enabled and m.phone_cascade.model:
            wanted.setdefault(m.phone_cascade.model, f"phone cascade ({path.name})")
    out = []
    for name, what in wanted.items():
        try:
            out.append(Check("model", name, True, f"{resolve_model(name)} — {what}"))
        except CounterwatchError as exc:
            out.append(Check("model", name, False, f"{what}: {exc}"))
    return out


def check_samples() -> list[Check]:
    from pipeline import samples

    mirror = os.environ.get("COUNTERWATCH_SAMPLES_DIR")
    out = []
    try:
        items = samples.manifest()
    except CounterwatchError as exc:
        return [Check("sample", "manifest", False, str(exc))]
    for s in items:
        here = samples.SAMPLES_DIR / s["file"]
        mirrored = Path(mirror) / s["mirror_path"] if mirror and s.get("mirror_path") else None
        if here.is_file():
            out.append(Check("sample", s["name"], True, str(here)))
        elif mirrored is not None and mirrored.is_file():
            out.append(Check("sample", s["name"], True, f"{mirrored} (COUNTERWATCH_SAMPLES_DIR; "
                                                        "`counterwatch samples fetch` copies it)"))
        else:
            where = f"; not in COUNTERWATCH_SAMPLES_DIR={mirror}" if mirror else ""
            out.append(Check("sample", s["name"], False, f"{here} missing{where}: run `counterwatch samples fetch "
                                                         f"{s['name']}` (downloads {s.get('source', 'it')})"))
    return out


def check_system() -> list[Check]:
    from pipeline.commands.syscheck import PACKAGES

    out = []
    for pkg in PACKAGES.values():
        path, why = pkg.locate()
        out.append(Check("system", pkg.name, path is not None, f"{path} ({pkg.purpose})" if path else why))
    return out


def check_python() -> list[Check]:
    out = []
    for mod, (pkg, why) in PY_MODULES.items():
        ok = importlib.util.find_spec(mod) is not None
        out.append(Check("python", mod, ok, f"for {why}" if ok else f"missing (pip install {pkg}): needed for {why}"))
    from importlib.metadata import distributions

    wheels = sorted({d.metadata["Name"].lower() for d in distributions()
                     if (d.metadata["Name"] or "").lower().startswith("opencv-")})
    out.append(Check("python", "one OpenCV wheel", len(wheels) <= 1, ", ".join(wheels) if len(wheels) <= 1 else
                     f"{', '.join(wheels)} share cv2/: keep opencv-contrib-python (see .ci/setup)", optional=True))
    ok = importlib.util.find_spec("playwright") is not None
    out.append(Check("python", "playwright", ok, "browser tests" if ok else
                     "missing (pip install -e '.[dev]'): only the browser tests need it", optional=True))
    return out


def check_data(data: Path, cfgs: list) -> list[Check]:
    from pipeline.events.siteconfig import differences, fingerprint, load_stored
    from pipeline.events.store import DB_NAME

    if not data.exists():
        return [Check("data", str(data), False, "folder does not exist (analyze, batch or run create it)")]
    out = [Check("data", str(data), os.access(data, os.W_OK), "writable" if os.access(data, os.W_OK)
                 else "not writable by this user")]
    db = data / DB_NAME
    out.append(Check("data", DB_NAME, db.is_file(), str(db) if db.is_file() else
                     f"no {DB_NAME} in {data}: run `counterwatch analyze`, `batch` or `run` first"))
    try:
        stored = load_stored(data)
    except CounterwatchError as exc:
        return [*out, Check("data", "site config", False, f"stored site config unreadable: {exc}")]
    if stored is None:
        out.append(Check("data", "site config", False, "no stored site config: the report needs --config "
                                                       "(a folder analysed by an older version)", optional=True))
    else:
        out.append(Check("data", "site config", True, f"site {stored.site.id!r} stored with the analysis"))
        for path, cfg in cfgs:
            if fingerprint(cfg) != fingerprint(stored):
                out.append(Check("data", "site config", False, f"{path} differs from the stored one in "
                                                               f"{', '.join(differences(stored, cfg))}", optional=True))
    return out


def run_checks(configs: list[Path], data: Path | None) -> list[Check]:
    checks, cfgs = check_configs(configs)
    checks += check_models(cfgs) + check_samples() + check_system() + check_python()
    if data is not None:
        checks += check_data(data, cfgs)
    return checks


def _doctor(args: argparse.Namespace) -> int:
    configs = [Path(c) for c in args.config] if args.config else [DEMO_CONFIG]
    checks = run_checks(configs, Path(args.data) if args.data else None)
    width = max(len(c.item) for c in checks)
    for c in checks:
        mark = "ok" if c.ok else ("note" if c.optional else "MISSING")
        print(f"{mark:8s} {c.area:7s} {c.item:{width}s}  {c.detail}")
    problems = [c for c in checks if not c.ok and not c.optional]
    if problems:
        print(f"\n{len(problems)} problem(s): " + "; ".join(f"{c.area} {c.item}" for c in problems))
        return 1
    print("\nall set")
    return 0
