"""The report's words: its messages are the `report.` keys of the shared catalogue
(`pipeline.core.i18n`); `text` and `tr` look them up without the prefix."""

from __future__ import annotations

from collections.abc import Callable

from pipeline.core.i18n import t

PREFIX = "report."


def text(key: str, lang: str) -> str:
    """The report message `key` (without its `report.` prefix) in `lang`."""
    return t(PREFIX + key, lang)


def tr(lang: str) -> Callable[[str], str]:
    """A one-argument translator for templates."""
    return lambda key: text(key, lang)
