"""Evidence stills: the frame an event fired on, annotated so a supervisor sees why.

The banner carries the rule and the rulebook article in Chinese and English, so
a printed snapshot stands on its own in a review or a nightly report. Text goes
through Pillow with a CJK font (OpenCV cannot draw Chinese). Customers' faces are
blurred before anything is drawn, so a snapshot never holds an unblurred face of
someone who is not staff.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw

from pipeline.core import private
from pipeline.core.errors import OutputError
from pipeline.core.fonts import cjk_font
from pipeline.core.skeleton import COCO_EDGES
from pipeline.core.types import Frame

log = logging.getLogger(__name__)

# Share of a person box, from the top, treated as the face/head region when blurring.
FACE_FRACTION = 0.4
KEYPOINT_MIN_CONF = 0.3

# BGR colours
ZONE_COLORS: dict[str, tuple[int, int, int]] = {
    "seat": (80, 200, 80),
    "desk": (220, 160, 40),
    "customer": (40, 140, 255),
    "waiting": (40, 220, 230),
    "staff_area": (200, 200, 60),
}
ROLE_COLORS: dict[str, tuple[int, int, int]] = {
    "staff": (80, 200, 80),
    "customer": (40, 140, 255),
}
OTHER_COLOR = (200, 200, 200)
OBJECT_COLOR = (220, 60, 220)
HIGHLIGHT_COLOR = (30, 30, 235)
BANNER_BG = (36, 30, 28)

# (xyxy, label, role, keypoints | None, keypoint_conf | None[, track_id])
PersonDraw = Sequence[Any]
ObjectDraw = tuple[Sequence[float], str]


def blur_regions(image: np.ndarray, boxes: Iterable[Sequence[float]], *, upper_fraction: float = FACE_FRACTION) -> None:
    """Pixelate then smooth the top `upper_fraction` of each xyxy box, in place.

    Pixelation removes the detail (a Gaussian alone can be partly undone); the
    smoothing afterwards keeps the patch from looking like a glitch.
    """
    h, w = image.shape[:2]
    for box in boxes:
        x1, y1, x2, y2 = (float(v) for v in box[:4])
        y2 = y1 + (y2 - y1) * upper_fraction
        x1i, y1i = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
        x2i, y2i = min(w, int(np.ceil(x2))), min(h, int(np.ceil(y2)))
        if x2i - x1i < 2 or y2i - y1i < 2:
            continue
        roi = image[y1i:y2i, x1i:x2i]
        rw, rh = roi.shape[1], roi.shape[0]
        small = cv2.resize(roi, (max(1, rw // 10), max(1, rh // 10)), interpolation=cv2.INTER_AREA)
        patch = cv2.resize(small, (rw, rh), interpolation=cv2.INTER_NEAREST)
        k = max(3, (min(rw, rh) // 6) | 1)
        image[y1i:y2i, x1i:x2i] = cv2.GaussianBlur(patch, (k, k), 0)


def _fit_font(draw: ImageDraw.ImageDraw, text: str, size: int, max_width: float):
    while True:
        font = cjk_font(size)
        if size <= 10 or draw.textlength(text, font=font) <= max_width:
            return font
        size = max(10, int(size * 0.9))


def render_snapshot(
    frame: Frame,
    *,
    zones: dict[str, list[np.ndarray]] | None = None,
    persons: Sequence[PersonDraw] = (),
    objects: Sequence[ObjectDraw] = (),
    highlight_track_ids: Iterable[int] = (),
    title_zh: str,
    title_en: str,
    blur_boxes: Iterable[Sequence[float]] = (),
    max_width: int | None = 1600,
) -> np.ndarray:
    """An annotated BGR image: banner (zh + en + camera/time) above the frame with zones, boxes and skeletons.

    `persons` items are (xyxy, label, role, keypoints (17,2) | None, keypoint_conf (17,) | None)
    with an optional 6th item track_id; a person whose track_id is in
    `highlight_track_ids` gets a thick red box. `blur_boxes` are person boxes of
    customers; their upper part (FACE_FRACTION) is blurred. All coordinates are
    pixels of `frame.image`.
    """
    src = frame.image
    scale = 1.0
    if max_width and src.shape[1] > max_width:
        scale = max_width / src.shape[1]
        img = cv2.resize(src, (max_width, max(1, round(src.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    else:
        img = src.copy()
    h, w = img.shape[:2]
    blur_regions(img, [np.asarray(b[:4], np.float64) * scale for b in blur_boxes])
    line = max(1, round(w / 640))
    highlight = {int(t) for t in highlight_track_ids}
    texts: list[tuple[tuple[int, int], str, tuple[int, int, int], int]] = []  # banner offset added later
    label_size = max(12, round(w / 70))

    overlay = img.copy()
    for kind, polys in (zones or {}).items():
        color = ZONE_COLORS.get(kind, OTHER_COLOR)
        for poly in polys:
            pts = np.round(np.asarray(poly, np.float64).reshape(-1, 2) * scale).astype(np.int32)
            if len(pts) < 3:
                continue
            cv2.fillPoly(overlay, [pts], color)
            cv2.polylines(img, [pts], True, color, line, cv2.LINE_AA)
            x, y = pts[:, 0].min(), pts[:, 1].min()
            texts.append(((int(x) + 3, int(y) + 2), kind, color, label_size))
    cv2.addWeighted(overlay, 0.18, img, 0.82, 0, dst=img)

    for person in persons:
        xyxy, label, role, kps, kpc = person[:5]
        track_id = person[5] if len(person) > 5 else None
        color = ROLE_COLORS.get(str(role), OTHER_COLOR)
        hot = track_id is not None and int(track_id) in highlight
        x1, y1, x2, y2 = (int(round(float(v) * scale)) for v in xyxy[:4])
        cv2.rectangle(img, (x1, y1), (x2, y2), HIGHLIGHT_COLOR if hot else color, line * (3 if hot else 1))
        if kps is not None:
            pts = np.asarray(kps, np.float64) * scale
            conf = np.ones(len(pts)) if kpc is None else np.asarray(kpc, np.float64)
            for a, b in COCO_EDGES:
                if a < len(pts) and b < len(pts) and conf[a] >= KEYPOINT_MIN_CONF and conf[b] >= KEYPOINT_MIN_CONF:
                    pa, pb = tuple(int(v) for v in np.round(pts[a])), tuple(int(v) for v in np.round(pts[b]))
                    cv2.line(img, pa, pb, (0, 230, 255), line + 1, cv2.LINE_AA)
            for p, c in zip(pts, conf, strict=False):
                if c >= KEYPOINT_MIN_CONF:
                    cv2.circle(img, (int(round(p[0])), int(round(p[1]))), line + 2, (0, 120, 255), -1, cv2.LINE_AA)
        if label:
            texts.append(
                ((x1 + 2, max(0, y1 - label_size - 4)), str(label), HIGHLIGHT_COLOR if hot else color, label_size)
            )

    for xyxy, label in objects:
        x1, y1, x2, y2 = (int(round(float(v) * scale)) for v in xyxy[:4])
        cv2.rectangle(img, (x1, y1), (x2, y2), OBJECT_COLOR, line + 1)
        if label:
            texts.append(((x1 + 2, y2 + 2), str(label), OBJECT_COLOR, label_size))

    return _with_banner(img, frame, title_zh, title_en, texts)


def _with_banner(img: np.ndarray, frame: Frame, title_zh: str, title_en: str, texts: list) -> np.ndarray:
    h, w = img.shape[:2]
    big = max(16, round(w / 45))
    small = max(12, round(w / 70))
    pad = max(6, big // 3)
    banner_h = pad * 4 + big + small * 2
    canvas = np.empty((banner_h + h, w, 3), np.uint8)
    canvas[:banner_h] = BANNER_BG
    canvas[banner_h:] = img
    canvas[:banner_h, : max(4, w // 160)] = HIGHLIGHT_COLOR  # alert accent bar

    pil = Image.fromarray(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB))
    draw = ImageDraw.Draw(pil)
    x0 = max(4, w // 160) + pad
    room = w - x0 - pad
    draw.text((x0, pad), title_zh, font=_fit_font(draw, title_zh, big, room), fill=(255, 255, 255))
    draw.text((x0, pad * 2 + big), title_en, font=_fit_font(draw, title_en, small, room), fill=(225, 225, 225))
    meta = f"{frame.source_id} · t={frame.timestamp_s:.1f}s · #{frame.index}"
    draw.text((x0, pad * 3 + big + small), meta, font=cjk_font(small), fill=(170, 170, 170))
    for (x, y), text, bgr, size in texts:
        font = cjk_font(size)
        pos = (x, y + banner_h)
        left, top, right, bottom = draw.textbbox(pos, text, font=font)
        draw.rectangle((left - 2, top - 1, right + 2, bottom + 1), fill=(0, 0, 0))
        draw.text(pos, text, font=font, fill=(bgr[2], bgr[1], bgr[0]))
    return cv2.cvtColor(np.asarray(pil), cv2.COLOR_RGB2BGR)


def write_snapshot(path: str | os.PathLike[str], image: np.ndarray, *, quality: int = 90) -> Path:
    """Write a JPEG atomically (temp file + rename), so readers never see half an image."""
    path = Path(path)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise OutputError(f"snapshot {str(path)!r}: JPEG encoding failed (image shape {image.shape})")
    tmp_name = None
    try:
        private.make_dir(path.parent)  # 0700
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(buf.tobytes())
        os.replace(tmp_name, path)
    except OSError as e:
        if tmp_name and os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise OutputError(f"cannot write snapshot {str(path)!r}: {e.strerror or e}") from e
    return path
