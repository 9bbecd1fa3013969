"""The review UI speaks in the site's names and words: post/camera/staff names instead of ids,
labelled measurements in both languages, reasons that fit the verdict, undo of a bulk verdict,
translated errors, ongoing events, local times in the verdict history."""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path

import pytest

from pipeline.core.types import Event
from pipeline.web.i18n import DETAIL_PHRASES, HIDDEN_DETAILS, detail_items, format_details, local_time
from pipeline.web.names import Names
from tests.web.conftest import DEMO_CONFIG, REPO

AB_DETAILS = {"duty_id": "D1", "duty_name": "综合业务", "a_staff": "zhao", "b_staff": "wang", "a_name": "赵磊",
              "b_name": "王强", "a_post": "P4", "b_post": "P3", "escalate_to": "hall_lead", "a_on_leave": False,
              "a_present": False, "b_present": False}


@pytest.fixture(scope="module")
def names() -> Names:
    from pipeline.settings import load_config

    return Names.from_config(load_config(DEMO_CONFIG))


def test_every_detail_key_a_rule_writes_has_a_label():
    """Scan the rules' dict literals: any string key there that reaches `details` needs a phrase."""
    not_details = {"details"}  # the roster helper nests its details under this key
    not_details |= {"measure", "min", "median", "max", "n"}  # inside details["series"] (one label for all)
    keys: set[str] = set()
    for f in (REPO / "pipeline" / "rules").glob("*.py"):
        if f.name == "upright.py":  # its dicts are the learned reference rows it stores, not event details
            continue
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict):
                keys |= {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    keys -= not_details
    unlabelled = sorted(k for k in keys if k not in DETAIL_PHRASES and k not in HIDDEN_DETAILS)
    assert unlabelled == []


def test_ab_duty_details_use_names_and_both_languages(names):
    zh = detail_items(AB_DETAILS, "zh", names)
    en = detail_items(AB_DETAILS, "en", names)
    assert [k for k, *_ in zh] == [k for k, *_ in en]
    keys = {k for k, *_ in zh}
    assert not keys & {"a_name", "b_name", "duty_id"}  # they only repeat another value
    zh_d = {k: (label, value) for k, label, value in zh}
    en_d = {k: (label, value) for k, label, value in en}
    assert zh_d["a_staff"] == ("A角", "赵磊 (zhao)") and zh_d["b_post"] == ("B角岗位", "3号窗口 (P3)")
    assert zh_d["escalate_to"] == ("上报给", "客服中心负责人")
    assert en_d["escalate_to"] == ("escalated to", "hall lead") and en_d["a_present"] == ("A present", "no")
    for label, _value in en_d.values():  # no raw keys, no Chinese words in the English labels
        assert "_" not in label and not re.search(r"[\u4e00-\u9fff]", label)
    # without a config the ids stay (nothing invented)
    assert dict((k, v) for k, _, v in detail_items(AB_DETAILS, "en"))["a_staff"] == "zhao"


@pytest.mark.parametrize("details, lang, expected", [
    ({"articles": ["第十七条", "第二十九条"]}, "en", ["articles Article 17, Article 29"]),
    ({"last_staff_seen": "2026-11-26T17:31:05"}, "zh", ["最后见到员工 17:31:05"]),
    ({"box": [10.2, 20, 110.7, 80]}, "en", ["item position (pixels) (10, 20) – (111, 80) px"]),
    ({"call_role": "B"}, "zh", ["呼叫 B角"]),
    ({"track_ids": [3]}, "zh", []),
    ({"series": {"measure": "recline_deg", "min": 3.0, "median": 12.4, "max": 21.0, "n": 14}}, "en",
     ["measurement series reclined by: 3° – 21°, median 12°, 14 frames"]),
    ({"face": "forward", "phone_score_max": 0.61}, "zh", ["面朝 正前方", "手机最高得分 61%"]),
])
def test_more_detail_phrases(details, lang, expected):
    assert format_details(details, lang) == expected


def test_local_time_of_utc_history():
    at = "2026-11-26T01:02:03"
    want = dt.datetime(2026, 11, 26, 1, 2, 3, tzinfo=dt.UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert local_time(at) == want and local_time(None) == ""


def _cells(html: str, cls: str) -> list[str]:
    return [re.sub(r"<[^>]+>", " ", c).split() for c in re.findall(rf'<td class="{cls}"[^>]*>(.*?)</td>', html, re.S)]


def test_list_filters_and_event_page_show_names(login):
    c, _ = login("sam")
    page = c.get("/").text
    posts = _cells(page, "post")
    assert sorted(p[0] for p in posts) == ["1号窗口", "2号窗口", "3号窗口"] and all(p[1].startswith("P") for p in posts)
    assert {tuple(x) for x in _cells(page, "camera")} == {("办公区", "CAM", "5", "cam5")}
    assert '<option value="P4" >4号窗口 (P4)</option>' in page
    assert '<option value="cam5" >办公区 CAM 5 (cam5)</option>' in page
    assert 'type="date"' not in page and 'placeholder="YYYY-MM-DD"' in page  # no browser-locale date widget
    ev = c.get("/events/ev_headdown").text
    assert re.search(r'id="ev-post"[^>]*>2号窗口 <span class="muted small">P2</span>', ev)
    assert re.search(r'id="ev-camera"[^>]*>办公区 CAM 5 <span class="muted small">cam5</span>', ev)
    api = c.get("/api/events/ev_headdown").json()
    assert (api["post_name"], api["camera_name"], api["ongoing"]) == ("2号窗口", "办公区 CAM 5", False)
    q = c.get("/api/quality").json()
    assert q["by_camera"][0]["label"] == "办公区 CAM 5"


def test_ab_event_page_names_staff(app, login):
    ev = Event("ev_ab", "roster.ab_both_absent", "第二十一条", "cam5", "P4", (), "end", "high", 5.0, 20.0,
               details=AB_DETAILS, wall_start=dt.datetime(2026, 11, 26, 11, 0).timestamp(), site_id="demo-hall")
    app.state.store.record_event(ev, source="batch")
    c, _ = login("sam")
    zh = c.get("/events/ev_ab").text
    table = zh.split('id="details"')[1].split("</table>")[0]
    assert "赵磊 (zhao)" in table and "4号窗口 (P4)" in table and "客服中心负责人" in table
    visible = re.sub(r"<[^>]+>", " ", table)
    assert not re.search(r"\b(a_name|b_name|a_post|b_post|hall_lead|duty_id)\b", visible)
    en = c.get("/events/ev_ab?lang=en").text
    table = en.split('id="details"')[1].split("</table>")[0]
    assert "A role" in table and "hall lead" in table and "4号窗口 (P4)" in table
    c.get("/?lang=zh")


def test_reason_must_fit_the_verdict(login):
    c, csrf = login("sam")
    h = {"X-CSRF-Token": csrf}
    r = c.post("/api/events/ev_phone/review", json={"verdict": "dismissed", "reason": "violation"}, headers=h)
    assert r.status_code == 422 and any("does not fit" in line for line in r.json()["detail"])
    assert "不能用于结论「已驳回」" in r.json()["message"][0]  # the people's message is in the UI language
    r = c.post("/api/reviews/bulk", json={"event_ids": ["ev_phone"], "verdict": "dismissed", "reason": "violation"},
               headers=h)
    assert r.status_code == 422
    r = c.post("/events/ev_phone/review", data={"verdict": "dismissed", "reason": "violation", "csrf_token": csrf},
               follow_redirects=False)
    assert r.status_code == 422
    r = c.post("/api/events/ev_phone/review", json={"verdict": "confirmed", "reason": "false_alarm"}, headers=h)
    assert r.status_code == 422
    assert c.get("/api/events/ev_phone/reviews").json() == []  # nothing was saved


def test_bulk_undo_restores_previous_verdicts(login):
    c, csrf = login("sam")
    h = {"X-CSRF-Token": csrf}
    c.post("/api/events/ev_phone/review", json={"verdict": "confirmed", "reason": "corrected", "note": "n1"}, headers=h)
    r = c.post("/api/reviews/bulk", json={"event_ids": ["ev_phone", "ev_headdown"], "verdict": "dismissed",
                                          "reason": "false_alarm"}, headers=h)
    assert r.json()["updated"] == ["ev_phone", "ev_headdown"]
    r = c.post("/api/reviews/undo", json={"event_ids": ["ev_phone", "ev_headdown", "ev_unattended"],
                                          "verdict": "dismissed"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {"restored": {"ev_phone": "confirmed", "ev_headdown": None}, "skipped": ["ev_unattended"]}
    phone = c.get("/api/events/ev_phone").json()
    assert (phone["verdict"], phone["verdict_reason"]) == ("confirmed", "corrected")
    assert c.get("/api/events/ev_headdown").json()["verdict"] is None
    none_ids = sorted(e["event_id"] for e in c.get("/api/events", params={"verdict": "none"}).json()["events"])
    assert none_ids == ["ev_headdown", "ev_unattended"]
    # the audit log keeps all of it
    assert [x["verdict"] for x in c.get("/api/events/ev_headdown/reviews").json()] == ["dismissed", "withdrawn"]
    # a second undo finds nothing to undo
    r = c.post("/api/reviews/undo", json={"event_ids": ["ev_phone", "ev_headdown"], "verdict": "dismissed"}, headers=h)
    assert r.json() == {"restored": {}, "skipped": ["ev_phone", "ev_headdown"]}
    q = {x["key"]: x for x in c.get("/api/quality").json()["by_rule"]}
    assert q["posture.head_down"]["unreviewed"] == 1 and q["phone.use"]["confirmed"] == 1


def test_errors_are_translated(login):
    vic, _ = login("vic")
    page = vic.get("/zones/cam5", headers={"accept": "text/html"})
    assert page.status_code == 403 and "需要「管理员」权限" in page.text and "needs role" not in page.text
    page = vic.get("/events/nope", headers={"accept": "text/html"})
    assert page.status_code == 404 and "未找到事件 nope" in page.text
    r = vic.get("/api/events/nope")
    assert r.json() == {"detail": "event nope: not found", "message": "未找到事件 nope"}
    r = vic.get("/api/events/nope?lang=en")
    assert r.json()["message"] == "Event nope not found"


def test_ongoing_event_shows_ongoing(app, login):
    ev = Event("ev_running", "post.unattended", "第二十条", "cam5", "P4", (), "update", "medium", 100.0, 160.0,
               details={"empty_s": 60.0}, wall_start=dt.datetime(2026, 11, 26, 12, 0).timestamp(), site_id="demo-hall")
    app.state.store.record_event(ev, source="live")
    c, _ = login("sam")
    row = c.get("/fragments/event-row/ev_running").text
    assert "进行中" in row and "1 分" not in row
    assert c.get("/api/events/ev_running").json()["ongoing"] is True
    page = c.get("/events/ev_running").text
    assert re.search(r'id="ev-duration"><span class="badge ongoing">进行中', page)


def test_history_is_in_local_time(login):
    c, csrf = login("sam")
    c.post("/api/events/ev_phone/review", json={"verdict": "confirmed", "reason": "violation"},
           headers={"X-CSRF-Token": csrf})
    at = c.get("/api/events/ev_phone/reviews").json()[0]["at"]
    page = c.get("/events/ev_phone").text
    assert f'<td class="at" title="{at} UTC">{local_time(at)}</td>' in page and " UTC</td>" not in page


def test_live_indicator_knows_what_is_pushed(web_dir, login):
    from fastapi.testclient import TestClient

    from pipeline.alerts.bus import AlertBus
    from pipeline.web.app import create_app

    c, _ = login("sam")  # the `app` fixture: no alert bus, nothing can be pushed
    assert 'data-live-mode=""' in c.get("/").text and "实时更新不可用" in c.get("/").text
    app2 = create_app(web_dir, config_path=Path(web_dir / "site.yaml"), alert_bus=AlertBus())
    with TestClient(app2) as c2:
        c2.post("/api/login", json={"username": "sam", "password": "correct-horse-1"})
        page = c2.get("/").text
        assert 'data-live-mode="tail"' in page and "跟踪数据库中的新事件" in page


def test_names_from_the_config_stored_with_the_data(web_dir):
    """`serve` without --config: the names come from the config the data folder was analysed with."""
    from fastapi.testclient import TestClient

    from pipeline.events.siteconfig import remember
    from pipeline.settings import load_config
    from pipeline.web.app import create_app

    plain = create_app(web_dir)
    with TestClient(plain) as c:
        c.post("/api/login", json={"username": "sam", "password": "correct-horse-1"})
        assert c.get("/api/events/ev_headdown").json()["post_name"] == "P2"  # nothing stored: ids
    remember(web_dir, load_config(DEMO_CONFIG), origin=str(DEMO_CONFIG), command="analyze")
    app2 = create_app(web_dir)
    with TestClient(app2) as c:
        c.post("/api/login", json={"username": "sam", "password": "correct-horse-1"})
        assert c.get("/api/events/ev_headdown").json()["post_name"] == "2号窗口"
        assert '<option value="P4" >4号窗口 (P4)</option>' in c.get("/review").text
        assert {p["name"] for p in c.get("/api/board").json()["posts"]} >= {"1号窗口", "2号窗口"}
