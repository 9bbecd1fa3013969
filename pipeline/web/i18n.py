"""The web UI's language: the request's language (`?lang=`, the cookie, else Chinese),
page rendering with `t` bound to it, and the phrases for rule names, durations and the
measured values a rule stores in `details` (`format_details`).

The messages themselves and the lookup `t` are the shared catalogue, `pipeline.core.i18n`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any
from urllib.parse import urlencode

from starlette.requests import HTTPConnection

from pipeline.core.i18n import DEFAULT_LANG, LANGS, t
from pipeline.events import queries
from pipeline.rules import catalog  # noqa: F401  (registers every rule)
from pipeline.rules.articles import ARTICLES
from pipeline.rules.base import RULES
from pipeline.web.auth import current_user
from pipeline.web.names import names_of
from pipeline.web.schedule import app_schedule

LANG_COOKIE = "cw_lang"

# Reason codes for verdicts; the first of each list is the default for keyboard shortcuts.
DISMISS_REASONS = ("false_alarm", "outside_hours", "justified", "other")
CONFIRM_REASONS = ("violation", "corrected", "other")
REASONS = ("false_alarm", "outside_hours", "corrected", "justified", "other", "violation")
SEVERITIES = ("low", "medium", "high")
VERDICTS = ("confirmed", "dismissed")


def get_lang(conn: HTTPConnection) -> str:
    """`?lang=` wins, then the cookie, then Chinese."""
    q = conn.query_params.get("lang")
    if q in LANGS:
        return q
    c = conn.cookies.get(LANG_COOKIE)
    return c if c in LANGS else DEFAULT_LANG


def stored_label(prefix: str, value: Any, lang: str) -> str:
    """The message `prefix + value` for a code read from the store (a severity, a verdict reason,
    a camera state); a code the catalogue has no message for shows as that key."""
    key = f"{prefix}{value}"
    return t(key, lang, default=key)


def rule_name(rule_id: str, lang: str) -> str:
    cls = RULES.get(rule_id)
    if cls is None:
        return rule_id
    return cls.name_en if lang == "en" else cls.name_zh


def article_title(number: str, lang: str) -> str:
    a = ARTICLES.get(number)
    if a is None:
        return number
    return a.title_en if lang == "en" else a.number


def format_duration(seconds: float | None, lang: str) -> str:
    if seconds is None or not math.isfinite(seconds):
        return t("ongoing", lang)
    s = int(round(seconds))
    if s < 60:
        return f"{s} 秒" if lang == "zh" else f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} 分 {s} 秒" if lang == "zh" else f"{m} min {s} s"
    h, m = divmod(m, 60)
    return f"{h} 小时 {m} 分" if lang == "zh" else f"{h} h {m} min"


# detail key -> (zh label, en label, unit). Unit "bool" prints yes/no; "" prints the bare value.
DETAIL_PHRASES: dict[str, tuple[str, str, str]] = {
    "duration_s": ("持续", "lasted", "s"),
    "head_below_shoulder_s": ("头部低于肩线", "head below shoulder line", "s"),
    "head_below_shoulder": ("头部低于肩线", "head below shoulder line", "bool"),
    "head_drop": ("头部下垂（相对肩宽）", "head drop (× shoulder width)", "x"),
    "head_pitch_deg": ("头部俯角", "head pitch", "deg"),
    "still_s": ("静止", "motionless", "s"),
    "torso_angle_deg": ("躯干角度", "torso angle", "deg"),
    "lean_back_deg": ("后仰角度", "reclined by", "deg"),
    "tilt_deg": ("侧倾角度", "sideways tilt", "deg"),
    "slouch_deg": ("躯干倾斜", "slouch angle", "deg"),
    "knee_cross": ("双膝交叉", "knees crossed", "bool"),
    "wrist_elbow_dist": ("手腕到对侧肘距离（相对肩宽）", "wrist to opposite elbow (× shoulder width)", "x"),
    "hand_chin_dist": ("手到下巴距离（相对肩宽）", "hand to chin (× shoulder width)", "x"),
    "phone_conf": ("手机置信度", "phone confidence", "pct"),
    "phone_score": ("手机得分", "phone score", "pct"),
    "phone_to_wrist": ("手机到手腕距离（相对肩宽）", "phone to wrist (× shoulder width)", "x"),
    "items": ("物品", "items", "list"),
    "item": ("物品", "item", ""),
    "customers_waiting": ("等候客户", "customers waiting", "people"),
    "customer_count": ("柜台前客户", "customers at the counter", "people"),
    "waiting_count": ("等候人数", "people waiting", "people"),
    "threshold": ("阈值", "threshold", ""),
    "staff_count": ("聚集员工", "staff together", "people"),
    "speed_m_s": ("移动速度", "speed", "m/s"),
    "speed_px_s": ("移动速度", "speed", "px/s"),
    "speed_bw_s": ("移动速度（身宽/秒）", "speed (body widths/s)", ""),
    "absent_s": ("离岗", "away from post", "s"),
    "empty_s": ("座位空置", "seat empty", "s"),
    "a_on_leave": ("A角请假", "A on leave", "bool"),
    "duty": ("AB岗", "duty", ""),
    "late_s": ("迟到", "late by", "s"),
    "early_s": ("早退", "left early by", "s"),
    "score": ("得分", "score", "pct"),
    # keys the rulebook rules write (pipeline/rules/*.py); distances are in body scales (shoulder widths)
    "head_above_shoulder": ("头部高出肩线（身体尺度）", "head above shoulder line (body scales)", "x"),
    "head_pitch": ("低头程度（身体尺度）", "head pitched down (body scales)", "x"),
    "torso_forward_deg": ("躯干前倾", "torso bent forward", "deg"),
    "torso_lateral_deg": ("躯干侧倾", "torso tilted sideways", "deg"),
    "shoulder_tilt_deg": ("肩线倾斜", "shoulder line tilt", "deg"),
    "moved_in_window": ("窗口内有动作", "moved in the window", "bool"),
    "ankle_order": ("脚踝交叉量", "ankle crossing", "x"),
    "thigh_drop": ("大腿下落（身体尺度）", "thigh drop (body scales)", "x"),
    "wrist_to_chin": ("手腕到下巴（身体尺度）", "wrist to chin (body scales)", "x"),
    "elbow_below_wrist": ("肘低于手腕（身体尺度）", "elbow below wrist (body scales)", "x"),
    "wrist_above_nose": ("手腕高于鼻（身体尺度）", "wrist above nose (body scales)", "x"),
    "wrists_apart": ("双手间距（身体尺度）", "wrists apart (body scales)", "x"),
    "wrists_below_shoulder": ("手腕低于肩（身体尺度）", "wrists below shoulders (body scales)", "x"),
    "left_wrist_to_right_elbow": ("左腕到右肘（身体尺度）", "left wrist to right elbow (body scales)", "x"),
    "right_wrist_to_left_elbow": ("右腕到左肘（身体尺度）", "right wrist to left elbow (body scales)", "x"),
    "left_wrist_to_head": ("左腕到头（身体尺度）", "left wrist to head (body scales)", "x"),
    "right_wrist_to_head": ("右腕到头（身体尺度）", "right wrist to head (body scales)", "x"),
    "phone_to_face": ("手机到面部（身体尺度）", "phone to face (body scales)", "x"),
    "customer_present": ("柜台前有客户", "customer at the counter", "bool"),
    "cue": ("判断依据", "cue", "cue"),
    "people": ("人数", "people", "people"),
    "groups": ("聚集群数", "groups", ""),
    "speed_heights_per_s": ("移动速度（身高/秒）", "speed (body heights/s)", ""),
    "max_waiting": ("等候上限", "waiting limit", "people"),
    "count": ("数量", "count", ""),
    "confidence": ("置信度", "confidence", "pct"),
    "kind": ("类型", "kind", "cue"),
    "early_leave_s": ("早退", "left early by", "s"),
    "shift_start": ("班次开始", "shift start", ""),
    "shift_end": ("班次结束", "shift end", ""),
    "last_seen": ("最后出现", "last seen", ""),
    "a_present": ("A角在岗", "A present", "bool"),
    "b_present": ("B角在岗", "B present", "bool"),
    "duty_name": ("AB岗", "duty", ""),
    "duty_id": ("AB岗编号", "duty id", ""),
    "escalate_to": ("上报给", "escalated to", "cue"),
    # A/B duty details (pipeline/rules/roster.py): staff and posts are shown by their configured names
    "a_staff": ("A角", "A role", "staff"),
    "b_staff": ("B角", "B role", "staff"),
    "a_post": ("A角岗位", "A role's post", "post"),
    "b_post": ("B角岗位", "B role's post", "post"),
    "b_on_leave": ("B角请假", "B on leave", "bool"),
    "post_id": ("岗位", "post", "post"),
    "call_role": ("呼叫", "calls", "cue"),
    "articles": ("相关条款", "articles", "articles"),
    "closing": ("闭厅时间", "closing time", "time"),
    "day": ("日期", "day", ""),
    "last_staff_seen": ("最后见到员工", "staff last seen", "time"),
    "box": ("物品位置（像素）", "item position (pixels)", "box"),
    "phone_box_x": ("手机位置（横向，占画面宽度）", "phone position (across, share of frame width)", "pct"),
    "phone_box_y": ("手机位置（纵向，占画面高度）", "phone position (down, share of frame height)", "pct"),
    "ankle_on_other_knee": ("脚踝搭在另一膝上（身体尺度）", "ankle on the other knee (body scales)", "x"),
    "hip_width": ("髋宽（身体尺度）", "hip width (body scales)", "x"),
    "shin": ("小腿长度（身体尺度）", "shin length (body scales)", "x"),
    "shoulder_width": ("肩宽（占身高）", "shoulder width (share of body height)", "x"),
    "box_top_above_shoulder": ("检测框顶部高出肩线（身体尺度）", "box top above shoulder line (body scales)", "x"),
    "face": ("面朝", "facing", "cue"),
    "moving": ("正在移动", "moving", "bool"),
    "recline_deg": ("后仰角度", "reclined by", "deg"),
    "upright_ref_deg": ("端坐基准角度", "upright reference angle", "deg"),
    "crop_box": ("复检裁剪区域（像素）", "re-check crop (pixels)", "box"),
    "phone_box": ("手机位置（像素）", "phone position (pixels)", "box"),
    "evidence": ("出现手机的帧", "frames showing the phone", ""),
    "phone_frames_t": ("手机出现时刻（秒）", "phone seen at (s)", "list"),
    "phone_score_max": ("手机最高得分", "highest phone score", "pct"),
    "forearm_from_vertical_deg": ("前臂偏离竖直", "forearm from vertical", "deg"),
    "wrist_to_face": ("手腕到面部（身体尺度）", "wrist to face (body scales)", "x"),
    "not_visible": ("不可判断的原因", "not judged because", ""),
    "series": ("测量序列", "measurement series", "series"),
}

# keys shown through another key (a_name repeats a_staff's name, duty_id the duty's name) or not for people
HIDDEN_DETAILS = {"a_name": "a_staff", "b_name": "b_staff", "duty_id": "duty_name", "track_ids": ""}

# values of `cue` / `kind` that have words of their own
CUE_WORDS: dict[str, tuple[str, str]] = {
    "still": ("长时间静止", "motionless for a long time"),
    "head_on_arms": ("头枕在手臂上", "head resting on the arms"),
    "bent_forward": ("上身伏在桌面", "upper body bent over the desk"),
    "phone_in_hand": ("手中有手机", "phone in hand"),
    "phone_in_hand_region": ("手部区域有手机", "phone in the hand region"),
    "pose_hands_together_head_down": ("双手合拢且低头", "hands together with head down"),
    "late": ("迟到", "late"),
    "early_leave": ("早退", "left early"),
    "hall_lead": ("客服中心负责人", "hall lead"),
    "forward": ("正前方", "forward"),
    "supervisor": ("督导", "supervisor"),
    "A": ("A角", "A role"),
    "B": ("B角", "B role"),
}

_UNIT_BY_SUFFIX = (("_deg", "deg"), ("_s", "s"), ("_pct", "pct"), ("_px", "px"), ("_m", "m"), ("_count", "people"))


def _fmt_num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.3f}".rstrip("0").rstrip(".")


def _fmt_time(v: str) -> str:
    """'2026-11-26T10:02:58' / '17:30' -> the clock part (HH:MM[:SS]); other text unchanged."""
    text = v.replace("T", " ")
    return text.split(" ", 1)[1] if " " in text and len(text) >= 16 else text


def _fmt_value(v: Any, unit: str, lang: str, names: Any = None) -> str:
    if unit == "cue" and isinstance(v, str):
        words = CUE_WORDS.get(v)
        return (words[1] if lang == "en" else words[0]) if words else v
    if unit in ("staff", "post") and isinstance(v, str):
        if names is None:
            return v
        name = names.person(v) if unit == "staff" else names.post(v)
        return name if name == v else f"{name} ({v})"
    if unit == "articles" and isinstance(v, (list, tuple)):
        return ("、" if lang == "zh" else ", ").join(article_title(str(a), lang) for a in v)
    if unit == "time" and isinstance(v, str):
        return _fmt_time(v)
    if unit == "box" and isinstance(v, (list, tuple)) and len(v) == 4:
        x1, y1, x2, y2 = (round(float(x)) for x in v)
        return f"({x1}, {y1}) – ({x2}, {y2}) px"
    if unit == "series" and isinstance(v, dict):  # {"measure", "min", "median", "max", "n"} over the event
        m = DETAIL_PHRASES.get(str(v.get("measure", "")))
        sub = m[2] if m else ""
        lo, mid, hi = (_fmt_value(v.get(k), sub, lang) for k in ("min", "median", "max"))
        name = (m[1] if lang == "en" else m[0]) if m else str(v.get("measure", ""))
        n = v.get("n", "")
        return (f"{name}: {lo} – {hi}, median {mid}, {n} frames" if lang == "en"
                else f"{name}：{lo} – {hi}，中位数 {mid}，{n} 帧")
    if unit == "bool" or isinstance(v, bool):
        return t("yes" if v else "no", lang)
    if v is None:
        return t("not_visible", lang)
    if isinstance(v, (list, tuple)):
        return "、".join(map(str, v)) if lang == "zh" else ", ".join(map(str, v))
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt_value(x, '', lang)}" for k, x in v.items())
    if not isinstance(v, (int, float)):
        return str(v)
    if unit == "s":
        return format_duration(float(v), lang)
    if unit == "deg":
        return f"{round(float(v))}°"
    if unit == "pct":
        return f"{round(float(v) * 100)}%" if float(v) <= 1.0 else f"{round(float(v))}%"
    if unit == "people":
        return f"{int(v)} 人" if lang == "zh" else f"{int(v)}"
    if unit == "x":
        return f"{_fmt_num(round(float(v), 2))}×"
    if unit in ("px", "m", "m/s", "px/s"):
        return f"{_fmt_num(round(float(v), 2))} {unit}"
    return _fmt_num(round(float(v), 3)) if isinstance(v, float) else str(v)


def detail_items(details: dict[str, Any] | None, lang: str, names: Any = None) -> list[tuple[str, str, str]]:
    """[(key, label, value)] for the measured values of an event, in `lang`.

    Known keys get a label and a unit; staff and post ids become their configured names
    (`names`: a pipeline.web.names.Names); keys that repeat another one are left out.
    """
    details = details or {}
    out: list[tuple[str, str, str]] = []
    for key, value in details.items():
        shown_by = HIDDEN_DETAILS.get(key)
        if shown_by is not None and (shown_by == "" or shown_by in details):
            continue
        phrase = DETAIL_PHRASES.get(key)
        if phrase is not None:
            out.append((key, phrase[1] if lang == "en" else phrase[0], _fmt_value(value, phrase[2], lang, names)))
            continue
        unit = next((u for suf, u in _UNIT_BY_SUFFIX if key.endswith(suf)), "")
        out.append((key, key, _fmt_value(value, unit, lang, names)))
    return out


def format_details(details: dict[str, Any] | None, lang: str, names: Any = None) -> list[str]:
    """['头部低于肩线 34 秒', '躯干角度 41°'] — known keys get a phrase, others `key: value unit`."""
    return [f"{label} {value}" if key in DETAIL_PHRASES else f"{key}: {value}"
            for key, label, value in detail_items(details, lang, names)]


def format_details_bilingual(details: dict[str, Any] | None, names: Any = None) -> list[str]:
    """'头部低于肩线 34 秒 (head below shoulder line 34 s)' for each detail."""
    zh, en = format_details(details, "zh", names), format_details(details, "en", names)
    return [f"{a} ({b})" if a != b else a for a, b in zip(zh, en, strict=True)]


def local_time(iso_utc: str | None) -> str:
    """A UTC timestamp as the database stores it (naive ISO) in this machine's local time, like event times."""
    if not iso_utc:
        return ""
    try:
        v = dt.datetime.fromisoformat(iso_utc)
    except ValueError:
        return iso_utc
    if v.tzinfo is None:
        v = v.replace(tzinfo=dt.UTC)
    return v.astimezone().strftime("%Y-%m-%d %H:%M:%S")


