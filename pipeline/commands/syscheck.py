"""System packages a command needs, checked once at its start with one line each.

pip cannot install these, so a missing one is named with the Debian package that
provides it. `counterwatch doctor` lists the same table; commands call `require`
before any work: evidence writing (analyze, batch, run) warns without a CJK font
(snapshot captions would show boxes; clips are encoded in-process by PyAV, so no
ffmpeg binary is needed), and a report fails at once without its font or, unless
--no-pdf, without Chromium. ffmpeg/ffprobe are listed for the test suite.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.core.errors import CounterwatchError, OutputError


def _which(tool: str) -> Callable[[], str]:
    def find() -> str:
        found = shutil.which(tool)
        if not found:
            raise OutputError(f"{tool} not on PATH")
        return found

    return find


def _browser() -> str:
    from pipeline.reports.pdf import find_browser

    return find_browser()


def _cjk_font() -> str:
    from pipeline.core.fonts import find_cjk_font

    return str(find_cjk_font())


@dataclass(frozen=True)
class SystemPackage:
    name: str
    apt: str  # Debian package that provides it
    purpose: str
    find: Callable[[], str]  # its path, or raises CounterwatchError saying why not

    def locate(self) -> tuple[str | None, str]:
        """(path, "") when present, else (None, the one line that names the package)."""
        try:
            return self.find(), ""
        except CounterwatchError as exc:
            setting = f" ({exc})" if str(exc).startswith("COUNTERWATCH_") else ""  # a path set but wrong
            return None, f"{self.name} not found{setting}: {self.purpose}; apt-get install {self.apt}"


PACKAGES = {
    "ffmpeg": SystemPackage("ffmpeg", "ffmpeg", "used by the tests to check clips and serve test streams", _which("ffmpeg")),
    "ffprobe": SystemPackage("ffprobe", "ffmpeg", "needed by the clip checks of the tests", _which("ffprobe")),
    "chromium": SystemPackage("chromium", "chromium", "needed for report.pdf (--no-pdf skips it) and the browser tests", _browser),
    "cjk-font": SystemPackage("CJK font", "fonts-noto-cjk", "needed for the report and the snapshot captions",
                              _cjk_font),
}


# What writing evidence needs: snapshot captions (a CJK font); clips need only PyAV's bundled libx264.
CLIP_NEEDS = ("cjk-font",)


class SystemPackageError(CounterwatchError):
    """A system package the command cannot run without is missing."""


def require(*, fail: tuple[str, ...] = (), warn: tuple[str, ...] = ()) -> list[str]:
    """Check the named packages once; raise on a missing `fail` one, print one line per missing `warn` one.

    Returns the warning lines printed (for tests and callers that log them).
    """
    for name in fail:
        path, why = PACKAGES[name].locate()
        if path is None:
            raise SystemPackageError(why)
    lines = []
    for name in warn:
        path, why = PACKAGES[name].locate()
        if path is None:
            lines.append(f"warning: {why}")
            print(lines[-1], file=sys.stderr, flush=True)
    return lines
