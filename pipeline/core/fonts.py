"""The CJK font, found once and cached: for reports, snapshot banners and the start-up check.

Where it looks, in order: $COUNTERWATCH_CJK_FONT (a font file), the paths of Noto Sans CJK
(Debian/Ubuntu fonts-noto-cjk, Fedora, Arch) and of a few other CJK fonts, then what
fontconfig (`fc-match :lang=zh-cn`) picks. Debian's NotoSansCJK .ttc holds several faces;
face 2 is Simplified Chinese (Noto Sans CJK SC), which also covers Latin text.

`find_cjk_font` / `cjk_font_face` raise OutputError when there is none (a report cannot do
without it); `cjk_font_path` / `cjk_font` log a warning once and fall back, so evidence
is still written with Pillow's default font (Chinese text then shows as boxes).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
from pathlib import Path

from PIL import ImageFont

from pipeline.core.errors import OutputError

log = logging.getLogger(__name__)

FONT_ENV = "COUNTERWATCH_CJK_FONT"
# (file, index of the Simplified-Chinese face in it)
CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/System/Library/Fonts/PingFang.ttc", 0),
    ("C:/Windows/Fonts/msyh.ttc", 0),
)
FONT_SUFFIXES = (".ttc", ".otf", ".ttf")
NO_FONT = f"no CJK font found: install fonts-noto-cjk (apt-get install fonts-noto-cjk) or set {FONT_ENV}"


def _fc_match() -> tuple[Path, int] | None:
    """What fontconfig picks for Simplified Chinese, when fc-match is installed and names a font file."""
    if not shutil.which("fc-match"):
        return None
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}|%{index}", ":lang=zh-cn"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    file, _, index = out.partition("|")
    path = Path(file)
    if not file or not path.is_file() or path.suffix.lower() not in FONT_SUFFIXES:
        return None
    return path, int(index) if index.isdigit() else 0


def system_cjk_font() -> tuple[Path, int] | None:
    """(file, face index) of an installed CJK font, ignoring $COUNTERWATCH_CJK_FONT; None when there is none."""
    for path, index in CANDIDATES:
        if Path(path).is_file():
            return Path(path), index
    return _fc_match()


@functools.lru_cache(maxsize=1)
def cjk_font_face() -> tuple[Path, int]:
    """(file, face index) of the CJK font; OutputError naming the setting or the package when there is none."""
    env = os.environ.get(FONT_ENV)
    if env:
        if not Path(env).is_file():
            raise OutputError(f"{FONT_ENV}={env}: font file not found")
        return Path(env), 0
    found = system_cjk_font()
    if found is None:
        raise OutputError(NO_FONT)
    return found


def find_cjk_font() -> Path:
    """The CJK font file (see `cjk_font_face`)."""
    return cjk_font_face()[0]


@functools.lru_cache(maxsize=1)
def cjk_font_path() -> tuple[Path, int] | None:
    """Like `cjk_font_face`, but a wrong setting falls back to a system font, and no font is None (warned once)."""
    try:
        return cjk_font_face()
    except OutputError as e:
        found = system_cjk_font() if os.environ.get(FONT_ENV) else None
        if found is None:
            log.warning("%s; Chinese text will show as boxes", e)
        else:
            log.warning("%s; using %s", e, found[0])
        return found


@functools.lru_cache(maxsize=16)
def cjk_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A Pillow font of `size` pixels that can draw Chinese, or Pillow's default font as a last resort."""
    found = cjk_font_path()
    if found is not None:
        try:
            return ImageFont.truetype(str(found[0]), size, index=found[1])
        except OSError as e:
            log.warning("cannot load font %s: %s", found[0], e)
    return ImageFont.load_default(size)
