"""Private data files: the database (with the password hashes), its WAL, events.jsonl, clips,
snapshots and backups are readable by the service's own user only: files 0600, folders 0700.

The CLI sets umask 077 for every command; these helpers make the same hold when the library is
used directly, and tighten files an older version left world-readable."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)
FILE_MODE = 0o600
DIR_MODE = 0o700


def opener(path: str, flags: int) -> int:
    """For `open(..., opener=opener)`: a file created now gets 0600 whatever the umask."""
    return os.open(path, flags, FILE_MODE)


def make_dir(path: Path) -> Path:
    """mkdir -p; the folders made here get 0700 (an existing folder is left as it is)."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    path.mkdir(parents=True, exist_ok=True)
    for d in missing:
        _chmod(d, DIR_MODE)
    return path


def tighten(path: Path, mode: int = FILE_MODE) -> None:
    """Remove group/other bits from an existing file we own (no-op if missing or already private)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if st.st_mode & 0o077 and st.st_uid == os.getuid():
        _chmod(path, stat.S_IMODE(st.st_mode) & mode)


def _chmod(path: Path, mode: int) -> None:
    try:
        os.chmod(path, mode)
    except OSError as exc:  # e.g. a folder owned by someone else: say so, don't fail
        log.warning("%s: cannot set mode %o (%s)", path, mode, exc.strerror)
