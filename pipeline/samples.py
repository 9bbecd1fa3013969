"""Sample clips: listed in sample_videos/manifest.yaml, fetched by URL or from a local mirror."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from pipeline.core.errors import CounterwatchError
from pipeline.core.fetch import ChecksumError, DownloadError, copy_verified, download, sha256_file

PROJECT = Path(__file__).resolve().parents[1]
MANIFEST = PROJECT / "sample_videos" / "manifest.yaml"
SAMPLES_DIR = PROJECT / "sample_videos"


def manifest() -> list[dict[str, Any]]:
    try:
        return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))["samples"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise CounterwatchError(f"{MANIFEST}: cannot read the sample manifest ({exc})") from None


def sample_path(name: str, dest: Path = SAMPLES_DIR) -> Path:
    for s in manifest():
        if s["name"] == name:
            return dest / s["file"]
    raise CounterwatchError(f"no sample {name!r} in {MANIFEST}")


def fetch(names: list[str] | None = None, dest: Path = SAMPLES_DIR, mirror: Path | None = None) -> list[Path]:
    """Get each sample (mirror first, then its URL), verify sha256, rename into place atomically."""
    mirror = mirror or (Path(os.environ["COUNTERWATCH_SAMPLES_DIR"]) if os.environ.get("COUNTERWATCH_SAMPLES_DIR") else None)
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for s in manifest():
        if names and s["name"] not in names:
            continue
        target = dest / s["file"]
        if target.is_file() and sha256_file(target) == s["sha256"]:
            out.append(target)
            continue
        src = mirror / s["mirror_path"] if mirror and s.get("mirror_path") else None
        try:
            if src is not None and src.is_file():
                copy_verified(src, target, s["sha256"])
            else:
                _download(s, target)
        except ChecksumError as exc:
            raise CounterwatchError(
                f"sample {s['name']}: sha256 mismatch (expected {s['sha256']}, got {exc.got})") from None
        out.append(target)
    return out


def _download(s: dict[str, Any], target: Path) -> None:
    try:
        download(s["url"], target, s["sha256"], progress=s["name"])
    except (DownloadError, OSError) as exc:
        raise CounterwatchError(
            f"sample {s['name']}: cannot download {s['url']} ({getattr(exc, 'reason', exc)}); offline, set "
            f"COUNTERWATCH_SAMPLES_DIR to a folder that mirrors the clips"
        ) from None
