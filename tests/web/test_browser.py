"""End-to-end in real headless Chromium against a real uvicorn server, seeded by a real
`counterwatch analyze` run of the demo clip with configs/demo.yaml.

Steps: log in through the form; filter to one rule; review with the keyboard; open an
event; the H.264 clip plays; confirm with a reason; the quality view counts it; an admin
moves zone points (drag and numeric input) and the YAML file changes; a viewer cannot
confirm. Screenshots go to $COUNTERWATCH_ARTIFACTS_DIR; with
COUNTERWATCH_UPDATE_SCREENSHOTS=1 the list and event pages are also copied to
tests/screenshots/ for the README.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.web.conftest import DEMO_CONFIG, PASSWORD, REPO, USERS

pytestmark = [pytest.mark.browser, pytest.mark.models, pytest.mark.data, pytest.mark.timeout(300)]
CHROMIUM = "/usr/bin/chromium"
DESKTOP = {"width": 1366, "height": 768}


def _artifacts() -> Path:
    d = Path(os.environ.get("COUNTERWATCH_ARTIFACTS_DIR") or tempfile.mkdtemp(prefix="cw-artifacts-"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _demo_config(dst: Path) -> None:
    """A copy of the demo config (the zone editor writes to it), models and all."""
    shutil.copyfile(DEMO_CONFIG, dst)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo_clip, models_dir):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found (apt-get install chromium)")
    import playwright  # noqa: F401  (dev extra; a missing install fails here, never skips)
    data = tmp_path_factory.mktemp("e2e")
    cfg = data / "site.yaml"
    _demo_config(cfg)
    env = {**os.environ, "COUNTERWATCH_MODELS_DIR": str(models_dir), "PYTHONUNBUFFERED": "1"}
    run = subprocess.run([sys.executable, "-m", "pipeline.cli", "analyze", str(demo_clip), "--config", str(cfg),
                          "--out", str(data), "--no-progress", "--start", "2026-11-26T09:00:00"],
                         capture_output=True, text=True, env=env, timeout=240)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    from pipeline.events.store import EventStore
    from pipeline.web.auth import add_user

    store = EventStore.for_dir(data)
    n_unattended = len(store.list_events(rule_id="post.unattended"))
    assert n_unattended >= 1, "the demo clip should raise post.unattended"
    for name, role in USERS.items():
        add_user(store, name, role, PASSWORD)
    store.close()
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "serve", "--data", str(data), "--config", str(cfg),
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            httpx.get(base + "/login", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    yield {"base": base, "data": data, "config": cfg}
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


def _login(browser, base: str, name: str, viewport=DESKTOP):
    ctx = browser.new_context(viewport=viewport, locale="zh-CN")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "Failed to load" not in m.text else None)
    # a failed request is an error, except the live feed (503 under `serve`, no alert bus) and expected 403s
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and "/api/events/stream"
            not in r.url and r.status != 403 else None)
    page.goto(base + "/")
    assert "/login" in page.url
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")
    page.cw_errors = errors
    return ctx, page


def test_supervisor_reviews_an_event(server, browser):
    base, art = server["base"], _artifacts()
    ctx, page = _login(browser, base, "sam")
    # the quality view before
    page.goto(base + "/quality")
    row = page.locator('#by-rule tr[data-key="post.unattended"]')
    confirmed_before = int(row.locator(".n-confirmed").inner_text())
    unreviewed_before = int(row.locator(".n-unreviewed").inner_text())

    # filter to one rule; the filter is kept in the URL
    page.goto(base + "/")
    page.select_option("#f-rule", "post.unattended")
    page.click("#apply")
    page.wait_for_url("**rule=post.unattended**")
    rules = page.locator("table.events tbody td.rule a").all_inner_texts()
    assert rules and set(rules) == {"岗位无人"}
    # posts and cameras by their configured names (the id under it), in the table and the filter menus
    posts = [t.split("\n") for t in page.locator("table.events tbody td.post").all_inner_texts()]
    assert all(p[0].endswith("号窗口") and p[1].startswith("P") for p in posts), posts
    assert set(page.locator("table.events tbody td.camera").all_inner_texts()) == {"办公区 CAM 5\ncam5"}
    assert page.locator("#f-post option").all_inner_texts()[1:] == [f"{i}号窗口 (P{i})" for i in range(1, 5)]
    assert page.locator("#f-camera option").all_inner_texts()[1:] == ["办公区 CAM 5 (cam5)"]
    assert page.get_attribute("#f-since", "type") == "text" and page.get_attribute("#f-since", "placeholder") == "YYYY-MM-DD"
    assert page.locator("table.events tbody td.article").first.inner_text() == "第二十条"
    page.wait_for_function("() => document.querySelector('td.thumb img').naturalWidth > 0")
    page.screenshot(path=str(art / "review_list.png"))

    # keyboard: j selects the first row, d dismisses it with the default reason
    page.keyboard.press("j")
    first = page.locator("table.events tbody tr.ev").first
    assert "selected" in (first.get_attribute("class") or "")
    page.keyboard.press("d")
    page.wait_for_function("() => document.querySelector('table.events tbody tr.ev td.verdict').innerText.includes('已驳回')")

    # open the second event with Enter and play its clip
    page.keyboard.press("j")
    target_id = page.locator("table.events tbody tr.selected").get_attribute("data-id")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/events/{target_id}**")
    page.wait_for_function("() => document.getElementById('clip').readyState >= 2", timeout=15000)
    page.evaluate("document.getElementById('clip').play()")
    page.wait_for_function("() => document.getElementById('clip').currentTime > 0.5", timeout=15000)
    assert page.evaluate("document.getElementById('clip').error") is None
    page.evaluate("document.getElementById('clip').pause()")
    assert "第二十条" in page.locator("#article-zh").inner_text() or page.locator("#article-zh").count() == 1
    # measurements: label (with the English label under it) and value with its unit; names, not ids
    first = page.locator("#details tbody tr").first
    assert first.locator("th .muted").inner_text() and first.locator("td").inner_text()
    assert page.locator("#ev-post").inner_text().split()[0].endswith("号窗口")
    assert page.locator("#ev-camera").inner_text().startswith("办公区 CAM 5")

    # confirm with a reason
    page.check("input[name=verdict][value=confirmed]")
    page.select_option("#reason", "corrected")
    page.fill("#note", "已当场提醒")
    page.click("#submit-verdict")
    page.wait_for_selector("#saved")
    hist = page.locator("#history tbody tr").first.inner_text()
    assert "已确认" in hist and "已整改" in hist and "sam" in hist and "已当场提醒" in hist and "UTC" not in hist
    # the form shows the saved verdict, and a dismissal cannot keep the reason 确认违规
    assert page.is_checked("input[name=verdict][value=confirmed]")
    assert page.locator("#reason").input_value() == "corrected"
    assert "已确认" in page.locator("#verdict-now").inner_text()
    page.check("input[name=verdict][value=dismissed]")
    assert page.locator('#reason option[value="violation"]').is_disabled()
    assert page.locator("#reason").input_value() == "false_alarm"
    page.check("input[name=verdict][value=confirmed]")
    page.select_option("#reason", "corrected")
    page.screenshot(path=str(art / "event_page.png"), full_page=False)

    # the quality view counts it: one more confirmed, two fewer unreviewed (one dismissed by keyboard)
    page.goto(base + "/quality")
    row = page.locator('#by-rule tr[data-key="post.unattended"]')
    assert int(row.locator(".n-confirmed").inner_text()) == confirmed_before + 1
    assert int(row.locator(".n-unreviewed").inner_text()) == unreviewed_before - 2
    page.click('#by-rule tr[data-key="post.unattended"] a')
    page.wait_for_url("**verdict=dismissed**")
    assert page.locator("table.events tbody tr.ev").count() == 1

    # English switch, and the list fits a phone screen without sideways scrolling of the page
    page.click("#lang-switch")
    page.wait_for_url("**lang=en**")
    assert "Counter unattended" in page.locator("table.events").inner_text()
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(art / "review_list_phone.png"))
    # the event page in English: measurements labelled in English with units, names kept
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(base + f"/events/{target_id}?lang=en")
    labels = page.locator("#details tbody th").all_inner_texts()
    values = page.locator("#details tbody td").all_inner_texts()
    assert labels and not any(re.search(r"[\u4e00-\u9fff_]", x) for x in labels), labels
    assert page.locator("#details thead").inner_text().split() == ["Measurement", "Value"]
    assert all(values), values
    assert page.locator("#ev-camera").inner_text().startswith("办公区 CAM 5")
    page.goto(base + "/review?lang=zh")
    assert not page.cw_errors, page.cw_errors
    ctx.close()

    if os.environ.get("COUNTERWATCH_UPDATE_SCREENSHOTS") == "1":
        shots = REPO / "tests" / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        shutil.copy(art / "review_list.png", shots / "review_list.png")
        shutil.copy(art / "event_page.png", shots / "event_page.png")


def test_admin_edits_a_zone(server, browser):
    base, cfg_path, art = server["base"], server["config"], _artifacts()
    before = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
    seat_before = before["cameras"][0]["posts"][0]["seat"]
    ctx, page = _login(browser, base, "ann")
    page.goto(base + "/zones/cam5")
    page.wait_for_function("() => document.getElementById('zone-bg').naturalWidth > 0")
    page.wait_for_selector("#points tbody tr")
    # the picture is the camera frame (snapshot banner removed), so normalised zones line up
    assert page.evaluate("() => { const i = document.getElementById('zone-bg'); return i.naturalHeight / i.naturalWidth; }") \
        == pytest.approx(9 / 16, abs=0.01)
    assert page.locator("#zone-select").input_value() == "0"  # P1 seat

    # drag point 2 of P1's seat by 60 px to the left
    handle = page.locator('#zone-svg circle[data-vertex="1"]')
    box = handle.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx - 30, cy, steps=3)
    page.mouse.move(cx - 60, cy, steps=3)
    page.mouse.up()
    # and type point 1's x
    x_input = page.locator('#points input[data-vertex="0"][data-axis="0"]')
    x_input.fill("0.777")
    x_input.dispatch_event("change")
    page.click("#save-zones")
    page.wait_for_selector("#zone-status.ok")
    page.screenshot(path=str(art / "zone_editor.png"))

    after = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
    seat = after["cameras"][0]["posts"][0]["seat"]
    assert seat[0][0] == pytest.approx(0.777)
    assert seat[1][0] < seat_before[1][0] - 0.02 and seat[1][1] == pytest.approx(seat_before[1][1], abs=0.01)
    assert seat[2:] == seat_before[2:]
    assert list(cfg_path.parent.glob("site.yaml.bak-*"))
    assert not page.cw_errors, page.cw_errors
    ctx.close()


def test_viewer_cannot_confirm(server, browser):
    base = server["base"]
    ctx, page = _login(browser, base, "vic")
    assert page.locator("#bulk-confirm").count() == 0
    href = page.locator("table.events tbody td.rule a").first.get_attribute("href")
    page.goto(base + href)
    assert page.locator("#verdict-form").count() == 0 and page.locator("#readonly").is_visible()
    status = page.evaluate("""async () => {
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        const r = await fetch(location.pathname.replace('/events/', '/api/events/') + '/review', {method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
            body: JSON.stringify({verdict: 'confirmed', reason: 'violation'})});
        return r.status; }""")
    assert status == 403
    page.goto(base + "/zones/cam5")
    assert "没有权限" in page.content()
    ctx.close()


@pytest.fixture
def live_server(server):
    """The same data dir served in-process with an AlertBus, as `counterwatch run` does."""
    import threading

    import uvicorn

    from pipeline.alerts.bus import AlertBus
    from pipeline.web.app import create_app

    bus = AlertBus()
    app = create_app(server["data"], config_path=server["config"], alert_bus=bus)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield {"base": f"http://127.0.0.1:{port}", "bus": bus, "store": app.state.store}
    srv.should_exit = True
    th.join(timeout=10)


def test_live_rows_and_bulk_confirm(live_server, browser):
    import datetime as dt

    from pipeline.alerts.payload import build_alert
    from pipeline.core.types import Event

    base = live_server["base"]
    ctx, page = _login(browser, base, "sam")
    page.wait_for_function("() => document.getElementById('live').dataset.state === 'on'")
    assert page.locator("#live").inner_text().startswith("实时更新已连接")
    before = int(page.locator("#count-n").inner_text())
    ev = Event("live0001", "post.unattended", "第二十条", "cam5", "P2", (7,), "start", "high", 100.0, None,
               details={"customers_waiting": 3}, wall_start=dt.datetime(2026, 11, 26, 10, 0).timestamp())
    live_server["store"].record_event(ev)
    assert live_server["bus"].publish(build_alert(ev)) >= 1
    row = page.locator('tr[data-id="live0001"]')
    row.wait_for(timeout=10000)
    assert "fresh" in (row.get_attribute("class") or "") and "进行中" in row.inner_text()
    assert int(page.locator("#count-n").inner_text()) == before + 1

    # bulk: tick the new row and the next one, confirm both
    page.check('tr[data-id="live0001"] input.pick')
    second = page.locator("table.events tbody tr.ev").nth(1)
    second_id = second.get_attribute("data-id")
    second.locator("input.pick").check()
    assert page.locator("#selected").inner_text() == "已选 2 条"
    second_before = [r["verdict"] for r in live_server["store"].reviews(second_id)]
    # asked first: cancel changes nothing
    page.click("#bulk-confirm")
    assert page.locator("#bulk-msg").inner_text() == "将 2 条事件标记为「已确认」？"
    page.click("#bulk-cancel")
    assert page.locator("#bulk-bar").is_hidden() and live_server["store"].reviews("live0001") == []
    page.click("#bulk-confirm")
    page.click("#bulk-ok")
    for eid in ("live0001", second_id):
        page.locator(f'tr[data-id="{eid}"] td.verdict:has-text("已确认")').wait_for(timeout=10000)
    assert [r["verdict"] for r in live_server["store"].reviews("live0001")] == ["confirmed"]
    assert page.locator("#bulk-msg").inner_text() == "已将 2 条事件标记为「已确认」"
    page.screenshot(path=str(_artifacts() / "bulk_undo.png"))
    # undo: both rows get back what they had before
    page.click("#bulk-undo")
    page.locator('tr[data-id="live0001"] td.verdict:has-text("未审核")').wait_for(timeout=10000)
    assert [r["verdict"] for r in live_server["store"].reviews("live0001")] == ["confirmed", "withdrawn"]
    assert page.locator("#bulk-msg").inner_text().startswith("已撤销")
    after = live_server["store"].reviews(second_id)
    assert [r["verdict"] for r in after][: len(second_before) + 1] == second_before + ["confirmed"]
    assert after[-1]["verdict"] == (second_before[-1] if second_before else "withdrawn")
    assert not page.cw_errors, page.cw_errors
    ctx.close()
