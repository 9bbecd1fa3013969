"""The day view of a post in real headless Chromium against a real `counterwatch serve`.

The data folder is the report tests' seeded hall day (real SQLite store: presence
intervals, events, verdicts) with its site config stored the way analyze/batch store it,
and the server runs without --config: post and staff names come from the stored config.
The page must answer "where was 1号窗口 between 11:00 and 11:30" (on post 17 min, away
11:05-11:18, the confirmed A/B event on the timeline), in Chinese and in English, and
follow a changed time range. With COUNTERWATCH_UPDATE_SCREENSHOTS=1 the page is copied to
tests/screenshots/day_view.png for the README.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.reports import seed
from tests.web.conftest import PASSWORD, REPO, USERS
from tests.web.test_browser import CHROMIUM, _artifacts, _free_port

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture(scope="module")
def day_server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found (apt-get install chromium)")
    import playwright  # noqa: F401  (dev extra; a missing install fails here, never skips)

    from pipeline.events import siteconfig
    from pipeline.web.auth import add_user

    data = tmp_path_factory.mktemp("day")
    store = seed.seed(data)
    for name, role in USERS.items():
        add_user(store, name, role, PASSWORD)
    store.close()
    siteconfig.remember(data, seed.config(), origin="site.yaml", command="batch", day=seed.DAY)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "serve", "--data", str(data), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(base + "/login", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    yield base
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=15)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


def _login(browser, base: str, name: str):
    ctx = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(base + "/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")
    return ctx, page, errors


def test_where_was_window_1_between_ten_and_half_past(day_server, browser):
    base, art = day_server, _artifacts()
    ctx, page, errors = _login(browser, base, "vic")
    # from the event page of the 11:06 A/B event to its post's day
    page.goto(base + "/events/ev11260002cam1")
    page.click("#day-link")
    page.wait_for_url("**/day?post=P1&date=2026-11-26**")
    assert page.locator("#day-post-name").inner_text() == "1号窗口"  # the name from the stored site config
    assert "张三" in page.locator("#day-summary").inner_text()

    # the range 11:00-11:30
    page.fill("#day-from", "11:00")
    page.fill("#day-to", "11:30")
    page.click("#day-apply")
    page.wait_for_url("**from=11%3A00**")
    answer = page.locator("#day-answer").inner_text()
    assert "1号窗口 在 11:00:00–11:30:00" in answer
    assert "在岗 17 分 0 秒" in answer and "离岗 13 分 0 秒" in answer and "11:05:00–11:18:00" in answer
    bars = page.locator("#day-timeline rect.bar")
    assert [bars.nth(i).get_attribute("data-state") for i in range(bars.count())] == ["present", "absent", "present"]
    assert bars.nth(1).get_attribute("data-start") == "11:05:00" and bars.nth(1).get_attribute("data-end") == "11:18:00"
    # the event drawn on the timeline, with its verdict, and listed below
    marks = page.locator("#day-timeline rect.mark")
    assert marks.count() == 1 and marks.first.get_attribute("data-event") == "ev11260002cam1"
    assert "v-confirmed" in (marks.first.get_attribute("class") or "")
    rows = page.locator("#day-events tbody tr")
    assert rows.count() == 1
    assert "AB角同时不在岗" in rows.first.inner_text() and "已确认" in rows.first.inner_text()
    # the away bar sits where 11:05-11:18 falls in a 30 min range (SVG width 1000)
    x, w = float(bars.nth(1).get_attribute("x")), float(bars.nth(1).get_attribute("width"))
    assert x == pytest.approx(1000 * 5 / 30, abs=1) and w == pytest.approx(1000 * 13 / 30, abs=1)
    page.screenshot(path=str(art / "day_view.png"), full_page=True)
    if os.environ.get("COUNTERWATCH_UPDATE_SCREENSHOTS") == "1":
        shutil.copy(art / "day_view.png", REPO / "tests" / "screenshots" / "day_view.png")

    # English through the language switch keeps the range
    page.click("#lang-switch")
    page.wait_for_url("**lang=en**")
    answer = page.locator("#day-answer").inner_text()
    assert "1号窗口 from 11:00:00 to 11:30:00" in answer and "on post 17 min 0 s" in answer
    assert "away 13 min 0 s" in answer
    assert "Confirmed" in page.locator("#day-events").inner_text() or "confirmed" in page.locator(
        "#day-events").inner_text().lower()

    # over lunch: away 12:00-12:40, with the confirmed unattended event; the dismissed phone event elsewhere
    page.fill("#day-from", "12:00")
    page.fill("#day-to", "13:00")
    page.click("#day-apply")
    page.wait_for_url("**from=12%3A00**")
    answer = page.locator("#day-answer").inner_text()
    assert "away 40 min 0 s" in answer and "12:00:00–12:40:00" in answer
    assert page.locator("#day-timeline rect.mark").count() == 1
    assert "Counter unattended" in page.locator("#day-events").inner_text()
    assert errors == []
    ctx.close()


def test_serve_without_config_names_posts_from_the_stored_config(day_server):
    with httpx.Client(base_url=day_server) as c:
        assert c.post("/api/login", json={"username": "vic", "password": PASSWORD}).status_code == 200
        html = c.get("/?since=2026-11-26&until=2026-11-26").text
        assert "1号窗口" in html and "2号窗口" in html


def test_day_view_needs_a_login_and_rejects_bad_input(day_server):
    r = httpx.get(day_server + "/day?post=P1", follow_redirects=False)
    assert r.status_code in (303, 401)
    with httpx.Client(base_url=day_server) as c:
        assert c.post("/api/login", json={"username": "vic", "password": PASSWORD}).status_code == 200
        assert c.get("/day?post=NOPE").status_code == 404
        assert c.get("/day?post=P1&date=2026-13-40").status_code == 422
        assert c.get("/day?post=P1&date=2026-11-26&from=11:30&to=11:00").status_code == 422
        # the dismissed 15:40 phone event stays on the timeline, shown as dismissed
        html = c.get("/day?post=P1&date=2026-11-26&from=15:00&to=16:00").text
        assert 'class="mark v-dismissed"' in html
