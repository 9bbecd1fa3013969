"""The false-positive / false-negative page of `eval images`.

Each error is shown with what the rule saw drawn on it (person boxes, skeletons,
objects and the measured details), so a threshold can be judged by looking rather
than by re-running. Images are embedded as scaled JPEG data URIs: one self-contained
file that can be mailed or archived next to the JSON.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import cv2
import numpy as np

from pipeline.core.errors import OutputError
from pipeline.core.skeleton import COCO_EDGES
from pipeline.evaluation.images import ImageEval, ImageResult, read_image
from pipeline.evaluation.metrics import fmt
from pipeline.scene.facts import SceneFacts

MAX_WIDTH = 640
KP_CONF = 0.3


def draw_facts(image: np.ndarray, facts: SceneFacts | None, flagged: set[int]) -> np.ndarray:
    """Boxes, skeletons and objects on a copy of the image; flagged tracks in red."""
    out = image.copy()
    if facts is None:
        return out
    h, w = out.shape[:2]
    th = max(1, round(max(h, w) / 500))
    for p in facts.persons:
        color = (0, 0, 255) if p.track_id in flagged else (0, 200, 0)
        x1, y1, x2, y2 = (int(v) for v in p.xyxy)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, th)
        cv2.putText(out, f"#{p.track_id} {p.role}", (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4 * th, color, th)
        if p.keypoints is not None and p.keypoint_conf is not None:
            kp, kc = p.keypoints, p.keypoint_conf
            for a, b in COCO_EDGES:
                if kc[a] >= KP_CONF and kc[b] >= KP_CONF:
                    cv2.line(out, (int(kp[a][0]), int(kp[a][1])), (int(kp[b][0]), int(kp[b][1])), (255, 200, 0), th)
            for i in range(len(kp)):
                if kc[i] >= KP_CONF:
                    cv2.circle(out, (int(kp[i][0]), int(kp[i][1])), th + 1, (0, 255, 255), -1)
    for o in facts.objects:
        x1, y1, x2, y2 = (int(v) for v in o.xyxy)
        color = (0, 140, 255) if o.on_desk else (160, 160, 160)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, th)
        cv2.putText(out, f"{o.class_name} {o.confidence:.2f}", (x1, min(h - 4, y2 + 12 * th)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4 * th, color, th)
    return out


def jpeg_data_uri(image: np.ndarray, max_width: int = MAX_WIDTH, quality: int = 80) -> str:
    h, w = image.shape[:2]
    if w > max_width:
        image = cv2.resize(image, (max_width, round(h * max_width / w)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OutputError("cannot encode an overlay image as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _flagged_tracks(r: ImageResult, rule: str) -> set[int]:
    return {t for f in r.findings.get(rule, []) if f["cond"] is True for t in f["track_ids"]}


def _details_text(r: ImageResult, rule: str) -> str:
    parts = []
    for f in r.findings.get(rule, []):
        state = {True: "YES", False: "no", None: "not visible"}[f["cond"]]
        det = json.dumps(f["details"], ensure_ascii=False)
        parts.append(f"{f['key']} [{state}] tracks={f['track_ids']} {det}")
    return "\n".join(parts) or "(no finding: nobody to judge)"


CSS = """body{font-family:'Noto Sans CJK SC','Noto Sans',sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}.card{display:inline-block;vertical-align:top;margin:6px;
width:660px;border:1px solid #ddd;padding:6px}.card pre{white-space:pre-wrap;font-size:11px;max-height:160px;
overflow:auto;background:#f6f6f6;margin:4px 0}h3{margin-top:1.6em}.fp{color:#b00}.fn{color:#06c}"""


def render_html(ev: ImageEval, data_dir: str | Path, title: str = "counterwatch eval images") -> str:
    """A self-contained page: per-rule table, then every FP and FN with overlays."""
    root = Path(data_dir)
    rows = []
    for rule in ev.rules:
        c = ev.counts[rule]
        rows.append(f"<tr><td>{html.escape(rule)}</td><td>{c.tp}</td><td>{c.fp}</td><td>{c.fn}</td><td>{c.tn}</td>"
                    f"<td>{c.n}</td><td>{fmt(c.precision)}</td><td>{fmt(c.recall)}</td><td>{fmt(c.f1)}</td></tr>")
    body = [f"<h1>{html.escape(title)}</h1>",
            "<p>误报 (FP) 与漏报 (FN) 一览 / False positives and false negatives, with what each rule measured. "
            "红框 = 被判违规的人 (red = flagged person), 绿框 = 其他人 (green = other people), "
            "橙框 = 桌面物品 (orange = object on a desk).</p>",
            "<table><tr><th>rule 规则</th><th>TP</th><th>FP</th><th>FN</th><th>TN</th><th>n</th>"
            "<th>precision 精确率</th><th>recall 召回率</th><th>F1</th></tr>", *rows, "</table>"]
    cache: dict[str, np.ndarray] = {}
    for rule in ev.rules:
        errors: list[tuple[str, ImageResult]] = []
        for r in ev.images:
            lab = r.labels.get(rule)
            if lab is None or r.error:
                continue
            pred = r.predicted.get(rule, False)
            if pred and not lab:
                errors.append(("FP", r))
            elif lab and not pred:
                errors.append(("FN", r))
        if not errors:
            continue
        body.append(f"<h3>{html.escape(rule)}: {sum(k == 'FP' for k, _ in errors)} FP, "
                    f"{sum(k == 'FN' for k, _ in errors)} FN</h3>")
        body.append("<pre>" + html.escape(json.dumps(ev.thresholds.get(rule, {}), ensure_ascii=False)) + "</pre>")
        for kind, r in errors:
            if r.image not in cache:
                cache[r.image] = read_image(root / r.image)
            img = draw_facts(cache[r.image], r.facts, _flagged_tracks(r, rule))
            body.append(f"<div class='card'><b class='{kind.lower()}'>{kind}</b> {html.escape(r.image)}<br>"
                        f"<img src='{jpeg_data_uri(img)}' width='640'><pre>{html.escape(_details_text(r, rule))}</pre>"
                        "</div>")
    return (f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>")


def write_html(ev: ImageEval, data_dir: str | Path, out: str | Path) -> None:
    p = Path(out)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(render_html(ev, data_dir), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{p}: cannot write the HTML page ({exc.strerror})") from None
