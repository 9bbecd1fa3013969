"""ReportData -> XLSX: one sheet per table, header row frozen, autofilter on, plain values (no formulas).

Text that a spreadsheet would run as a formula (it starts with = + - @, or a tab or
carriage return before one) is written with a leading apostrophe, so a post or staff
name such as `=HYPERLINK(...)` stays text (formula injection).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from pipeline.core.errors import OutputError
from pipeline.reports.data import ReportData, rule_names
from pipeline.reports.i18n import text

HEADER_FILL = PatternFill("solid", fgColor="EEF1F6")

# sheet key -> (title message key, [(column message key, row field)]); keys are `report.` messages
SHEETS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "by_rule": ("by_rule", [("rule", "rule_id"), ("col_rule_name", "name"), ("article", "article"),
                            ("count", "count"), ("minutes", "minutes")]),
    "by_post": ("by_post", [("post_id", "post_id"), ("post", "name"), ("camera", "camera_id"),
                            ("violations", "violations"), ("onpost_rate", "onpost_rate"),
                            ("present_min", "present_min"), ("absent_min", "absent_min"),
                            ("unknown_min", "unknown_min"), ("unattended_min", "unattended_min")]),
    "by_hour": ("by_hour", []),
    "presence": ("timeline", [("post_id", "post_id"), ("post", "post_name"), ("status", "state"),
                              ("start", "start"), ("end", "end"), ("minutes", "minutes")]),
    "attendance": ("attendance", [("post", "post_name"), ("staff", "staff_name"), ("shift", "shift"),
                                  ("first_seen", "first_seen"), ("last_seen", "last_seen"), ("status", "status"),
                                  ("late_min", "late_min"), ("early_min", "early_min")]),
    "ab": ("ab", [("event_id", "event_id"), ("duty", "duty"), ("start", "start"), ("end", "end"),
                  ("duration_min", "minutes"), ("article", "article"), ("verdict", "verdict")]),
    "events": ("events", [("event_id", "event_id"), ("start", "wall_start"), ("end", "wall_end"),
                          ("camera", "camera_id"), ("post", "post_id"), ("rule", "rule_id"),
                          ("col_rule_name", "rule_name"), ("article", "article"), ("severity", "severity"),
                          ("duration_min", "minutes"), ("verdict", "verdict"), ("col_source", "source"),
                          ("col_link", "link")]),
    "verdicts": ("verdicts", [("rule", "rule_id"), ("col_rule_name", "name"), ("confirmed", "confirmed"),
                              ("dismissed", "dismissed"), ("unreviewed", "unreviewed"), ("total", "total")]),
    "trend": ("trend", [("day", "day"), ("live", "live"), ("batch", "batch"), ("kpi_events", "events"),
                        ("confirmed", "confirmed"), ("dismissed", "dismissed")]),
    "live_vs_batch": ("live_vs_batch", [("rule", "rule_id"), ("col_rule_name", "name"), ("live", "live"),
                                        ("batch", "batch"), ("difference", "difference")]),
}


def _label(key: str, lang: str) -> str:
    return text(key, lang)


def _sheet_title(key: str, lang: str) -> str:
    title = text(SHEETS[key][0], lang)
    for ch in "[]:*?/\\":
        title = title.replace(ch, " ")
    return title.split("（")[0].split(" (")[0][:31]


def _rows(data: ReportData, key: str, lang: str, ui_url: str) -> list[dict[str, Any]]:
    def name(r: dict[str, Any]) -> str:
        return r["name_en"] if lang == "en" else r["name_zh"]

    names = {p.id: p.name for p in data.posts}
    if key in ("by_rule", "verdicts", "live_vs_batch"):
        return [{**r, "name": name(r)} for r in getattr(data, key)]
    if key == "by_post":
        return data.by_post
    if key == "presence":
        return [{"post_id": pid, "post_name": names.get(pid, pid), "state": text(st, lang), "start": s, "end": e,
                 "minutes": round((e - s).total_seconds() / 60, 2)}
                for pid, ivs in data.timeline.items() for s, e, st in ivs]
    if key == "attendance":
        return [{**a, "status": "; ".join(text(s, lang) for s in a["status"])} for a in data.attendance]
    if key == "ab":
        return [{**g, "verdict": text("from_presence" if g.get("from_presence") else (g["verdict"] or "unreviewed"), lang)}
                for g in data.ab_gaps]
    if key == "events":
        return [{**e, "rule_name": rule_names(e["rule_id"])[1 if lang == "en" else 0],
                 "minutes": round(e["duration_s"] / 60, 2), "verdict": text(e["verdict"] or "unreviewed", lang),
                 "link": f"{ui_url.rstrip('/')}/events/{e['event_id']}"} for e in data.events]
    if key == "trend":
        return data.trend
    return []


def _write_table(ws, headers: list[str], rows: list[list[Any]]) -> None:
    ws.append([_cell(h) for h in headers])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
    for r in rows:
        ws.append([_cell(v) for v in r])
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{max(1, len(rows) + 1)}"
    for i, h in enumerate(headers, start=1):
        width = max([_width(h)] + [_width(r[i - 1]) for r in rows[:500]])
        ws.column_dimensions[get_column_letter(i)].width = min(60, width + 2)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(s: str) -> str:
    """Text a spreadsheet will not evaluate: a leading apostrophe before = + - @ (and tab / CR)."""
    return "'" + s if s.startswith(FORMULA_START) else s


def _cell(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return v.replace(microsecond=0)
    if isinstance(v, (list, tuple, dict)):
        v = str(v)
    if isinstance(v, str):
        return safe_text(v)
    return v


def _width(v: Any) -> int:
    s = f"{v:%Y-%m-%d %H:%M:%S}" if isinstance(v, dt.datetime) else str(v if v is not None else "")
    return sum(2 if ord(c) > 0x2E80 else 1 for c in s)


def write_xlsx(data: ReportData, path: Path, lang: str, ui_url: str) -> Path:
    wb = Workbook()
    wb.remove(wb.active)
    for key, (_title, cols) in SHEETS.items():
        if key == "live_vs_batch" and not data.live_vs_batch:
            continue
        ws = wb.create_sheet(_sheet_title(key, lang))
        if key == "by_hour":
            rules = [r["rule_id"] for r in data.by_rule]
            headers = [text("hour", lang)] + [name for r in data.by_rule
                                            for name in [rule_names(r["rule_id"])[1 if lang == "en" else 0]]]
            rows = [[f"{h:02d}:00"] + [data.by_hour[r][h] for r in rules] for h in range(24)]
            _write_table(ws, headers, rows)
            continue
        rows = _rows(data, key, lang, ui_url)
        _write_table(ws, [_label(c, lang) for c, _ in cols], [[r.get(f) for _, f in cols] for r in rows])
    try:
        wb.save(path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write spreadsheet ({exc.strerror})") from None
    return path