# English error details of the API -> the key of their translation (HTML pages and the `message` of JSON errors)
ERROR_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"login required", "err_login_required"),
    (r"needs role (?P<role>\w+)", "err_needs_role"),
    (r"CSRF token missing or wrong", "err_csrf"),
    (r"event (?P<id>.+): not found", "err_event_not_found"),
    (r"not found", "err_not_found"),
    (r"(?P<field>\w+): expected a date YYYY-MM-DD, got (?P<value>.+)", "err_bad_date"),
    (r"reason '(?P<reason>\w+)' does not fit verdict '(?P<verdict>\w+)'.*", "err_reason_verdict"),
    (r"live alert feed is not running.*", "err_no_feed"),
    (r"camera (?P<id>.+): unknown", "err_unknown_camera"),
)


def translate_error(detail: Any, lang: str) -> Any:
    """The error text in `lang` when it is one of the known ones; anything else unchanged."""
    if isinstance(detail, list):
        return [translate_error(d, lang) for d in detail]
    if not isinstance(detail, str):
        return detail
    text = detail.removeprefix("Value error, ")
    for pattern, key in ERROR_PATTERNS:
        m = re.fullmatch(pattern, text)
        if m:
            kw = dict(m.groupdict())
            if key == "err_needs_role":
                kw["role"] = t("role_" + kw["role"], lang)
            if key == "err_reason_verdict":
                kw = {"reason": t("reason_" + kw["reason"], lang), "verdict": t("verdict_" + kw["verdict"], lang)}
            return t(key, lang, **kw)
    return detail


