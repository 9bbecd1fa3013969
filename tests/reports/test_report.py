"""The daily report from a seeded store: PDF text, fonts, images and pages; XLSX totals against the database."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from pipeline.cli import main
from pipeline.core.errors import OutputError
from pipeline.events.schema import EventRow, ReviewRow
from pipeline.events.store import EventStore
from pipeline.reports.build import build_report
from pipeline.reports.data import build_report_data
from tests.reports import seed

SNAPSHOT = "dev/office_cctv_unattended_seat/pgplarosa/sample_frame.png"


def _run(*cmd: str) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, data_dir) -> Path:
    d = tmp_path_factory.mktemp("seeded")
    seed.seed(d, data_dir / SNAPSHOT).close()
    return d


@pytest.fixture(scope="module")
def zh_report(seeded, tmp_path_factory):
    out = tmp_path_factory.mktemp("report-zh")
    cfg = tmp_path_factory.mktemp("cfg") / "site.yaml"
    cfg.write_text(seed.CONFIG_YAML, encoding="utf-8")
    rc = main(["report", "--date", "2026-11-26", "--data", str(seeded), "--out", str(out), "--config", str(cfg),
               "--ui-url", "http://hall.example:8000/"])
    assert rc == 0
    return out


def test_pdf_cites_articles_and_names_posts(zh_report):
    text = _run("pdftotext", "-layout", str(zh_report / "report.pdf"), "-")
    for needle in ("客服大厅每日行为规范报告", "第二十条", "第五十二条", "第五十三条", "第五十一条", "第二十一条",
                   "1号窗口", "2号窗口", "3号窗口", "迟到", "早退", "请假"):
        assert needle in text, needle


def test_pdf_embeds_a_cjk_font_and_the_charts(zh_report):
    pdf = str(zh_report / "report.pdf")
    fonts = _run("pdffonts", pdf).splitlines()[2:]
    cjk = [f for f in fonts if "CJK" in f]
    assert cjk, fonts
    assert all(line.split()[-5] == "yes" for line in cjk)  # the emb column
    images = _run("pdfimages", "-list", pdf).splitlines()[2:]
    pngs = [i for i in images if " image " in i and "jpeg" not in i]
    assert len(pngs) >= 4  # by rule, by hour, timeline, trend
    assert any("jpeg" in i for i in images)  # event thumbnails
    pages = int(next(line.split()[-1] for line in _run("pdfinfo", pdf).splitlines() if line.startswith("Pages:")))
    assert pages > 1


def test_html_links_every_top_event_to_the_review_ui(zh_report):
    html = (zh_report / "report.html").read_text(encoding="utf-8")
    assert "http://hall.example:8000/events/ev11260000cam1" in html
    assert "@font-face" in html and "&#39;CounterwatchCJK" not in html


def test_xlsx_totals_match_the_database(zh_report, seeded):
    """Counts leave out dismissed events (false alarms); the event list and the verdict table keep them."""
    wb = load_workbook(zh_report / "report.xlsx")
    store = EventStore.for_dir(seeded)
    lo = dt.datetime(2026, 11, 26)
    day = (EventRow.source == "batch", EventRow.wall_start >= lo, EventRow.wall_start < lo + dt.timedelta(days=1))
    with store.session() as s:
        batch_day = s.scalar(select(func.count()).select_from(EventRow).where(*day))
        dismissed = set(s.scalars(select(ReviewRow.event_id).where(ReviewRow.verdict == "dismissed")))
        per_rule = Counter(r for r, eid in s.execute(select(EventRow.rule_id, EventRow.event_id).where(*day))
                           if eid not in dismissed)
    store.close()
    assert batch_day == 8 and len(dismissed) == 2
    counted = batch_day - 2
    by_rule = wb["按规则统计"]
    assert by_rule.auto_filter.ref and by_rule.auto_filter.ref.startswith("A1:")
    rows = list(by_rule.iter_rows(min_row=2, values_only=True))
    assert {r[0]: r[3] for r in rows} == dict(per_rule)
    assert sum(r[3] for r in rows) == counted
    events = wb["事件明细"]
    assert events.max_row - 1 == batch_day
    verdicts = list(wb["审核统计"].iter_rows(min_row=2, values_only=True))
    assert sum(r[2] for r in verdicts) == 3 and sum(r[3] for r in verdicts) == 2 and sum(r[5] for r in verdicts) == 8
    hours = list(wb["按小时分布"].iter_rows(min_row=2, values_only=True))
    assert sum(sum(r[1:]) for r in hours) == counted
    assert "实时与批量复核对比" in wb.sheetnames
    for ws in wb.worksheets:
        assert ws.auto_filter.ref, ws.title


def test_dismissed_events_are_not_counted(seeded, tmp_path):
    """Dismissing the 12:02 unattended event takes it out of the KPIs and the post's unattended minutes."""
    import shutil

    d = tmp_path / "data"
    shutil.copytree(seeded, d)
    store = EventStore.for_dir(d)
    before = build_report_data(store, seed.DAY, seed.config())
    store.add_review("ev11260000cam1", "dismissed", "false_alarm", "supervisor2")
    after = build_report_data(store, seed.DAY, seed.config())
    store.close()
    b, a = ({p["post_id"]: p for p in x.by_post} for x in (before, after))
    assert b["P1"]["unattended_min"] == pytest.approx(36) and a["P1"]["unattended_min"] == pytest.approx(0)
    assert len(after.counted) == len(before.counted) - 1 and after.dismissed == before.dismissed + 1 == 3
    assert len(after.events) == len(before.events)  # still listed, with its verdict
    assert "ev11260000cam1" not in {e["event_id"] for e in after.top_events}
    files = build_report(d, seed.DAY, tmp_path / "out", cfg=seed.config(), pdf=False)
    html = files.html.read_text(encoding="utf-8")
    kpi = html[html.index('class="cards"'):html.index("</div>\n<p")]
    assert '<div class="v">5</div><div class="k">违规事件</div>' in kpi
    assert '<div class="v">3</div><div class="k">已驳回（误报，不计入）</div>' in kpi
    assert "数据来源: 夜间批量复核" in html


