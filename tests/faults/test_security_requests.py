"""Request-level attacks against a real uvicorn server: `//other.host` paths, WebSocket
Origin, and request bodies over the size limit (declared and chunked)."""

from __future__ import annotations

import json
import re
import socket
import time

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from pipeline.alerts.bus import AlertBus
from pipeline.web.app import create_app
from pipeline.web.auth import SESSION_COOKIE
from tests.faults import security_helpers as sh
from tests.faults.security_helpers import api_login, serve

sec_template, sec_dir = sh.sec_template, sh.sec_dir  # fixtures
EVIL = "other.example"


@pytest.fixture
def base(sec_dir):
    app = create_app(sec_dir, config_path=sec_dir / "site.yaml", alert_bus=AlertBus())
    with serve(app) as url:
        yield url


@pytest.mark.parametrize("path", [f"//{EVIL}/login", f"//{EVIL}/", f"///{EVIL}/login?next=/", f"//{EVIL}/events/x",
                                  f"/\\{EVIL}/login"])
def test_double_slash_paths_never_link_to_another_host(base, path):
    for accept in ("text/html", "application/json"):
        r = httpx.get(base + path, headers={"accept": accept}, follow_redirects=False)
        assert r.status_code == 308, (path, r.status_code)
        loc = r.headers["location"]
        assert loc.startswith("/") and not loc.startswith(("//", "/\\")), loc
        r2 = httpx.get(base + loc, headers={"accept": accept}, follow_redirects=True)
        assert r2.status_code in (200, 401, 404), (loc, r2.status_code)
        for resp in (r, r2):
            links = re.findall(r'(?:href|src|action)="([^"]*)"', resp.text)
            assert links or resp.headers["content-type"].startswith("application/json")
            # a link to another host is absolute (scheme://) or protocol-relative (//, /\ in browsers)
            assert not [u for u in links if u.startswith(("//", "/\\", "\\")) or "://" in u], links
            assert not any(v.startswith("//") for v in resp.headers.values())
    # a POST to such a path is not served at all
    assert httpx.post(base + path.split("?")[0], json={}).status_code == 404


def test_login_page_language_link_stays_on_this_host(base):
    r = httpx.get(base + "/login?next=/quality", headers={"accept": "text/html"})
    link = re.search(r'id="lang-switch"|href="([^"]+)"[^>]*id="lang-switch"', r.text)
    assert r.status_code == 200 and link
    switch = re.search(r'<a class="lang" href="([^"]+)"', r.text).group(1)
    assert switch.startswith("/login?") and not switch.startswith("//")


def test_websocket_checks_origin(base):
    c, _ = api_login(base, "vic")
    cookie = {"Cookie": f"{SESSION_COOKIE}={c.cookies.get(SESSION_COOKIE)}"}
    ws_url = base.replace("http://", "ws://") + "/ws/events"
    host = base.removeprefix("http://")
    for origin in (f"http://{EVIL}", f"https://{EVIL}", f"http://{host}.{EVIL}", "null", f"ftp://{host}"):
        with pytest.raises(InvalidStatus, match="403"):  # refused at the handshake, the cookie notwithstanding
            connect(ws_url, origin=origin, additional_headers=cookie, open_timeout=10)
    with connect(ws_url, origin=f"http://{host}", additional_headers=cookie, open_timeout=10) as ws:
        ws.send('{"ping": 1}')
        assert json.loads(ws.recv(timeout=10)) == {"pong": 1}
    with connect(ws_url, additional_headers=cookie, open_timeout=10) as ws:  # no Origin: not a browser page
        ws.send('{"ping": 1}')
        assert json.loads(ws.recv(timeout=10)) == {"pong": 1}


def _raw(base: str, head: bytes) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=30)
    s.sendall(head)
    return s


def _status(s: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def test_declared_large_body_is_refused_before_it_is_read(base):
    size = 40 * 1024 * 1024
    s = _raw(base, b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Content-Length: %d\r\n\r\n" % size)
    t0 = time.monotonic()
    assert _status(s) == 413  # answered with no byte of the 40 MB body sent
    assert time.monotonic() - t0 < 10
    s.close()


def test_chunked_large_body_is_cut_off_at_the_limit(base):
    s = _raw(base, b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 65536
    sent = 0
    s.settimeout(0.05)
    status = None
    while sent < 40 * 1024 * 1024:
        try:
            s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        except OSError:  # the server closed the connection after answering
            break
        try:
            peek = s.recv(4096, socket.MSG_PEEK)
            if peek:
                break
        except (TimeoutError, BlockingIOError):
            pass
    s.settimeout(30)
    status = _status(s)
    assert status == 413, status
    assert sent < 4 * 1024 * 1024, sent  # stopped soon after 1 MiB, not at 40 MB
    s.close()


def test_limit_is_configurable_and_small_bodies_pass(sec_dir):
    app = create_app(sec_dir, max_body_bytes=4096)
    with serve(app) as base:
        big = {"username": "ann", "password": "p" * 5000}
        assert httpx.post(base + "/api/login", json=big).status_code == 413
        r = httpx.post(base + "/login", data={"username": "ann", "password": "p" * 5000, "csrf_token": "x"})
        assert r.status_code == 413
        c, csrf = api_login(base, "sam")  # a logged-in user's large verdict note is refused as well
        r = c.post("/api/events/ev_phone/review", json={"verdict": "confirmed", "note": "n" * 5000},
                   headers={"X-CSRF-Token": csrf})
        assert r.status_code == 413 and "4096" in r.json()["detail"]
        r = c.post("/api/events/ev_phone/review", json={"verdict": "confirmed", "note": "n" * 100},
                   headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200
