"""The shared message catalogue: both languages for every key, the same placeholders in
both, loud failures for a missing key under test, the key and a warning in production."""

from __future__ import annotations

import logging
import re
import string
from pathlib import Path

import pytest

import pipeline.reports
from pipeline.core import i18n
from pipeline.core.i18n import CATALOGUE, LANGS, MissingMessageError, normalise_lang, t
from pipeline.reports.i18n import text, tr
from pipeline.web.i18n import stored_label


def _fields(s: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(s) if name is not None}


# Pieces of a sentence that one language does not need: "共 12 条事件" is "12 events".
MAY_BE_EMPTY = {("total_prefix", "en")}


def test_every_key_has_a_text_in_every_language():
    assert LANGS == ("zh", "en")
    assert len(CATALOGUE) > 300
    bad = [k for k, texts in CATALOGUE.items()
           if not isinstance(texts, tuple) or len(texts) != len(LANGS)
           or not all(isinstance(s, str) for s in texts)]
    assert not bad, bad
    empty = {(k, lang) for k, texts in CATALOGUE.items() for lang, s in zip(LANGS, texts, strict=True)
             if not s.strip()}
    assert empty == MAY_BE_EMPTY, sorted(empty - MAY_BE_EMPTY)


def test_placeholders_match_between_languages():
    bad = {k: [sorted(_fields(s)) for s in texts] for k, texts in CATALOGUE.items()
           if len({frozenset(_fields(s)) for s in texts}) != 1}
    assert not bad, bad
    assert _fields(CATALOGUE["day_answer"][0]) == {"post", "lo", "hi"}  # the parser sees named fields


def test_lookup_languages_and_placeholders():
    assert t("day_answer", "en", post="P1", lo="09:00", hi="10:00") == "P1 from 09:00 to 10:00:"
    assert t("day_answer", "zh", post="P1", lo="09:00", hi="10:00") == "P1 在 09:00–10:00："
    assert t("login") == "登录"  # Chinese is the default
    assert t("login", "fr") == t("login", None) == "登录"
    assert [normalise_lang(x) for x in ("en", "zh", "EN", "", None)] == ["en", "zh", "zh", "zh", "zh"]


def test_report_messages_are_the_prefixed_keys():
    # the report says 摄像机 where the web UI says 摄像头: one catalogue, two keys
    assert t("camera", "zh") == "摄像头"
    assert text("camera", "zh") == t("report.camera", "zh") == "摄像机"
    assert tr("en")("title") == "Daily conduct report"
    assert all(k.startswith("report.") for k in i18n.report.MESSAGES)
    assert not any(k.startswith("report.") for k in i18n.ui.MESSAGES)


def test_every_message_the_report_template_uses_exists():
    html = (Path(pipeline.reports.__file__).parent / "templates" / "report.html").read_text(encoding="utf-8")
    used = set(re.findall(r"""\b_\(['"]([a-z_]+)['"]\)""", html))
    assert len(used) > 30
    missing = sorted(k for k in used if "report." + k not in CATALOGUE)
    assert not missing, missing


def test_two_catalogues_may_not_define_one_key_twice():
    with pytest.raises(ValueError, match="defined twice: a"):
        i18n._merge({"a": ("甲", "A")}, {"a": ("乙", "B")})


def test_missing_key_fails_loudly_under_test(monkeypatch):
    monkeypatch.setenv(i18n.STRICT_ENV, "1")
    with pytest.raises(MissingMessageError, match="no-such-key"):
        t("no-such-key", "en")
    with pytest.raises(KeyError):
        text("no-such-key", "zh")


def test_missing_key_in_production_shows_the_key_and_warns_once(monkeypatch, caplog):
    monkeypatch.delenv(i18n.STRICT_ENV, raising=False)
    monkeypatch.setattr(i18n, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="pipeline.core.i18n"):
        assert t("no-such-key", "en") == "no-such-key"
        assert t("no-such-key", "zh", n=1) == "no-such-key"
    warnings = [r for r in caplog.records if "no-such-key" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING


def test_a_key_built_from_stored_data_takes_its_default_without_failing(monkeypatch, caplog):
    monkeypatch.setenv(i18n.STRICT_ENV, "1")
    assert t("reason_seen on clip", "en", default="reason_seen on clip") == "reason_seen on clip"
    assert t("reason_false_alarm", "en", default="unused") == "false alarm"  # a known key ignores it
    assert stored_label("sev_", "high", "zh") == "高"
    assert stored_label("sev_", "info", "en") == "info"  # the A/B rule's default severity has its words
    assert stored_label("sev_", "info", "zh") == "提示"
    assert stored_label("state_", "no such state", "en") == "state_no such state"  # unknown: the key, no error
    assert not any(_fields(s) & {"default"} for texts in CATALOGUE.values() for s in texts)
    assert not caplog.records