def test_figures_follow_the_seeded_day(seeded):
    store = EventStore.for_dir(seeded)
    data = build_report_data(store, seed.DAY, seed.config())
    store.close()
    assert data.source == "batch"
    post = {p["post_id"]: p for p in data.by_post}
    # opening 08:30-17:30 minus the 12:00-12:30 break = 510 min
    assert post["P1"]["absent_min"] == pytest.approx(5 + 13 + 10)
    assert post["P1"]["present_min"] == pytest.approx(510 - 28)
    assert post["P1"]["onpost_rate"] == pytest.approx(482 / 510, abs=1e-4)
    # the 90 min of camera outage on P3 count neither as present nor as absent
    assert post["P3"]["unknown_min"] == pytest.approx(90)
    assert post["P3"]["onpost_rate"] == pytest.approx(1.0)
    assert post["P1"]["unattended_min"] == pytest.approx(36)
    att = {a["post_id"]: a for a in data.attendance}
    assert att["P1"]["status"] == ["st_late"] and att["P1"]["late_min"] == pytest.approx(5)
    assert att["P2"]["status"] == ["st_early_leave"] and att["P2"]["early_min"] == pytest.approx(30)
    assert att["P3"]["status"] == ["st_leave"]
    assert [g["duty"] for g in data.ab_gaps] == ["D1"]
    assert {r["rule_id"]: (r["live"], r["batch"]) for r in data.live_vs_batch}["post.unattended"] == (1, 2)
    trend = {r["day"]: r for r in data.trend}
    assert trend[seed.DAY - dt.timedelta(days=2)]["live"] == 5 and trend[seed.DAY]["batch"] == 8
    assert data.top_events[0]["severity"] == "high"


def test_english_report(seeded, tmp_path):
    files = build_report(seeded, seed.DAY, tmp_path, lang="en", cfg=seed.config())
    text = _run("pdftotext", str(files.pdf), "-")
    for needle in ("Daily conduct report", "Article 20", "Counter unattended", "1号窗口", "Late", "Left early"):
        assert needle in text, needle


def test_report_without_database_is_a_clear_error(tmp_path):
    with pytest.raises(OutputError, match="no counterwatch.db"):
        build_report(tmp_path / "missing", seed.DAY, tmp_path / "out")


def test_report_of_an_empty_day(seeded, tmp_path):
    files = build_report(seeded, dt.date(2026, 1, 1), tmp_path, cfg=seed.config(), pdf=False)
    assert files.events == 0 and files.source is None
    assert "当日无违规事件" in files.html.read_text(encoding="utf-8")
