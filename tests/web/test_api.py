"""HTTP-level checks of the web app: authentication on every route, roles, CSRF, login
throttling, media serving (traversal, Range), verdict history and filters."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

from tests.web.conftest import PASSWORD

PUBLIC = {"/api/health", "/login", "/api/login"}


def _fill(path: str) -> str:
    path = re.sub(r"\{[^}]+:path\}", "cam5/ev_unattended.mp4", path)
    return re.sub(r"\{[^}]+\}", "ev_unattended", path)


def all_routes(routes, prefix: str = ""):
    """(path, route) of every route, also inside included routers (FastAPI may keep them nested)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            ctx = getattr(route, "include_context", None)
            yield from all_routes(inner.routes, prefix + (getattr(ctx, "prefix", "") or ""))
        else:
            yield prefix + getattr(route, "path", ""), route


def test_every_route_refuses_anonymous_requests(app, client):
    checked = 0
    for path, route in all_routes(app.routes):
        if isinstance(route, Mount):
            assert path == "/static", f"unexpected mount {path}"
            continue
        if isinstance(route, WebSocketRoute) or (not isinstance(route, APIRoute) and not hasattr(route, "methods")):
            with pytest.raises((WebSocketDisconnect, Exception)):
                with client.websocket_connect(_fill(path)) as ws:
                    ws.receive_text()
            checked += 1
            continue
        if path in PUBLIC:
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            r = client.request(method, _fill(path), json={}, follow_redirects=False)
            assert r.status_code == 401, f"{method} {path} answered {r.status_code} to an anonymous request"
            checked += 1
    assert checked >= 20
    # an HTML page sends the browser to the login form instead
    r = client.get("/events/ev_unattended", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/events/ev_unattended")


def test_health_is_public_when_live_router_is_present(app, client):
    assert app.state.live, "pipeline.web.live_api must be mounted"
    assert client.get("/api/health").status_code == 200


@pytest.mark.parametrize("path", [
    "/media/clips/../counterwatch.db",
    "/media/clips/%2e%2e/counterwatch.db",
    "/media/clips/..%2fcounterwatch.db",
    "/media/clips/%2E%2E%2Fcounterwatch.db",
    "/media/snapshots/cam5/..%2f..%2f.session_secret",
    "/media/snapshots/%2fetc%2fpasswd",
    "/media/clips/cam5%5c..%5c..%5ccounterwatch.db",
    "/media/site.yaml/x",
    "/media/clips/",
])
def test_media_refuses_path_traversal(login, path):
    c, _ = login("vic")
    r = c.get(path)
    assert r.status_code in (404, 405), (path, r.status_code)
    assert b"SQLite format" not in r.content and b"root:" not in r.content


def test_media_refuses_symlink_out_of_the_data_dir(login, web_dir):
    (web_dir / "clips/cam5/escape.mp4").symlink_to(web_dir / "counterwatch.db")
    c, _ = login("vic")
    assert c.get("/media/clips/cam5/escape.mp4").status_code == 404


def test_clip_is_served_with_range_support(login, web_dir):
    c, _ = login("vic")
    full = c.get("/media/clips/cam5/ev_unattended.mp4")
    assert full.status_code == 200 and full.headers["content-type"] == "video/mp4"
    assert full.content == (web_dir / "clips/cam5/ev_unattended.mp4").read_bytes()
    assert full.headers.get("accept-ranges") == "bytes"
    part = c.get("/media/clips/cam5/ev_unattended.mp4", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == full.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(full.content)}"
    snap = c.get("/media/snapshots/cam5/ev_unattended.jpg")
    assert snap.status_code == 200 and snap.content[:2] == b"\xff\xd8"


def test_viewer_cannot_post_verdicts(login):
    c, csrf = login("vic")
    r = c.post("/api/events/ev_unattended/review", json={"verdict": "confirmed", "reason": "violation"},
               headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403
    r = c.post("/api/reviews/bulk", json={"event_ids": ["ev_unattended"], "verdict": "dismissed"},
               headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403
    r = c.post("/events/ev_unattended/review", data={"verdict": "confirmed", "reason": "violation",
                                                     "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 403
    assert c.get("/api/events/ev_unattended/reviews").json() == []
    page = c.get("/events/ev_unattended").text
    assert 'id="verdict-form"' not in page and 'id="readonly"' in page


def test_supervisor_cannot_change_zones(login):
    c, csrf = login("sam")
    r = c.get("/api/zones/cam5")
    assert r.status_code == 403
    r = c.put("/api/zones/cam5", json={"posts": []}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403
    assert c.get("/zones/cam5").status_code == 403


@pytest.mark.parametrize("headers", [{}, {"X-CSRF-Token": "forged"}])
def test_state_changes_need_the_csrf_token(login, headers):
    c, csrf = login("sam")
    r = c.post("/api/events/ev_unattended/review", json={"verdict": "confirmed", "reason": "violation"},
               headers=headers)
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    r = c.post("/events/ev_unattended/review", data={"verdict": "confirmed", "reason": "violation",
                                                     "csrf_token": headers.get("X-CSRF-Token", "")},
               follow_redirects=False)
    assert r.status_code == 403
    assert c.post("/logout", headers=headers, follow_redirects=False).status_code == 403
    assert c.get("/api/events/ev_unattended/reviews").json() == []
    # another user's token does not work either
    _, other = login("ann")
    r = c.post("/api/events/ev_unattended/review", json={"verdict": "confirmed", "reason": "violation"},
               headers={"X-CSRF-Token": other})
    assert r.status_code == 403


def test_login_is_rate_limited_per_user_and_ip(app):
    c = TestClient(app)
    for _ in range(5):
        assert c.post("/api/login", json={"username": "sam", "password": "wrong-pass"}).status_code == 401
    r = c.post("/api/login", json={"username": "sam", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert c.get("/api/me").status_code == 401
    # the form login is throttled as well, and other users are not affected
    tok = c.get("/login").cookies.get("cw_login_csrf") or c.cookies.get("cw_login_csrf")
    r = c.post("/login", data={"username": "sam", "password": PASSWORD, "csrf_token": tok})
    assert r.status_code == 429
    assert c.post("/api/login", json={"username": "vic", "password": PASSWORD}).status_code == 200


def test_form_login_needs_its_csrf_cookie(app):
    c = TestClient(app)
    r = c.post("/login", data={"username": "sam", "password": PASSWORD, "csrf_token": "x"}, follow_redirects=False)
    assert r.status_code == 403
    c.get("/login")
    tok = c.cookies.get("cw_login_csrf")
    r = c.post("/login", data={"username": "sam", "password": PASSWORD, "csrf_token": tok, "next": "//evil.example"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert c.get("/api/me").json() == {"username": "sam", "role": "supervisor"}


def test_tampered_or_stale_sessions_are_refused(app, login):
    from pipeline.web.auth import add_user

    c, _ = login("ann")
    good = c.cookies.get("cw_session")
    c.cookies.set("cw_session", good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"))
    assert c.get("/api/me").status_code == 401
    c.cookies.set("cw_session", good)
    assert c.get("/api/me").status_code == 200
    # a demotion takes effect at once; a password reset ends the session
    add_user(app.state.store, "ann", "viewer", PASSWORD, replace=True)
    assert c.get("/api/zones/cam5").status_code == 401


def test_verdict_history_is_kept(login):
    sam, sam_csrf = login("sam")
    ann, ann_csrf = login("ann")
    r = sam.post("/api/events/ev_headdown/review", json={"verdict": "confirmed", "reason": "violation",
                                                         "note": "sleeping"}, headers={"X-CSRF-Token": sam_csrf})
    assert r.status_code == 200
    r = ann.post("/events/ev_headdown/review", data={"verdict": "dismissed", "reason": "justified", "note": "ill",
                                                     "csrf_token": ann_csrf}, follow_redirects=False)
    assert r.status_code == 303
    hist = sam.get("/api/events/ev_headdown/reviews").json()
    assert [(h["verdict"], h["reason"], h["reviewer"], h["note"]) for h in hist] == [
        ("confirmed", "violation", "sam", "sleeping"), ("dismissed", "justified", "ann", "ill")]
    ev = sam.get("/api/events/ev_headdown").json()
    assert ev["verdict"] == "dismissed" and ev["verdict_reason"] == "justified"
    page = sam.get("/events/ev_headdown").text
    assert page.count('<tr><td class="at"') == 2 and "sleeping" in page and "ill" in page
    # the form shows the current verdict: dismissed, reason justified, and violation is not offered
    assert 'value="dismissed" checked' in page and 'value="justified" selected' in page
    assert re.search(r'<option value="violation"\s+disabled', page)


def test_unknown_reason_and_unknown_event_are_refused(login):
    c, csrf = login("sam")
    h = {"X-CSRF-Token": csrf}
    r = c.post("/api/events/ev_phone/review", json={"verdict": "confirmed", "reason": "because"}, headers=h)
    assert r.status_code == 422 and any("reason" in line for line in r.json()["detail"])
    assert c.post("/api/events/nope/review", json={"verdict": "confirmed"}, headers=h).status_code == 404
    r = c.post("/api/reviews/bulk", json={"event_ids": ["ev_phone", "nope"], "verdict": "dismissed",
                                          "reason": "false_alarm"}, headers=h)
    assert r.json() == {"updated": ["ev_phone"], "missing": ["nope"]}


def test_filters_and_quality_counts(login):
    c, csrf = login("sam")
    h = {"X-CSRF-Token": csrf}
    ids = lambda **q: sorted(e["event_id"] for e in c.get("/api/events", params=q).json()["events"])  # noqa: E731
    assert ids() == ["ev_headdown", "ev_phone", "ev_unattended"]
    assert ids(rule="phone.use") == ["ev_phone"]
    assert ids(post="P2") == ["ev_headdown"]
    assert ids(severity="high") == ["ev_headdown", "ev_phone"]
    assert ids(since="2026-11-26", until="2026-11-26") == ["ev_headdown", "ev_unattended"]
    assert ids(since="2026-11-27") == ["ev_phone"]
    assert ids(camera="cam9") == []
    assert c.get("/api/events", params={"since": "yesterday"}).status_code == 422

    c.post("/api/reviews/bulk", json={"event_ids": ["ev_phone", "ev_headdown"], "verdict": "dismissed",
                                      "reason": "false_alarm"}, headers=h)
    c.post("/api/events/ev_unattended/review", json={"verdict": "confirmed", "reason": "violation"}, headers=h)
    assert ids(verdict="dismissed") == ["ev_headdown", "ev_phone"]
    assert ids(verdict="confirmed") == ["ev_unattended"]
    assert ids(verdict="none") == []
    q = c.get("/api/quality").json()
    cam = q["by_camera"][0]
    assert (cam["key"], cam["events"], cam["confirmed"], cam["dismissed"], cam["unreviewed"]) == ("cam5", 3, 1, 2, 0)
    assert cam["fp_rate"] == pytest.approx(2 / 3)
    by_rule = {r["key"]: r for r in q["by_rule"]}
    assert by_rule["phone.use"]["fp_rate"] == 1.0 and by_rule["post.unattended"]["fp_rate"] == 0.0
    page = c.get("/quality").text
    assert "/review?verdict=dismissed&rule=phone.use" in page


def details_of(html: str) -> dict[str, tuple[str, str, str]]:
    """The 测量结果 table of an event page: key -> (label, secondary English label, value)."""
    rows = re.findall(r'<tr data-key="([^"]+)"><th scope="row">([^<]*)(?:<div class="muted small" lang="en">([^<]*)</div>)?'
                      r"</th><td>([^<]*)</td></tr>", html)
    return {k: (label, other, value) for k, label, other, value in rows}


def test_pages_render_in_chinese_and_english(login):
    c, _ = login("sam")
    zh = c.get("/events/ev_headdown").text
    assert details_of(zh) == {"head_below_shoulder_s": ("头部低于肩线", "head below shoulder line", "34 秒"),
                              "torso_angle_deg": ("躯干角度", "torso angle", "41°")}
    en_page = c.get("/events/ev_headdown?lang=en").text
    assert details_of(en_page) == {"head_below_shoulder_s": ("head below shoulder line", "", "34 s"),
                                   "torso_angle_deg": ("torso angle", "", "41°")}
    table = en_page.split('id="details"')[1].split("</table>")[0]
    assert "<th>Measurement</th>" in table and not re.search(r"[\u4e00-\u9fff]", table)  # no Chinese left
    c.get("/?lang=zh")
    assert "第五十三条" in zh and "趴伏桌面" in zh  # the article's full text
    assert 'src="/media/clips/cam5/ev_headdown.mp4"' in zh
    assert "事件审核" in zh and "Review" not in c.get("/").text.split("<main>")[0]
    en = c.get("/?lang=en")
    assert en.cookies.get("cw_lang") == "en" or c.cookies.get("cw_lang") == "en"
    assert "Counter unattended" in en.text and "Verdict" in en.text
    assert "Verdict history" in c.get("/events/ev_headdown").text  # the cookie keeps English
    row = c.get("/fragments/event-row/ev_phone").text
    assert row.strip().startswith("<tr") and "ev_phone" in row


def test_openapi_spec_is_served_to_logged_in_users(login):
    c, _ = login("vic")
    spec = c.get("/api/openapi.json").json()
    assert "/api/events" in spec["paths"] and "/api/zones/{camera_id}" in spec["paths"]
    assert "VerdictRequest" in spec["components"]["schemas"] and "EventOut" in spec["components"]["schemas"]


def test_security_headers(login):
    c, _ = login("vic")
    r = c.get("/")
    assert r.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
