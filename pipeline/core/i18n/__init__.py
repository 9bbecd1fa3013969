"""Every user-visible message of counterwatch, in Chinese (the default) and English.

One catalogue, one lookup: `t(key, lang, **kw)` returns the message `key` in `lang`
(`normalise_lang` turns anything unknown into Chinese) with its `{placeholders}` filled
from `kw`. The catalogue is `ui.MESSAGES` (the web app) plus `report.MESSAGES` (the daily
report, every key prefixed `report.`); each message is a `(zh, en)` pair in the order of
`LANGS`, and both texts of a message use the same placeholders.

A key missing from the catalogue is a bug. In production `t` logs a warning (once per key)
and returns the key, so a typo shows on screen instead of breaking a page or a report;
with `COUNTERWATCH_I18N_STRICT=1` (the test suite sets it) it raises `MissingMessageError`.
A key built from stored data passes `default=` instead (see `t`).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from pipeline.core.i18n import report, ui

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
STRICT_ENV = "COUNTERWATCH_I18N_STRICT"

log = logging.getLogger(__name__)


class MissingMessageError(KeyError):
    """A message key that the catalogue does not have."""


def _merge(*parts: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for part in parts:
        clash = out.keys() & part.keys()
        if clash:
            raise ValueError(f"i18n catalogue: key(s) defined twice: {', '.join(sorted(clash))}")
        out.update(part)
    return out


CATALOGUE: dict[str, tuple[str, str]] = _merge(ui.MESSAGES, report.MESSAGES)
_warned: set[str] = set()


def normalise_lang(lang: str | None) -> str:
    """'en' stays 'en'; 'zh', None and anything unknown become the default, Chinese."""
    return lang if lang in LANGS else DEFAULT_LANG


def strict() -> bool:
    """Whether a missing key raises (COUNTERWATCH_I18N_STRICT=1) instead of falling back to the key."""
    return os.environ.get(STRICT_ENV) == "1"


def t(key: str, lang: str | None = DEFAULT_LANG, *, default: str | None = None, **kw: Any) -> str:
    """The message `key` in `lang`, its placeholders filled from `kw`.

    `default` is the text for a key that the catalogue may lack because it is built from
    stored data (a free-text verdict reason, a severity the web UI has no word for): it is
    returned as is, without a warning and also under COUNTERWATCH_I18N_STRICT.
    """
    texts = CATALOGUE.get(key)
    if texts is None:
        if default is not None:
            return default
        if strict():
            raise MissingMessageError(f"i18n: no message {key!r} in the catalogue")
        if key not in _warned:
            _warned.add(key)
            log.warning("i18n: no message %r in the catalogue; showing the key", key)
        return key
    s = texts[LANGS.index(normalise_lang(lang))]
    return s.format(**kw) if kw else s
