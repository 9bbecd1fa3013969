"""Render ReportData to one self-contained HTML page (charts, thumbnails and font inlined).

Self-contained so the file can be mailed or archived as is, and so Chromium can
print it to PDF with nothing else beside it.
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from pipeline.reports.data import ReportData, article_en, rule_names
from pipeline.reports.fonts import font_face_css
from pipeline.reports.i18n import tr
from pipeline.rules.articles import ARTICLES

FONT_FAMILY = "CounterwatchCJK"
FALLBACK = "'Noto Sans CJK SC', 'Noto Sans SC', 'Microsoft YaHei', sans-serif"
WEEKDAYS = {"zh": "一二三四五六日", "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}
THUMB_WIDTH = 240


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("pipeline.reports", "templates"),
                              autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def thumbnail(data_dir: Path, snapshot: str | None) -> str | None:
    """A small JPEG of the event snapshot, base64; None when the file is missing or unreadable."""
    if not snapshot:
        return None
    import cv2

    p = Path(snapshot)
    p = p if p.is_absolute() else data_dir / p
    img = cv2.imread(str(p)) if p.is_file() else None
    if img is None:
        return None
    h, w = img.shape[:2]
    if w > THUMB_WIDTH:
        img = cv2.resize(img, (THUMB_WIDTH, max(1, round(h * THUMB_WIDTH / w))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return base64.b64encode(buf.tobytes()).decode("ascii") if ok else None


def _hm(v: dt.datetime | None) -> str:
    return "—" if v is None else f"{v:%H:%M:%S}"


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def _status_class(key: str) -> str:
    if key in ("st_late", "st_early_leave", "st_absent", "st_not_early"):
        return "bad"
    return "ok" if key in ("st_ok", "st_leave") else "unk"


def context(data: ReportData, charts: dict[str, bytes], lang: str, ui_url: str, data_dir: Path) -> dict[str, Any]:
    names = {p.id: p.name for p in data.posts}
    top = []
    for e in data.top_events:
        zh, en = rule_names(e["rule_id"])
        top.append({**e, "rule_name": en if lang == "en" else zh, "article_en": article_en(e["article"]),
                    "post_name": names.get(e["post_id"], e["post_id"] or "—"),
                    "thumb": thumbnail(data_dir, e["snapshot"])})
    rates = [p["onpost_rate"] for p in data.by_post if p["onpost_rate"] is not None]
    cited = sorted({e["article"] for e in data.counted} | {"第五十一条"}, key=_article_order)
    wd = WEEKDAYS["en" if lang == "en" else "zh"][data.day.weekday()]
    verdict_sum = {k: sum(v[k] for v in data.verdicts) for k in ("confirmed", "dismissed", "unreviewed")}
    return {
        "_": tr(lang), "lang": lang, "day": data.day.isoformat(), "weekday": wd if lang == "en" else f"星期{wd}",
        "site_id": data.site_id, "site_name": data.site_name,
        "source_label": tr(lang)(f"source_{data.source_kind or 'none'}"),
        "opening": ", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in data.windows),
        "generated": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "total_events": len(data.counted), "all_events": len(data.events), "total_minutes": round(sum(r["minutes"] for r in data.by_rule), 1),
        "posts": data.posts, "by_rule": data.by_rule, "by_post": data.by_post,
        "mean_onpost": _pct(sum(rates) / len(rates)) if rates else "—",
        "unattended_total": round(sum(p["unattended_min"] for p in data.by_post), 1),
        "confirmed_total": verdict_sum["confirmed"], "dismissed_total": verdict_sum["dismissed"],
        "unreviewed_total": verdict_sum["unreviewed"],
        "attendance": data.attendance, "ab_gaps": data.ab_gaps, "top_events": top, "verdicts": data.verdicts,
        "trend": data.trend, "live_vs_batch": data.live_vs_batch,
        "articles": [ARTICLES[a] for a in cited if a in ARTICLES],
        "charts": {k: base64.b64encode(v).decode("ascii") for k, v in charts.items()},
        "ui_url": ui_url.rstrip("/"), "hm": _hm, "pct": _pct, "status_class": _status_class,
        "article_text": lambda n: (ARTICLES[n].gloss_en if lang == "en" else ARTICLES[n].text_zh)
        if n in ARTICLES else n,
    }


def _article_order(number: str) -> int:
    digits = "零一二三四五六七八九"
    body = number.removeprefix("第").removesuffix("条")
    total, cur = 0, 0
    for ch in body:
        if ch == "十":
            total += (cur or 1) * 10
            cur = 0
        elif ch in digits:
            cur = digits.index(ch)
    return total + cur


def render_html(data: ReportData, charts: dict[str, bytes], lang: str, ui_url: str, data_dir: Path) -> str:
    """The finished page. The inlined font is a subset of exactly the characters on the page."""
    tpl = _env().get_template("report.html")
    ctx = context(data, charts, lang, ui_url, data_dir)
    draft = tpl.render(**ctx, font_css="", font_family=Markup(FALLBACK))
    css = Markup(font_face_css(draft, FONT_FAMILY))  # our own CSS: must not be HTML-escaped
    return tpl.render(**ctx, font_css=css, font_family=Markup(f"'{FONT_FAMILY}', {FALLBACK}"))
