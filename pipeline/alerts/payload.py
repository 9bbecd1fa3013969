"""The alert: one self-contained dict per event state, and the wire formats of each receiver.

An alert must make sense on a phone with no access to the config, so it carries the
article text (Chinese and English), the rule and post names, the site, and links to
the snapshot and the clip. WeCom and DingTalk robots take markdown; DingTalk signs
the URL (timestamp + HMAC-SHA256 of "timestamp\\nsecret"); the generic webhook signs
`<X-Counterwatch-Timestamp>.<body>` with a shared secret in `X-Counterwatch-Signature`
(`sha256=<hex>`), so a receiver that checks the timestamp is recent (`verify_body`,
5 minutes) cannot be fooled by a replayed request.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
import urllib.parse
from typing import Any

from pipeline.core.types import Event
from pipeline.events.serialize import article_en, event_of, jsonable
from pipeline.rules.articles import ARTICLES
from pipeline.rules.base import RULES

SIGNATURE_HEADER = "X-Counterwatch-Signature"
DELIVERY_HEADER = "X-Counterwatch-Delivery"
TIMESTAMP_HEADER = "X-Counterwatch-Timestamp"  # unix seconds, part of the signed text
REPLAY_WINDOW_S = 300.0
SEVERITY_ZH = {"info": "提示", "low": "低", "medium": "中", "high": "高"}
STATE_ZH = {"start": "开始", "update": "持续", "end": "结束"}


def media_url(rel: str | None, public_url: str | None) -> str | None:
    """`snapshots/x.jpg` -> `<public_url>/media/snapshots/x.jpg` (the web app's media route)."""
    if not rel:
        return None
    return f"{(public_url or '').rstrip('/')}/media/{rel.lstrip('/')}"


def build_alert(ev: Event, *, frame_s: float | None = None, evidence: dict[str, str] | None = None,
                site_name: str = "", post_name: str | None = None, camera_name: str | None = None,
                public_url: str | None = None) -> dict[str, Any]:
    """The alert dict for one event state. `frame_s` is the timestamp of the frame that raised it."""
    return alert_dict(event_of(ev, evidence=evidence), frame_s=frame_s, site_name=site_name, post_name=post_name,
                      camera_name=camera_name, public_url=public_url)


def alert_dict(d: dict[str, Any], *, frame_s: float | None = None, site_name: str = "",
               post_name: str | None = None, camera_name: str | None = None,
               public_url: str | None = None) -> dict[str, Any]:
    """The alert of an event dict (`serialize.event_of` / `serialize.event_dict`)."""
    rule = RULES.get(d["rule_id"])
    art = ARTICLES.get(d["article"])
    wall = None if d["wall_start"] is None else dt.datetime.fromisoformat(d["wall_start"]).isoformat(timespec="seconds")
    end_s = d["end_s"]
    return {
        "kind": "event",
        "event_id": d["event_id"], "state": d["state"], "rule_id": d["rule_id"],
        "rule_name_zh": rule.name_zh if rule else d["rule_id"], "rule_name_en": rule.name_en if rule else d["rule_id"],
        "article": d["article"],
        "article_zh": f"{d['article']} {art.text_zh}" if art else d["article"],
        "article_en": article_en(d["article"]),
        "site_id": d["site_id"], "site_name": site_name,
        "camera_id": d["camera_id"], "camera_name": camera_name or d["camera_id"],
        "post_id": d["post_id"], "post_name": post_name or d["post_id"],
        "severity": d["severity"], "score": round(float(d["score"]), 3),
        "start_s": round(d["start_s"], 3), "end_s": None if end_s is None else round(end_s, 3),
        "duration_s": None if end_s is None else round(end_s - d["start_s"], 1),
        "wall_start": wall, "frame_s": frame_s, "track_ids": list(d["track_ids"]),
        "details": jsonable(d["details"]),
        "snapshot": d["snapshot"], "clip": d["clip"],
        "snapshot_url": media_url(d["snapshot"], public_url),
        "clip_url": media_url(d["clip"], public_url),
        "published_at": time.time(),
    }


def markdown(alert: dict[str, Any]) -> tuple[str, str]:
    """(title, markdown body) in Chinese with the English underneath, for robot webhooks."""
    sev = alert["severity"]
    title = f"[{SEVERITY_ZH.get(sev, sev)}] {alert['rule_name_zh']} {alert.get('post_name') or ''}".strip()
    lines = [
        f"### {title} ({STATE_ZH.get(alert['state'], alert['state'])})",
        f"> {alert['rule_name_en']} · {alert['state']} · severity {sev}",
        f"- 站点 Site: {alert.get('site_name') or alert['site_id']} ({alert['site_id']})",
        f"- 摄像头 Camera: {alert.get('camera_name') or alert['camera_id']}",
        f"- 岗位 Post: {alert.get('post_name') or '-'}",
        f"- 时间 Time: {alert.get('wall_start') or '-'}"
        + (f" · 持续 {alert['duration_s']} s" if alert.get("duration_s") is not None else ""),
        f"- 条款: {alert['article_zh']}",
        f"- Article: {alert['article_en']}",
    ]
    if alert.get("snapshot_url"):
        lines.append(f"- [快照 Snapshot]({alert['snapshot_url']})")
    if alert.get("clip_url"):
        lines.append(f"- [视频 Clip]({alert['clip_url']})")
    return title, "\n".join(lines)


def sign_body(secret: str, body: bytes, timestamp: str) -> str:
    """sha256=HMAC-SHA256(secret, f"{timestamp}.{body}") in hex."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_body(secret: str, body: bytes, header: str, timestamp: str | None, *,
                max_age_s: float = REPLAY_WINDOW_S, now: float | None = None) -> bool:
    """For receivers (and tests): does the signature match this body and is its timestamp recent?"""
    try:
        age = (time.time() if now is None else now) - float(timestamp or "")
    except ValueError:
        return False
    if abs(age) > max_age_s:
        return False  # a replayed (or badly clocked) request
    return hmac.compare_digest(sign_body(secret, body, str(timestamp)), header or "")


def dingtalk_signed_url(url: str, secret: str, now_ms: int | None = None) -> str:
    """DingTalk robot signing: timestamp (ms) and sign = base64(HMAC-SHA256(secret, f"{ts}\\n{secret}"))."""
    ts = str(now_ms if now_ms is not None else int(time.time() * 1000))
    digest = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    return f"{url}{'&' if '?' in url else '?'}timestamp={ts}&sign={sign}"


def encode(kind: str, alert: dict[str, Any], url: str, secret: str | None,
           delivery_id: str) -> tuple[str, bytes, dict[str, str]]:
    """(url, body, headers) for one delivery to a receiver of `kind`."""
    headers = {"Content-Type": "application/json; charset=utf-8", DELIVERY_HEADER: delivery_id}
    if kind == "wecom":
        _, text = markdown(alert)
        body = {"msgtype": "markdown", "markdown": {"content": text}}
    elif kind == "dingtalk":
        title, text = markdown(alert)
        body = {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
        if secret:
            url = dingtalk_signed_url(url, secret)
    else:
        body = alert
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if kind == "generic" and secret:
        ts = str(int(time.time()))
        headers[TIMESTAMP_HEADER] = ts
        headers[SIGNATURE_HEADER] = sign_body(secret, raw, ts)
    return url, raw, headers
