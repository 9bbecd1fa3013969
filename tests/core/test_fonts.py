"""The one CJK font finder: the setting, the system font, the fallback for evidence images."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pipeline.core import fonts
from pipeline.core.errors import OutputError


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.delenv(fonts.FONT_ENV, raising=False)
    for f in (fonts.cjk_font_face, fonts.cjk_font_path, fonts.cjk_font):
        f.cache_clear()
    yield
    for f in (fonts.cjk_font_face, fonts.cjk_font_path, fonts.cjk_font):
        f.cache_clear()


def test_the_system_font_is_found_and_cached():
    path, index = fonts.cjk_font_face()  # fonts-noto-cjk is installed on dev machines and CI
    assert path.is_file() and path.suffix.lower() in fonts.FONT_SUFFIXES
    assert index >= 0
    assert fonts.find_cjk_font() == path
    assert fonts.cjk_font_path() == (path, index)
    assert fonts.cjk_font(20) is fonts.cjk_font(20)
    assert fonts.cjk_font(20).getbbox("柜台")[2] > 0


def test_the_setting_wins(monkeypatch, tmp_path):
    system, _ = fonts.cjk_font_face()
    fonts.cjk_font_face.cache_clear()
    mine = tmp_path / "mine.ttc"
    mine.write_bytes(Path(system).read_bytes())
    monkeypatch.setenv(fonts.FONT_ENV, str(mine))
    assert fonts.find_cjk_font() == mine


def test_a_wrong_setting_is_an_error_for_reports_and_a_warning_for_evidence(monkeypatch, caplog):
    monkeypatch.setenv(fonts.FONT_ENV, "/nonexistent/font.ttc")
    with pytest.raises(OutputError, match="COUNTERWATCH_CJK_FONT=/nonexistent/font.ttc"):
        fonts.find_cjk_font()
    with caplog.at_level(logging.WARNING, logger="pipeline.core.fonts"):
        found = fonts.cjk_font_path()
    assert found == fonts.system_cjk_font()
    assert "/nonexistent/font.ttc" in caplog.text


def test_no_font_at_all(monkeypatch, caplog):
    monkeypatch.setattr(fonts, "CANDIDATES", ())
    monkeypatch.setattr(fonts, "_fc_match", lambda: None)
    with pytest.raises(OutputError, match="apt-get install fonts-noto-cjk"):
        fonts.cjk_font_face()
    with caplog.at_level(logging.WARNING, logger="pipeline.core.fonts"):
        assert fonts.cjk_font_path() is None
    assert "boxes" in caplog.text
    assert fonts.cjk_font(12) is not None  # Pillow's default font


def test_fontconfig_is_asked_when_no_known_path_exists(monkeypatch):
    if not fonts.shutil.which("fc-match"):
        pytest.fail("fontconfig (fc-match) is installed on dev machines and CI")
    monkeypatch.setattr(fonts, "CANDIDATES", ())
    found = fonts.system_cjk_font()
    assert found is not None and found[0].is_file()
    assert found == fonts._fc_match()
