"""The site config stored in the data folder: what differs, and what the report does with a --config."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.core.errors import ConfigError
from pipeline.events import siteconfig
from pipeline.settings import parse_config
from tests.reports import seed

DAY = dt.date(2026, 11, 26)


def _write(tmp_path, text: str, name: str = "site.yaml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_round_trip_and_history(tmp_path):
    d = tmp_path / "data"
    cfg = seed.config()
    fp = siteconfig.remember(d, cfg, origin="a.yaml", command="batch", day=DAY)
    assert siteconfig.fingerprint(siteconfig.load_stored(d)) == fp
    assert (d / siteconfig.CONFIG_FILE).stat().st_mode & 0o777 == 0o600
    other = parse_config(seed.CONFIG_YAML.replace("示范客服大厅", "另一大厅"))
    fp2 = siteconfig.remember(d, other, origin="b.yaml", command="analyze", day=DAY + dt.timedelta(days=1))
    assert fp2 != fp and (d / siteconfig.HISTORY_DIR / f"{fp}.yaml").is_file()
    # each day gets the config it was analysed with; unknown days the latest
    assert siteconfig.load_stored(d, DAY).site.name == "示范客服大厅"
    assert siteconfig.load_stored(d, DAY + dt.timedelta(days=1)).site.name == "另一大厅"
    assert siteconfig.load_stored(d, DAY + dt.timedelta(days=9)).site.name == "另一大厅"
    assert siteconfig.differences(cfg, other) == ["site.name"]


def test_report_config_rules(tmp_path):
    d = tmp_path / "data"
    siteconfig.remember(d, seed.config(), origin="a.yaml", command="batch", day=DAY)
    cfg, warn = siteconfig.config_for_report(d, DAY, None)
    assert cfg.site.name == "示范客服大厅" and warn == []
    same = _write(tmp_path, "# comments and key order do not count\n" + seed.CONFIG_YAML)
    assert siteconfig.config_for_report(d, DAY, str(same))[1] == []
    moved = _write(tmp_path, seed.CONFIG_YAML.replace("[[0, 0.3], [0.5, 0.3]", "[[0, 0.35], [0.5, 0.3]", 1), "z.yaml")
    cfg, warn = siteconfig.config_for_report(d, DAY, str(moved))  # a zone edit: warned, not refused
    assert len(warn) == 1 and "zones" in warn[0] and "camera 'cam1'" in warn[0]
    hours = _write(tmp_path, seed.CONFIG_YAML.replace('end: "17:30"', 'end: "18:30"'), "h.yaml")
    with pytest.raises(ConfigError, match=r"site.opening_hours.*--config-override"):
        siteconfig.config_for_report(d, DAY, str(hours))
    cfg, warn = siteconfig.config_for_report(d, DAY, str(hours), override=True)
    assert cfg.site.opening_hours[0].end != seed.config().site.opening_hours[0].end
    assert len(warn) == 1 and "site.opening_hours" in warn[0]
    # a folder from an older version: no stored config, said so
    cfg, warn = siteconfig.config_for_report(tmp_path / "old", DAY, None)
    assert cfg is None and "no stored site config" in warn[0]
