"""site.timezone: validated, applied to the process clock, and the schedule that says when
rules are inactive (outside opening hours, breaks) and until when: start-up line of
`counterwatch run`, /api/health and the UI banner."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.config.schedule import describe, schedule_status
from pipeline.core.errors import ConfigError
from pipeline.core.sitetime import site_now
from pipeline.settings import load_config, parse_config

PROJECT = Path(__file__).resolve().parents[1]
DEMO = PROJECT / "configs" / "demo.yaml"  # mon-fri 08:30-17:30, break 12:00-13:00


def test_timezone_is_validated():
    cfg = parse_config("site: {timezone: Asia/Shanghai}\n")
    assert cfg.site.timezone == "Asia/Shanghai"
    assert parse_config("site: {}\n").site.timezone is None
    for bad in ("Mars/Olympus", "../../etc/passwd", "", "UTC+8"):
        with pytest.raises(ConfigError) as exc:
            parse_config(f"site: {{timezone: {bad!r}}}\n", origin="site.yaml")
        msg = str(exc.value)
        assert msg.startswith("site.yaml: site field 'timezone'") and "IANA" in msg, msg


@pytest.mark.parametrize(
    "now,state,paused,until",
    [
        ("2026-11-26T20:00", "closed", True, "2026-11-27T08:30"),  # Thursday evening -> Friday morning
        ("2026-11-27T18:00", "closed", True, "2026-11-30T08:30"),  # Friday evening -> Monday
        ("2026-11-28T10:00", "closed", True, "2026-11-30T08:30"),  # Saturday
        ("2026-11-26T12:30", "break", True, "2026-11-26T13:00"),
        ("2026-11-26T10:00", "open", False, "2026-11-26T12:00"),  # next change: the break
        ("2026-11-26T08:29", "closed", True, "2026-11-26T08:30"),
    ],
)
def test_schedule_says_until_when(now, state, paused, until):
    cfg = load_config(DEMO)
    s = schedule_status(cfg, dt.datetime.fromisoformat(now))
    assert (s["state"], not s["rules_active"], s["until"]) == (state, paused, until), s
    line = describe(s)
    if paused:
        assert s["rules_paused"] > 0 and f"until {until.replace('T', ' ')}" in line, line
    else:
        assert line is None


def test_rules_that_always_run_are_never_reported_paused():
    raw = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    from pipeline.rules import catalog  # noqa: F401
    from pipeline.rules.base import RULES

    raw["rules"] = {rid: {"active": "always", "skip_breaks": False} for rid in RULES}
    cfg = parse_config(yaml.safe_dump(raw, allow_unicode=True))
    s = schedule_status(cfg, dt.datetime(2026, 11, 28, 23, 0))
    assert s["state"] == "closed" and s["rules_active"] and s["rules_paused"] == 0 and describe(s) is None


def test_site_now_follows_the_site_zone():
    a = site_now(parse_config("site: {timezone: Asia/Shanghai}\n").site)
    b = site_now(parse_config("site: {timezone: America/New_York}\n").site)
    hours = round((a - b).total_seconds() / 3600)
    assert hours in (12, 13), (a, b)  # +8 vs -5/-4 (daylight saving)


def test_use_site_timezone_sets_the_process_clock(tmp_path):
    """Epoch seconds of live frames become the hall's wall time (and stay so in child processes)."""
    cfg = tmp_path / "site.yaml"
    cfg.write_text("site: {timezone: Asia/Kolkata}\n")
    code = (
        "import datetime as dt, subprocess, sys;"
        "from pipeline.settings import load_config;"
        "from pipeline.core.sitetime import use_site_timezone;"
        f"use_site_timezone(load_config({str(cfg)!r}));"
        "print(dt.datetime.fromtimestamp(0).isoformat());"
        "print(subprocess.run([sys.executable, '-c', 'import datetime as dt;"
        "print(dt.datetime.fromtimestamp(0).isoformat())'], capture_output=True, text=True).stdout.strip())"
    )
    env = {**os.environ, "TZ": "UTC", "PYTHONPATH": str(PROJECT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1970-01-01T05:30:00", "1970-01-01T05:30:00"], out.stdout


def _closed_now_config(tmp_path: Path, source: str) -> tuple[Path, str]:
    """Opening hours of one hour, 12 h away from now on the site clock: closed now, open at a known time."""
    tz = "Asia/Shanghai"
    now = dt.datetime.now(__import__("zoneinfo").ZoneInfo(tz)).replace(tzinfo=None)
    opens = (now + dt.timedelta(hours=12)).replace(minute=0, second=0, microsecond=0)
    end = opens + dt.timedelta(hours=1)
    assert end.date() == opens.date() or end.hour == 0
    raw = {
        "version": 1,
        "site": {
            "id": "tz-hall",
            "timezone": tz,
            "opening_hours": [
                {
                    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                    "start": opens.strftime("%H:%M"),
                    "end": "24:00" if end.hour == 0 else end.strftime("%H:%M"),
                }
            ],
        },
        "models": {
            "detector": {"type": "yolo_onnx", "model": "yolo11n_int8.onnx"},
            "pose": {"type": "none"},
            "phone_cascade": {"enabled": False},
        },
        "cameras": [
            {
                "id": "desk",
                "source": source,
                "posts": [{"id": "P1", "seat": [[0.0, 0.0], [0.06, 0.0], [0.06, 0.06], [0.0, 0.06]]}],
            }
        ],
    }
    p = tmp_path / "site.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return p, opens.isoformat(timespec="minutes")


def test_banner_and_health_say_rules_are_inactive(tmp_path):
    from fastapi.testclient import TestClient

    from pipeline.events.store import EventStore
    from pipeline.web.app import create_app
    from pipeline.web.auth import add_user

    cfg, opens = _closed_now_config(tmp_path, "x.mp4")
    data = tmp_path / "data"
    store = EventStore.for_dir(data)
    add_user(store, "vic", "viewer", "viewer-password")
    store.close()
    app = create_app(data, config_path=cfg)
    with TestClient(app) as c:
        h = c.get("/api/health").json()
        assert h["schedule"]["state"] == "closed" and h["schedule"]["rules_active"] is False
        assert h["schedule"]["until"] == opens and h["schedule"]["timezone"] == "Asia/Shanghai"
        assert 'id="schedule-banner"' not in c.get("/login").text  # nothing before a login
        c.post("/api/login", json={"username": "vic", "password": "viewer-password"})
        when = dt.datetime.fromisoformat(opens)
        zh = c.get("/?lang=zh").text
        assert 'id="schedule-banner"' in zh and "当前为非营业时间" in zh and when.strftime("%H:%M") in zh
        en = c.get("/?lang=en").text
        assert "Outside opening hours" in en and f"until {when.strftime('%a %d %b %H:%M')} (Asia/Shanghai)" in en


@pytest.mark.models
@pytest.mark.data
@pytest.mark.timeout(180)
def test_run_says_at_start_up_that_rules_are_inactive(tmp_path, data_dir, models_dir):
    from tests.live.helpers import DESK, free_port, start_run, stop_run, wait_healthy

    cfg, opens = _closed_now_config(tmp_path, str(data_dir / DESK))
    port = free_port()
    log = tmp_path / "run.log"
    proc = start_run(cfg, tmp_path / "data", port, log)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, log)
        import time

        deadline = time.time() + 20
        while "rules inactive" not in log.read_text() and time.time() < deadline:
            time.sleep(0.2)
        text = log.read_text()
        assert "counterwatch: rules inactive (outside opening hours)" in text, text[-2000:]
        assert f"until {opens.replace('T', ' ')} Asia/Shanghai" in text, text[-2000:]
    finally:
        assert stop_run(proc) == 0, log.read_text()[-2000:]
