"""`build_report`: one day's report as report.html, report.pdf and report.xlsx in an output folder."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import ConfigError, OutputError
from pipeline.core.i18n import LANGS
from pipeline.events.store import DB_NAME, EventStore
from pipeline.reports.charts import all_charts
from pipeline.reports.data import build_report_data
from pipeline.reports.html import render_html
from pipeline.reports.pdf import html_to_pdf
from pipeline.reports.xlsx import write_xlsx
from pipeline.settings import SiteConfig

DEFAULT_UI_URL = "http://127.0.0.1:8080"


@dataclass
class ReportFiles:
    html: Path
    pdf: Path | None
    xlsx: Path
    events: int
    source: str | None


def build_report(data_dir: str | Path, day: dt.date, out_dir: str | Path, *, lang: str = "zh",
                 cfg: SiteConfig | None = None, ui_url: str | None = None, db_url: str | None = None,
                 pdf: bool = True) -> ReportFiles:
    """Read the day from the data folder's database and write the three files (PDF optional)."""

    if lang not in LANGS:
        raise ConfigError(f"--lang: unknown language {lang!r} (choose {', '.join(LANGS)})")
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if db_url is None and not (data_dir / DB_NAME).is_file():
        raise OutputError(f"{data_dir}: no {DB_NAME} here (run `counterwatch batch`, `analyze` or `run` first)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot create report folder ({exc.strerror})") from None
    ui = (ui_url or os.environ.get("COUNTERWATCH_UI_URL") or DEFAULT_UI_URL).rstrip("/")
    store = EventStore.for_dir(data_dir, db_url)
    try:
        data = build_report_data(store, day, cfg)
    finally:
        store.close()
    charts = all_charts(data, lang)
    html_path = out_dir / "report.html"
    try:
        html_path.write_text(render_html(data, charts, lang, ui, data_dir), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{html_path}: cannot write report ({exc.strerror})") from None
    xlsx_path = write_xlsx(data, out_dir / "report.xlsx", lang, ui)
    pdf_path = html_to_pdf(html_path, out_dir / "report.pdf") if pdf else None
    return ReportFiles(html=html_path, pdf=pdf_path, xlsx=xlsx_path, events=len(data.events), source=data.source)
