"""System packages (ffmpeg, Chromium, CJK font) are checked at a command's start with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.commands import syscheck
from pipeline.commands.syscheck import SystemPackageError, require

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def empty_path(tmp_path, monkeypatch):
    """A PATH with nothing on it (no ffmpeg, no chromium, no fc-match)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("COUNTERWATCH_CHROMIUM", raising=False)
    return bin_dir


def _fake_tool(bin_dir: Path, name: str) -> Path:
    tool = bin_dir / name
    tool.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    tool.chmod(0o755)
    return tool


def test_missing_ffmpeg_fails_with_one_line_naming_the_package(empty_path):
    with pytest.raises(SystemPackageError) as err:
        require(fail=("ffmpeg",))
    msg = str(err.value)
    assert len(msg.splitlines()) == 1 and "apt-get install ffmpeg" in msg and "clips" in msg


def test_missing_ffmpeg_warns_once_and_goes_on(empty_path, capsys):
    lines = require(warn=("ffmpeg",))
    err = capsys.readouterr().err.splitlines()
    assert err == lines and len(lines) == 1
    assert lines[0].startswith("warning: ffmpeg not found") and "apt-get install ffmpeg" in lines[0]


def test_ffmpeg_on_path_is_found(empty_path, capsys):
    tool = _fake_tool(empty_path, "ffmpeg")
    assert require(warn=("ffmpeg",)) == [] and capsys.readouterr().err == ""
    assert syscheck.PACKAGES["ffmpeg"].locate() == (str(tool), "")


def test_missing_chromium_names_its_package(empty_path):
    with pytest.raises(SystemPackageError, match=r"apt-get install chromium$"):
        require(fail=("chromium",))
    _fake_tool(empty_path, "chromium")
    require(fail=("chromium",))


def test_a_wrong_font_setting_is_named(monkeypatch):
    from pipeline.core.fonts import cjk_font_face

    monkeypatch.setenv("COUNTERWATCH_CJK_FONT", "/nonexistent/font.ttc")
    cjk_font_face.cache_clear()
    try:
        with pytest.raises(SystemPackageError) as err:
            require(fail=("cjk-font",))
    finally:
        monkeypatch.delenv("COUNTERWATCH_CJK_FONT")
        cjk_font_face.cache_clear()
    assert "COUNTERWATCH_CJK_FONT=/nonexistent/font.ttc" in str(err.value)
    assert "apt-get install fonts-noto-cjk" in str(err.value)


def _cli(*args: str, path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "COUNTERWATCH_CHROMIUM"}
    env.update(PATH=str(path), PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env=env)


def test_report_without_chromium_fails_first_unless_no_pdf(tmp_path, empty_path):
    out = tmp_path / "report"
    run = _cli("report", "--date", "2026-01-05", "--data", str(tmp_path / "data"), "--out", str(out), path=empty_path)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [run.stderr.strip()] and "apt-get install chromium" in run.stderr
    assert not out.exists()
    run = _cli("report", "--no-pdf", "--date", "2026-01-05", "--data", str(tmp_path / "data"), "--out", str(out),
               path=empty_path)
    assert "apt-get install chromium" not in run.stderr and "no counterwatch.db" in run.stderr


def test_analyze_needs_no_ffmpeg_binary(tmp_path, empty_path):
    """Clips are encoded in-process by PyAV: without ffmpeg on PATH analyze neither warns nor fails for it."""
    run = _cli("analyze", str(tmp_path / "nope.mp4"), "--config", str(REPO / "configs" / "demo.yaml"),
               "--out", str(tmp_path / "out"), path=empty_path)
    lines = run.stderr.strip().splitlines()
    assert not any("ffmpeg not found" in line for line in lines), lines
    assert lines[-1:] == [f"error: {tmp_path / 'nope.mp4'}: video file not found"]


def test_doctor_notes_more_than_one_opencv_wheel(monkeypatch):
    import importlib.metadata

    from pipeline.commands.doctor_cmd import check_python

    class Dist:
        def __init__(self, name):
            self.metadata = {"Name": name}

    def one(names):
        monkeypatch.setattr(importlib.metadata, "distributions", lambda: [Dist(n) for n in names])
        return next(c for c in check_python() if c.item == "one OpenCV wheel")

    assert one(["numpy", "opencv-contrib-python"]).ok
    two = one(["opencv-contrib-python", "opencv-python"])
    assert not two.ok and two.optional and "opencv-python" in two.detail
