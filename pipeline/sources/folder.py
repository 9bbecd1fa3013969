"""A folder of still images played as a video at the analysis fps.

Used for labelled image sets and for frames exported by other tools. Images are
sorted by name, so zero-padded numbering gives the intended order; the timestamp
of image i is i / fps, which keeps rule timing in seconds even without a clock.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2

from pipeline.core.errors import SourceError
from pipeline.core.types import Frame
from pipeline.sources.base import Source, SourceInfo

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


class ImageFolderSource(Source):
    """Images of one folder in name order; unreadable images are skipped with a warning."""

    def __init__(self, path: str | os.PathLike[str], *, camera_id: str, fps: float) -> None:
        self.path = Path(path)
        self.camera_id = camera_id
        self._where = f"camera {camera_id!r}: image folder {str(self.path)!r}"
        if fps <= 0:
            raise SourceError(f"{self._where}: fps must be > 0, but got {fps}")
        if not self.path.is_dir():
            raise SourceError(f"{self._where} not found")
        self._files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if not self._files:
            raise SourceError(f"{self._where} holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
        self.fps = float(fps)
        first = self._read(0)
        if first is None:
            raise SourceError(f"{self._where}: first image {self._files[0].name!r} cannot be read")
        h, w = first.shape[:2]
        self.info = SourceInfo("folder", str(self.path), w, h, self.fps, len(self._files) / self.fps, len(self._files))
        self._next = 0
        self._delivered = 0
        self._closed = False

    def _read(self, i: int):
        image = cv2.imread(str(self._files[i]), cv2.IMREAD_COLOR)
        return image

    def __next__(self) -> Frame:
        while not self._closed and self._next < len(self._files):
            i = self._next
            self._next += 1
            image = self._read(i)
            if image is None:
                log.warning("%s: image %r cannot be read; skipped", self._where, self._files[i].name)
                continue
            self._delivered += 1
            return Frame(self.camera_id, i, i / self.fps, image)
        if self._delivered == 0 and not self._closed:
            raise SourceError(f"{self._where}: no image could be read")
        raise StopIteration

    @property
    def stats(self) -> dict[str, int]:
        return {"received": self._next, "delivered": self._delivered, "dropped": 0}

    def close(self) -> None:
        self._closed = True
