"""HTML -> PDF with headless Chromium.

Why Chromium and not reportlab: reportlab cannot embed the CFF-outline Noto CJK
fonts Debian ships, and the report's layout is already HTML. Chromium embeds the
inlined TrueType subset (see fonts.py) and the chart PNGs as they are.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from pipeline.core.errors import OutputError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_browser() -> str:
    env = os.environ.get("COUNTERWATCH_CHROMIUM")
    if env:
        if not (Path(env).is_file() or shutil.which(env)):
            raise OutputError(f"COUNTERWATCH_CHROMIUM={env}: browser not found")
        return env
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise OutputError("the PDF report needs headless Chromium: install it (apt-get install chromium) "
                      "or set COUNTERWATCH_CHROMIUM")


def html_to_pdf(html_path: Path, pdf_path: Path, *, timeout_s: float = 180.0) -> Path:
    """Print a local HTML file to A4 PDF. Raises OutputError naming the file when printing fails."""
    browser = find_browser()
    pdf_path = pdf_path.resolve()
    tmp_pdf = pdf_path.with_name(pdf_path.name + ".part")
    with tempfile.TemporaryDirectory(prefix="cw-chromium-") as profile:
        cmd = [browser, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-extensions",
               "--disable-dev-shm-usage", "--no-pdf-header-footer", "--hide-scrollbars",
               f"--user-data-dir={profile}", f"--print-to-pdf={tmp_pdf}", html_path.resolve().as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                                  env={**os.environ, "HOME": profile})
        except subprocess.TimeoutExpired:
            raise OutputError(f"{pdf_path}: Chromium did not finish printing within {timeout_s:.0f} s") from None
        except OSError as exc:
            raise OutputError(f"{pdf_path}: cannot start {browser} ({exc.strerror})") from None
    if not tmp_pdf.is_file() or tmp_pdf.read_bytes()[:5] != b"%PDF-":
        tail = " ".join((proc.stderr or "").strip().splitlines()[-2:])
        tmp_pdf.unlink(missing_ok=True)
        raise OutputError(f"{pdf_path}: Chromium could not print {html_path.name} (exit {proc.returncode}: {tail})")
    os.replace(tmp_pdf, pdf_path)
    return pdf_path
