"""A CJK-capable font for evidence images, found once and cached.

OpenCV's Hershey fonts have no Chinese glyphs, so banner text is drawn with
Pillow. Debian's fonts-noto-cjk ships one .ttc with several faces; face 2 is
Simplified Chinese (Noto Sans CJK SC), which also covers Latin text.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

from PIL import ImageFont

log = logging.getLogger(__name__)

FONT_ENV = "COUNTERWATCH_CJK_FONT"
_CANDIDATES = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/System/Library/Fonts/PingFang.ttc", 0),
    ("C:/Windows/Fonts/msyh.ttc", 0),
)


@functools.lru_cache(maxsize=1)
def cjk_font_path() -> tuple[str, int] | None:
    """(path, face index) of a font with Chinese glyphs, or None (then a warning is logged once)."""
    env = os.environ.get(FONT_ENV)
    if env:
        if Path(env).is_file():
            return env, 0
        log.warning("%s=%s is not a file; looking for a system CJK font", FONT_ENV, env)
    for path, index in _CANDIDATES:
        if Path(path).is_file():
            return path, index
    log.warning("no CJK font found (install fonts-noto-cjk or set %s); Chinese text will show as boxes", FONT_ENV)
    return None


@functools.lru_cache(maxsize=16)
def cjk_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A font of `size` pixels that can draw Chinese, or Pillow's default font as a last resort."""
    found = cjk_font_path()
    if found is not None:
        try:
            return ImageFont.truetype(found[0], size, index=found[1])
        except OSError as e:
            log.warning("cannot load font %s: %s", found[0], e)
    return ImageFont.load_default(size)
