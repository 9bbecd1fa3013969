"""`counterwatch` entry point.

Each command family lives in its own module with `add_parser(subparsers)`; the
parser sets `func`. User-facing errors (CounterwatchError) print as one line
with no traceback and exit 2. A command module imports the machinery it runs (models,
the store, the web app) inside its handler, so that `counterwatch --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from pipeline import __version__

# Native decoders must not print beside the one `error:` line a bad file gets (FFmpeg's
# "moov atom not found", OpenCV's "[ WARN:0@...]"); COUNTERWATCH_DEBUG=1 keeps them.
if not os.environ.get("COUNTERWATCH_DEBUG"):
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
    os.environ.setdefault("OPENCV_VIDEOIO_DEBUG", "0")
from pipeline.core.errors import CounterwatchError
from pipeline.core.memory import limit_malloc_arenas
from pipeline.live.logjson import install_json_logging

# Modules that contribute subcommands (each has add_parser(subparsers)).
COMMAND_MODULES = [
    "pipeline.commands.config_cmd",
    "pipeline.commands.models_cmd",
    "pipeline.commands.bench_models",
    "pipeline.commands.analyze_cmd",
    "pipeline.commands.samples_cmd",
    "pipeline.commands.users_cmd",
    "pipeline.commands.serve_cmd",
    "pipeline.commands.eval_cmd",
    "pipeline.commands.batch_cmd",
    "pipeline.commands.report_cmd",
    "pipeline.commands.run_cmd",
    "pipeline.commands.retention_cmd",
    "pipeline.commands.bench_cmd",  # after bench_models: adds `bench live`
    "pipeline.commands.doctor_cmd",
    "pipeline.commands.bench_logins",  # adds `bench logins`
    "pipeline.commands.bench_pipeline",  # adds `bench pipeline`
    "pipeline.commands.train_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="counterwatch", description="Conduct monitor for customer-service halls")
    parser.add_argument("--version", action="version", version=f"counterwatch {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else getattr(logging, os.environ.get("COUNTERWATCH_LOG", "INFO")),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )

    install_json_logging()  # COUNTERWATCH_LOG_JSON=1: JSON lines for every command
    limit_malloc_arenas()  # before any thread starts: one malloc arena per core, not eight
    old_umask = os.umask(0o077)  # data files (DB, WAL, events.jsonl, clips, backups) 0600, folders 0700
    try:
        rc = args.func(args)
    except CounterwatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        os.umask(old_umask)
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
