"""`counterwatch report`: the daily report (HTML, PDF, XLSX) for one day of a data folder."""

from __future__ import annotations

import argparse
import datetime as dt

from pipeline.core.errors import ConfigError


def parse_day(text: str, field: str = "--date") -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{field}: expected a date as YYYY-MM-DD, got {text!r}") from None


def add_report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="report language (default: zh)")
    p.add_argument("--ui-url", default=None,
                   help="base URL of the review UI for event links (default: $COUNTERWATCH_UI_URL or "
                        "http://127.0.0.1:8080)")
    p.add_argument("--db-url", default=None, help="database URL (default: sqlite in the data folder)")
    p.add_argument("--no-pdf", action="store_true", help="skip the PDF (no Chromium needed)")
    p.add_argument("--config-override", action="store_true",
                   help="report with --config even where it differs from the site config the data was analysed with")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write the daily report: report.html, report.pdf, report.xlsx")
    p.add_argument("--date", required=True, help="day to report, YYYY-MM-DD")
    p.add_argument("--data", required=True, help="data folder (holds counterwatch.db, snapshots/)")
    p.add_argument("--out", required=True, help="output folder for the report files")
    p.add_argument("--config", default=None,
                   help="site config (default: the one stored in the data folder by analyze/batch/run; a different "
                        "one is refused unless --config-override)")
    add_report_args(p)
    p.set_defaults(func=_report)


def report_needs(args: argparse.Namespace) -> tuple[str, ...]:
    """System packages the report cannot be written without (see pipeline.commands.syscheck)."""
    return ("cjk-font",) if args.no_pdf else ("cjk-font", "chromium")


def run_report(args: argparse.Namespace, day: dt.date, out: str) -> int:
    import sys

    from pipeline.commands.syscheck import require

    require(fail=report_needs(args))
    from pipeline.core.sitetime import use_site_timezone
    from pipeline.events.siteconfig import config_for_report
    from pipeline.reports.build import build_report

    cfg, warnings = config_for_report(args.data, day, args.config, override=getattr(args, "config_override", False))
    if cfg is not None:
        use_site_timezone(cfg)  # the day's hours and times are the site's local time
    for line in warnings:
        print(line, file=sys.stderr)
    files = build_report(args.data, day, out, lang=args.lang, cfg=cfg, ui_url=args.ui_url, db_url=args.db_url,
                         pdf=not args.no_pdf)
    src = files.source or "no data"
    print(f"report {day} ({args.lang}, {files.events} event(s) from {src}):")
    for path in (files.html, files.pdf, files.xlsx):
        if path is not None:
            print(f"  {path}")
    return 0


def _report(args: argparse.Namespace) -> int:
    return run_report(args, parse_day(args.date), args.out)