# --------------------------------------------------------------------------------------------
# page rendering: every template gets the language, `t`, the user and the CSRF token
# --------------------------------------------------------------------------------------------
_TEMPLATES = None


def templates():  # -> Jinja2Templates (imported lazily: only the web app needs Jinja)
    global _TEMPLATES
    if _TEMPLATES is None:
        from pathlib import Path

        from fastapi.templating import Jinja2Templates

        _TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
        env = _TEMPLATES.env
        env.globals.update(rule_name=rule_name, article_title=article_title, format_duration=format_duration,
                           local_time=local_time,
                           SEVERITIES=SEVERITIES, VERDICTS=VERDICTS, CONFIRM_REASONS=CONFIRM_REASONS,
                           DISMISS_REASONS=DISMISS_REASONS)
        env.globals["schedule_banner"] = schedule_banner
        env.globals["dead_letter_count"] = dead_letter_count
    return _TEMPLATES


def schedule_banner(request: Any, lang: str) -> str | None:
    """The banner text for a page, or None while every rule runs."""
    status = app_schedule(request.app)
    if status is None or status["rules_active"]:
        return None
    if status["until"] is None:
        return t("sched_no_end", lang, n=status["rules_paused"])
    when = dt.datetime.fromisoformat(status["until"])
    until = when.strftime("%a %d %b %H:%M" if lang == "en" else "%m月%d日 %H:%M") + f" ({status['timezone']})"
    return t(f"sched_{status['state']}", lang, n=status["rules_paused"], until=until)


def dead_letter_count(request: Any, user: dict[str, Any] | None) -> int:
    """Webhook dead letters, for the admin banner (0 for other roles or on a database error)."""
    if not user or user.get("role") != "admin":
        return 0
    try:
        return queries.dead_letter_count(request.app.state.store)
    except Exception:  # noqa: BLE001 - a banner must never break a page
        return 0


def render(request: Any, name: str, status_code: int = 200, **ctx: Any) -> Any:
    """A TemplateResponse with lang/t/user/csrf filled in; `?lang=` also sets the language cookie."""
    lang = get_lang(request)
    user = current_user(request)
    other = "zh" if lang == "en" else "en"
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] + [("lang", other)]
    ctx.setdefault("names", names_of(request.app))
    ctx.update(request=request, lang=lang, user=user, csrf=(user or {}).get("csrf", ""),
               switch_url="/" + request.url.path.lstrip("/\\") + "?" + urlencode(params),  # never //host
               t=lambda key, **kw: t(key, lang, **kw), label=lambda prefix, value: stored_label(prefix, value, lang))
    resp = templates().TemplateResponse(request, name, ctx, status_code=status_code)
    if request.query_params.get("lang") in LANGS and request.cookies.get(LANG_COOKIE) != lang:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True)
    return resp
