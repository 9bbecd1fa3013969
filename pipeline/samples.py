"""Sample clips: listed in sample_videos/manifest.yaml, fetched by URL or from a local mirror."""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from pipeline.core.errors import CounterwatchError

PROJECT = Path(__file__).resolve().parents[1]
MANIFEST = PROJECT / "sample_videos" / "manifest.yaml"
SAMPLES_DIR = PROJECT / "sample_videos"


def manifest() -> list[dict[str, Any]]:
    try:
        return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))["samples"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise CounterwatchError(f"{MANIFEST}: cannot read the sample manifest ({exc})") from None


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
        if target.is_file() and sha256_of(target) == s["sha256"]:
            out.append(target)
            continue
        tmp = target.with_suffix(target.suffix + ".part")
        src = mirror / s["mirror_path"] if mirror and s.get("mirror_path") else None
        if src is not None and src.is_file():
            shutil.copyfile(src, tmp)
        else:
            _download(s["url"], tmp, s["name"])
        got = sha256_of(tmp)
        if got != s["sha256"]:
            tmp.unlink(missing_ok=True)
            raise CounterwatchError(f"sample {s['name']}: sha256 mismatch (expected {s['sha256']}, got {got})")
        os.replace(tmp, target)
        out.append(target)
    return out


def _download(url: str, tmp: Path, name: str) -> None:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp, open(tmp, "wb") as fh:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=name) as bar:
                for block in iter(lambda: resp.read(1 << 16), b""):
                    fh.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise CounterwatchError(
            f"sample {name}: cannot download {url} ({getattr(exc, 'reason', exc)}); offline, set "
            f"COUNTERWATCH_SAMPLES_DIR to a folder that mirrors the clips"
        ) from None
