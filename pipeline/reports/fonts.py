"""CJK font for reports: one file for charts, and a small TrueType subset for the PDF.

The font file is `pipeline.core.fonts.find_cjk_font` (a report fails without one).

Why a subset converted to TrueType: Debian's Noto Sans CJK ships as a .ttc with
CFF outlines. Chromium prints CFF web fonts as anonymous Type 3 glyph procedures
and reportlab cannot read CFF at all, so the PDF would carry no named CJK font.
Converting only the glyphs the report uses (a few hundred) from cubic CFF to
quadratic TrueType takes about a second and Chromium then embeds it as a named,
subset CID TrueType font (`AAAAAA+NotoSansCJKsc-Regular` in `pdffonts`).
"""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path

from pipeline.core.fonts import find_cjk_font

FAMILY_SC = "Noto Sans CJK SC"
logging.getLogger("fontTools").setLevel(logging.WARNING)  # its INFO lines list every glyph


def _face_index(path: Path) -> int:
    """Index of the Simplified-Chinese face in a collection (0 for a single font)."""
    if path.suffix.lower() != ".ttc":
        return 0
    from fontTools.ttLib import TTCollection

    coll = TTCollection(str(path), lazy=True)
    try:
        for i, font in enumerate(coll.fonts):
            if font["name"].getDebugName(1) == FAMILY_SC:
                return i
    finally:
        coll.close()
    return 0


def matplotlib_family() -> str:
    """Register the CJK font with matplotlib and return its family name."""
    from matplotlib import font_manager

    path = find_cjk_font()
    font_manager.fontManager.addfont(str(path))
    names = [f.name for f in font_manager.fontManager.ttflist if f.fname == str(path)]
    return FAMILY_SC if FAMILY_SC in names else (names[0] if names else "sans-serif")


def _to_quadratic(font) -> None:
    """Replace CFF outlines by TrueType `glyf` outlines in place (fontTools' otf2ttf recipe)."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyphs = {}
    for name in order:
        tt_pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(tt_pen, 1.0, reverse_direction=True))
        glyphs[name] = tt_pen.glyph()
    font["loca"] = newTable("loca")
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = glyphs
    for tag in ("CFF ", "VORG"):
        if tag in font:
            del font[tag]
    hmtx = font["hmtx"]
    for name, g in glyphs.items():
        g.recalcBounds(glyf)
        width = hmtx[name][0]
        hmtx[name] = (width, getattr(g, "xMin", 0))
    maxp = font["maxp"] = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for attr in ("maxZones",):
        setattr(maxp, attr, 1)
    for attr in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                 "maxStackElements", "maxSizeOfInstructions", "maxComponentElements",
                 "maxPoints", "maxContours", "maxCompositePoints", "maxCompositeContours", "maxComponentDepth"):
        setattr(maxp, attr, 0)
    maxp.numGlyphs = len(order)
    post = font["post"]
    post.formatType = 3.0
    font["head"].indexToLocFormat = 0
    font.sfntVersion = "\x00\x01\x00\x00"


def subset_ttf(text: str) -> bytes:
    """A TrueType font holding only the characters of `text` (plus ASCII), from the CJK font."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    path = find_cjk_font()
    font = TTFont(str(path), fontNumber=_face_index(path), lazy=False)
    chars = {ord(c) for c in text if not c.isspace()} | set(range(0x20, 0x7F)) | {0x3000}
    opts = subset.Options()
    opts.desubroutinize = True
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    opts.layout_features = ["*"]
    opts.drop_tables += ["VORG", "vhea", "vmtx", "GSUB", "GPOS", "GDEF", "BASE"]
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=chars)
    sub.subset(font)
    if "CFF " in font:
        _to_quadratic(font)
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue()


def font_face_css(text: str, family: str = "CounterwatchCJK") -> str:
    """An @font-face rule with the subset font inlined, so HTML and PDF need no font files beside them."""
    data = base64.b64encode(subset_ttf(text)).decode("ascii")
    return (f"@font-face {{ font-family: '{family}'; font-weight: 100 900; "
            f"src: url(data:font/ttf;base64,{data}) format('truetype'); }}")
