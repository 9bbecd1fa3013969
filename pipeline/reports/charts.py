"""Report charts as PNG bytes (matplotlib, Agg), labelled with the CJK font so Chinese renders."""

from __future__ import annotations

import datetime as dt
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from pipeline.reports.data import ReportData  # noqa: E402
from pipeline.reports.fonts import matplotlib_family  # noqa: E402
from pipeline.reports.i18n import text  # noqa: E402

STATE_COLOURS = {"present": "#3a9d5d", "absent": "#d9534f", "unknown": "#b0b0b0"}
PALETTE = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c",
           "#ccb974", "#64b5cd"]
DPI = 110


def _setup() -> None:
    family = matplotlib_family()
    plt.rcParams.update({"font.family": [family, "DejaVu Sans"], "axes.unicode_minus": False,
                         "font.size": 9, "axes.spines.top": False, "axes.spines.right": False})


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _rule_label(row: dict, lang: str) -> str:
    name = row["name_en"] if lang == "en" else row["name_zh"]
    art = row["article_en"] if lang == "en" else row["article"]
    return f"{name} ({art})"


def by_hour(data: ReportData, lang: str) -> bytes:
    hours = list(range(24))
    span = [h for h in hours if any(data.by_hour[r][h] for r in data.by_hour)]
    lo = min([w[0].hour for w in data.windows] + span, default=8)
    hi = max([w[1].hour for w in data.windows] + span, default=18)
    xs = list(range(lo, min(hi, 23) + 1))
    fig, ax = plt.subplots(figsize=(7.2, 2.6))
    bottom = [0] * len(xs)
    for i, row in enumerate(data.by_rule):
        ys = [data.by_hour[row["rule_id"]][h] for h in xs]
        ax.bar(xs, ys, bottom=bottom, color=PALETTE[i % len(PALETTE)], label=_rule_label(row, lang), width=0.8)
        bottom = [b + y for b, y in zip(bottom, ys, strict=True)]
    ax.set_xticks(xs, [f"{h:02d}" for h in xs])
    ax.set_xlabel(text("hour", lang))
    ax.set_ylabel(text("count", lang))
    ax.set_title(text("by_hour", lang))
    ax.yaxis.get_major_locator().set_params(integer=True)
    if data.by_rule:
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _png(fig)


def by_rule(data: ReportData, lang: str) -> bytes:
    rows = list(reversed(data.by_rule))
    fig, ax = plt.subplots(figsize=(6.4, 0.24 * max(len(rows), 2) + 0.8))
    labels = [_rule_label(r, lang) for r in rows]
    counts = [r["count"] for r in rows]
    bars = ax.barh(range(len(rows)), counts, color=[PALETTE[(len(rows) - 1 - i) % len(PALETTE)]
                                                   for i in range(len(rows))])
    ax.set_yticks(range(len(rows)), labels)
    for b, c in zip(bars, counts, strict=True):
        ax.text(b.get_width(), b.get_y() + b.get_height() / 2, f" {c}", va="center", fontsize=8)
    ax.set_xlabel(text("count", lang))
    ax.set_title(text("by_rule", lang))
    ax.xaxis.get_major_locator().set_params(integer=True)
    return _png(fig)


def timeline(data: ReportData, lang: str) -> bytes:
    """Gantt of presence per post: on post / absent / unknown (outage or no footage)."""
    day0 = dt.datetime.combine(data.day, dt.time())
    ivs = [iv for p in data.posts for iv in data.timeline.get(p.id, [])]
    lo = min([w[0] for w in data.windows] + [s for s, _, _ in ivs], default=day0 + dt.timedelta(hours=8))
    hi = max([w[1] for w in data.windows] + [e for _, e, _ in ivs], default=day0 + dt.timedelta(hours=18))
    lo = lo.replace(minute=0, second=0, microsecond=0)
    hi = min(hi.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1), day0 + dt.timedelta(days=1))
    n = max(len(data.posts), 1)
    fig, ax = plt.subplots(figsize=(7.2, 0.42 * n + 1.0))
    # footage missing altogether is unknown too: grey background across the opening hours
    for ws, we in data.windows or [(lo, hi)]:
        ax.broken_barh([(mdates.date2num(ws), mdates.date2num(we) - mdates.date2num(ws))], (-0.5, n),
                       color="#f0f0f0", zorder=0)
    for i, p in enumerate(data.posts):
        for state in ("unknown", "absent", "present"):
            bars = [(mdates.date2num(s), mdates.date2num(e) - mdates.date2num(s))
                    for s, e, st in data.timeline.get(p.id, []) if st == state]
            if bars:
                ax.broken_barh(bars, (i - 0.35, 0.7), color=STATE_COLOURS[state], zorder=2)
    ax.set_yticks(range(len(data.posts)), [f"{p.name} ({p.id})" if p.name != p.id else p.id for p in data.posts])
    ax.set_ylim(-0.6, n - 0.4)
    ax.invert_yaxis()
    ax.set_xlim(mdates.date2num(lo), mdates.date2num(hi))
    ax.xaxis.set_major_locator(mdates.HourLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    ax.tick_params(axis="x", labelsize=7)
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=STATE_COLOURS[s], label=text(s, lang)) for s in ("present", "absent", "unknown")],
              ncol=3, fontsize=7, frameon=False, loc="lower right", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(text("timeline", lang), loc="left")
    return _png(fig)


def trend(data: ReportData, lang: str) -> bytes:
    days = [r["day"] for r in data.trend]
    fig, ax = plt.subplots(figsize=(7.2, 2.4))
    xs = range(len(days))
    w = 0.38
    ax.bar([x - w / 2 for x in xs], [r["live"] for r in data.trend], width=w, color=PALETTE[0], label=text("live", lang))
    ax.bar([x + w / 2 for x in xs], [r["batch"] for r in data.trend], width=w, color=PALETTE[1],
           label=text("batch", lang))
    ax.plot(list(xs), [r["confirmed"] for r in data.trend], color=PALETTE[3], marker="o", label=text("confirmed", lang))
    ax.set_xticks(list(xs), [f"{d:%m-%d}" for d in days])
    ax.set_ylabel(text("count", lang))
    ax.set_title(text("trend", lang))
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=7, frameon=False)
    return _png(fig)


def all_charts(data: ReportData, lang: str) -> dict[str, bytes]:
    _setup()
    return {"by_hour": by_hour(data, lang), "by_rule": by_rule(data, lang), "timeline": timeline(data, lang),
            "trend": trend(data, lang)}
