"""Splits by source clip: every image of one group (clip, recording, webcam session) lands in one split."""

from __future__ import annotations

import hashlib
import re


def group_of(stem: str, pattern: str | None) -> str:
    """The group an image belongs to: the first regex group (or whole match) of `pattern` on its file stem."""
    if not pattern:
        return stem
    m = re.search(pattern, stem)
    if not m:
        return stem
    g = m.group(1) if m.groups() else m.group(0)
    if g.isdigit():  # numbered webcam frames: neighbours are near copies, so keep blocks of 25 together
        return f"block{int(g) // 25}"
    return g


def split_of(group: str, val: float, test: float, seed: int = 0, *, force: dict[str, str] | None = None) -> str:
    """'train', 'val' or 'test' for a group: forced by a regex in `force`, else by a stable hash."""
    for split, rx in (force or {}).items():
        if rx and re.search(rx, group):
            return split
    h = int(hashlib.sha1(f"{seed}:{group}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    if h < test:
        return "test"
    if h < test + val:
        return "val"
    return "train"
