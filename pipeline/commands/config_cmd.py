"""`counterwatch config check|schema`."""

from __future__ import annotations

import argparse

from pipeline.settings import json_schema, load_config


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="check a site config or print its JSON schema")
    s = p.add_subparsers(dest="config_cmd", required=True)
    c = s.add_parser("check", help="validate a config; every error names camera/post/field")
    c.add_argument("file")
    c.set_defaults(func=_check)
    j = s.add_parser("schema", help="print the JSON schema of the config")
    j.set_defaults(func=_schema)


def _check(args: argparse.Namespace) -> int:
    cfg = load_config(args.file)
    posts = sum(len(c.posts) for c in cfg.cameras)
    print(f"{args.file}: OK ({len(cfg.cameras)} camera(s), {posts} post(s), {len(cfg.roster.duties)} duty(ies))")
    from pathlib import Path

    from pipeline.sources import config_dir, is_live_spec, resolve_source

    for cam in cfg.cameras:  # relative sources are relative to the config file
        spec = resolve_source(cam.source, config_dir(args.file))
        if spec and not is_live_spec(spec) and not Path(spec).exists():
            print(f"note: camera {cam.id!r} field source: {spec} does not exist "
                  "(needed by `run` and by `analyze` without a VIDEO)")
    return 0


def _schema(args: argparse.Namespace) -> int:
    print(json_schema())
    return 0
