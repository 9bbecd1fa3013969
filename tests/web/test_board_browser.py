"""The hall board in real headless Chromium against a real `counterwatch run`: the demo clip
played as a live camera through the real models, the demo hall's four posts and two A/B duties.

`/` opens on the board; every post is a tile with its name and a state from the frames
(4号窗口 stays empty in the clip, so it is away and raises post.unattended, which appears
among the open alerts with its age); duties show their coverage; the camera shows fps and
its last frame; the page takes pushes from the live feed; it fits a phone; English works.
Screenshots: $COUNTERWATCH_ARTIFACTS_DIR, and with COUNTERWATCH_UPDATE_SCREENSHOTS=1 also
tests/screenshots/board.png and board_phone.png for the README.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from tests.live.helpers import free_port, start_run, stop_run, wait_healthy
from tests.web.conftest import DEMO_CONFIG, PASSWORD, REPO
from tests.web.test_browser import CHROMIUM, _artifacts

pytestmark = [pytest.mark.browser, pytest.mark.models, pytest.mark.data, pytest.mark.timeout(420)]
WALL = {"width": 1920, "height": 1080}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def run_server(tmp_path_factory, demo_clip, models_dir):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found (apt-get install chromium)")
    from pipeline.events.store import EventStore
    from pipeline.web.auth import add_user

    root = tmp_path_factory.mktemp("board")
    cfg = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    cfg["cameras"][0]["source"] = str(demo_clip)  # played in a loop at its own pace, as a live camera
    cfg["site"]["opening_hours"] = [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                     "start": "00:00", "end": "24:00"}]  # the rules judge whenever the test runs
    cfg["site"]["breaks"] = []
    cfg_path = root / "site.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    data = root / "data"
    store = EventStore.for_dir(data)
    add_user(store, "sam", "supervisor", PASSWORD)
    store.close()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = root / "run.log"
    os.environ.setdefault("COUNTERWATCH_MODELS_DIR", str(models_dir))
    proc = start_run(cfg_path, data, port, log)
    try:
        wait_healthy(base, proc, log, timeout_s=120)
        yield {"base": base, "log": log}
    finally:
        stop_run(proc)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


# one rendering of the board: the tiles as drawn and the state they were drawn from
SHOWN = """() => {
    const L = JSON.parse(document.getElementById('board').dataset.labels);
    const tiles = Array.from(document.querySelectorAll('#board-posts .tile')).map(t => ({post: t.dataset.post,
        state: t.dataset.state, label: L[t.dataset.state], text: t.querySelector('.tile-state').innerText,
        since: t.querySelector('.tile-since').innerText}));
    const duties = window.cwBoard.duties.map(d => ({...d,
        dom: document.querySelector('#board-duties li[data-duty="' + d.duty_id + '"]').dataset.coverage}));
    return {tiles, duties};
}"""


def test_hall_board_live(run_server, browser):
    base, art = run_server["base"], _artifacts()
    ctx = browser.new_context(viewport=WALL, locale="en-US")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(base + "/")  # home of `run` is the board (after the login)
    assert "/login" in page.url
    page.fill("#username", "sam")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/board")

    # four tiles, named as in the config, in hall order; states come from real frames
    page.wait_for_function("() => document.querySelectorAll('#board-posts .tile').length === 4", timeout=30000)
    names = page.locator("#board-posts .tile .post-name").all_inner_texts()
    assert names == ["4号窗口", "3号窗口", "2号窗口", "1号窗口"]
    # the mini-map puts each post where its seat is in the picture, coloured like its tile
    pins = page.evaluate("""() => Array.from(document.querySelectorAll('.minimap .pin')).map(p => ({
        post: p.dataset.post, left: parseFloat(p.style.left), top: parseFloat(p.style.top)}))""")
    assert [p["post"] for p in sorted(pins, key=lambda p: p["left"])] == ["P4", "P3", "P2", "P1"]
    assert min(p["top"] for p in pins) == next(p["top"] for p in pins if p["post"] == "P3")  # 3号窗口 is furthest back
    # states come from real frames (the demo's empty seat is mostly away; at a few analysed frames per
    # second on a loaded machine any tile may flip, so each check reads one rendering at once)
    page.wait_for_function("() => document.querySelector('.tile[data-state=\"away\"]') !== null", timeout=90000)
    shown = page.evaluate(SHOWN)
    for p in shown["tiles"]:
        assert p["text"] == {"staffed": "在岗", "away": "离岗", "unknown": "未知"}[p["state"]] == p["label"], p
        if p["state"] == "away":
            assert p["since"].startswith("离岗自 "), p
    assert "赵磊" in page.locator('.tile[data-post="P4"] .tile-staff').inner_text()
    # A/B coverage follows the tiles it is made of
    for d in shown["duties"]:
        a, b = d["a"]["state"], d["b"]["state"]
        want = ("both" if b == "staffed" else "a") if a == "staffed" else \
            ("unknown" if "unknown" in (a, b) else ("b" if b == "staffed" else "none"))
        assert d["coverage"] == want == d["dom"], d
    d1 = page.locator('#board-duties li[data-duty="D1"]').inner_text()
    assert "赵磊" in d1 and "4号窗口" in d1

    # the empty seat raises post.unattended: an open alert with its age; pushes arrive over the live feed
    page.wait_for_function("() => document.querySelector('#board-alerts li.alert') !== null", timeout=90000)
    alert = page.evaluate("""() => { const li = document.querySelector('#board-alerts li.alert');
        return {where: li.querySelector('.alert-where').innerText, age: li.querySelector('.alert-age').innerText,
                rule: li.querySelector('.alert-rule').innerText}; }""")
    assert alert["where"].endswith("办公区 CAM 5") and alert["rule"], alert
    assert alert["age"].endswith("秒前") or alert["age"].endswith("分钟前"), alert
    assert page.locator("#board-live").get_attribute("data-state") == "on"
    page.wait_for_function("() => +(document.getElementById('board').dataset.pushes || 0) > 0", timeout=120000)
    # the camera: online, fps and last frame
    cam = page.locator('#board-cameras li[data-camera="cam5"]')
    assert "办公区 CAM 5" in cam.inner_text() and "在线" in cam.inner_text()
    page.wait_for_function("""() => /分析帧率 (0\\.[1-9]|[1-9])/.test(
        document.querySelector('#board-cameras li[data-camera="cam5"] .cam-fig').innerText)""", timeout=30000)
    assert page.locator("#board-queue").inner_text() == "—"  # the demo camera has no waiting area
    assert page.locator("#board-queue-note").inner_text().startswith("未配置等候区")
    page.screenshot(path=str(art / "board.png"))

    # a phone: one column, no sideways scrolling
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(art / "board_phone.png"), full_page=True)

    # English
    page.set_viewport_size(WALL)
    page.click("#lang-switch")
    page.wait_for_url("**lang=en**")
    page.wait_for_function("() => document.querySelectorAll('#board-posts .tile').length === 4", timeout=30000)
    for p in page.evaluate(SHOWN)["tiles"]:
        assert p["text"] == {"staffed": "Staffed", "away": "Away", "unknown": "Unknown"}[p["state"]], p
    assert page.locator("#panel-duties h2").inner_text() == "A/B coverage"
    page.goto(base + "/cameras")
    assert "Camera status" in page.content() and "online" in page.locator("#cameras").inner_text()
    assert not errors, errors
    ctx.close()

    if os.environ.get("COUNTERWATCH_UPDATE_SCREENSHOTS") == "1":
        shots = REPO / "tests" / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        shutil.copy(art / "board.png", shots / "board.png")
        shutil.copy(art / "board_phone.png", shots / "board_phone.png")
