"""File hashes and verified downloads: the one sha256 and the one way a file arrives.

A download (or a copy from a local mirror) goes to a hidden `.NAME.part` file next to
the target, its sha256 is checked against the accepted digests, and only then is it
renamed into place (`os.replace`, atomic on one file system), so an interrupted or
corrupted transfer never leaves a file that looks usable.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from tqdm import tqdm

from pipeline.core.errors import CounterwatchError

HASH_CHUNK = 1 << 20
DOWNLOAD_CHUNK = 1 << 16


class DownloadError(CounterwatchError):
    """The URL could not be read (offline, HTTP error, timeout). `status` is the HTTP code, if any."""

    def __init__(self, url: str, reason: object, status: int | None = None) -> None:
        self.url, self.reason, self.status = url, reason, status
        super().__init__(f"cannot download {url}: " + (f"HTTP {status} {reason}" if status else str(reason)))


class ChecksumError(CounterwatchError):
    """The file arrived but its sha256 is not an accepted one; it was not kept."""

    def __init__(self, target: Path, expected: tuple[str, ...], got: str) -> None:
        self.target, self.expected, self.got = target, expected, got
        super().__init__(f"{target}: sha256 {got}, expected {' or '.join(expected)}; the file was not kept")


def sha256_file(path: str | Path, chunk: int = HASH_CHUNK) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def part_path(target: Path) -> Path:
    """The hidden temporary file a transfer to `target` is written to."""
    return target.with_name(f".{target.name}.part")


def _accepted(expected: str | Iterable[str] | None) -> tuple[str, ...]:
    if expected is None:
        return ()
    if isinstance(expected, str):
        return (expected,)
    return tuple(e for e in expected if e)


def _commit(tmp: Path, target: Path, digest: str, expected: str | Iterable[str] | None) -> str:
    accepted = _accepted(expected)
    if accepted and digest not in accepted:
        tmp.unlink(missing_ok=True)
        raise ChecksumError(target, accepted, digest)
    os.replace(tmp, target)
    return digest


def copy_verified(src: Path, target: Path, expected: str | Iterable[str] | None = None) -> str:
    """Copy `src` to `target` through a temporary file, verify, rename into place; returns the sha256."""
    tmp = part_path(target)
    try:
        shutil.copyfile(src, tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return _commit(tmp, target, sha256_file(tmp), expected)


def download(url: str, target: Path, expected: str | Iterable[str] | None = None, *, timeout_s: float = 30.0,
             progress: str | None = None, leave: bool = True, headers: dict[str, str] | None = None) -> str:
    """Download `url` to `target` through a temporary file, verify, rename into place; returns the sha256.

    `expected`: the accepted digest(s); None accepts any (the caller reports the digest).
    `progress`: a label for a tqdm progress bar, or None for no bar. Raises DownloadError when
    the URL cannot be read and ChecksumError on a wrong digest; neither leaves a file behind.
    """
    tmp = part_path(target)
    h = hashlib.sha256()
    try:
        req = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(req, timeout=timeout_s) as resp, open(tmp, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=progress, leave=leave,
                      disable=progress is None) as bar:
                while block := resp.read(DOWNLOAD_CHUNK):
                    out.write(block)
                    h.update(block)
                    bar.update(len(block))
    except urllib.error.HTTPError as exc:
        tmp.unlink(missing_ok=True)
        raise DownloadError(url, exc.reason, exc.code) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        tmp.unlink(missing_ok=True)
        raise DownloadError(url, getattr(exc, "reason", exc)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return _commit(tmp, target, h.hexdigest(), expected)
