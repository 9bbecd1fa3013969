"""Login throttling under parallel requests, password spraying across user names, and the cap
on concurrent argon2 hashes, against a real uvicorn server."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from pipeline.web.app import create_app
from pipeline.web.auth import HashGate, LoginLimiter
from tests.faults import security_helpers as sh
from tests.faults.security_helpers import serve
from tests.web.conftest import PASSWORD

sec_template, sec_dir = sh.sec_template, sh.sec_dir  # fixtures


def _parallel_logins(base: str, creds: list[tuple[str, str]]) -> list[httpx.Response]:
    def one(c: tuple[str, str]) -> httpx.Response:
        with httpx.Client(base_url=base, timeout=120) as client:
            return client.post("/api/login", json={"username": c[0], "password": c[1]})

    with ThreadPoolExecutor(len(creds)) as pool:
        return list(pool.map(one, creds))


def _app(sec_dir):
    app = create_app(sec_dir)
    app.state.auth.hashes = HashGate(2, wait_s=300, max_waiting=100)  # a loaded test machine: no 503 here
    return app


def test_parallel_wrong_passwords_are_evaluated_at_most_the_limit(sec_dir):
    app = _app(sec_dir)
    with serve(app) as base:
        answers = _parallel_logins(base, [("sam", f"wrong-{i}") for i in range(25)])
        codes = Counter(r.status_code for r in answers)
        assert codes[401] == 5 and codes[429] == 20, codes  # not 25 evaluations
        assert all(int(r.headers["retry-after"]) > 0 for r in answers if r.status_code == 429)
        # the right password is refused too until the window has passed
        r = httpx.post(f"{base}/api/login", json={"username": "sam", "password": PASSWORD})
        assert r.status_code == 429
        # another user from the same address is not locked out by sam's five failures
        assert httpx.post(f"{base}/api/login", json={"username": "vic", "password": PASSWORD}).status_code == 200


def test_password_spraying_across_user_names_is_limited_per_address(sec_dir):
    app = _app(sec_dir)
    lim: LoginLimiter = app.state.auth.limiter
    with serve(app) as base:
        answers = _parallel_logins(base, [(f"user{i}", "Winter2026!") for i in range(30)])
        codes = Counter(r.status_code for r in answers)
        assert codes[401] == lim.max_failures_per_ip == 20 and codes[429] == 10, codes
        # a name never tried before is refused from that address as well, even with the right password
        r = httpx.post(f"{base}/api/login", json={"username": "ann", "password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def test_concurrent_hashes_are_capped(sec_dir):
    app = create_app(sec_dir)
    app.state.auth.limiter = LoginLimiter(max_failures=100, max_failures_per_ip=100)
    gate = app.state.auth.hashes = HashGate(2, wait_s=300, max_waiting=100)
    with serve(app) as base:
        answers = _parallel_logins(base, [(f"user{i}", "wrong-password") for i in range(30)])
    assert Counter(r.status_code for r in answers) == {401: 30}
    assert gate.peak == 2 and gate.running == 0 and gate.refused == 0


def test_logins_beyond_the_hashing_wait_get_503_not_memory(sec_dir):
    app = create_app(sec_dir)
    app.state.auth.limiter = LoginLimiter(max_failures=100, max_failures_per_ip=100)
    gate = app.state.auth.hashes = HashGate(1, wait_s=0.05)
    with serve(app) as base:
        answers = _parallel_logins(base, [(f"user{i}", "wrong-password") for i in range(20)])
        codes = Counter(r.status_code for r in answers)
        assert set(codes) <= {401, 503} and codes[503] >= 1 and codes[401] >= 1, codes
        assert codes[503] == gate.refused and gate.peak == 1
        assert all(r.headers["retry-after"] == "5" for r in answers if r.status_code == 503)
        # a refused login does not count as a failed password: the limiter holds no pending tries
        assert not app.state.auth.limiter._pending
        assert httpx.post(f"{base}/api/login", json={"username": "ann", "password": PASSWORD}).status_code == 200


def test_a_flood_of_logins_does_not_tie_up_every_worker_thread(sec_dir):
    app = create_app(sec_dir)
    app.state.auth.limiter = LoginLimiter(max_failures=100, max_failures_per_ip=100)
    gate = app.state.auth.hashes = HashGate(1, wait_s=300, max_waiting=3)
    with serve(app) as base:
        answers = _parallel_logins(base, [(f"user{i}", "wrong-password") for i in range(12)])
    codes = Counter(r.status_code for r in answers)
    # one hashing and three waiting are always served; who comes while those four fill the gate is refused
    assert set(codes) == {401, 503} and codes[401] >= 4 and codes[503] == gate.refused >= 1, codes
    assert all(r.headers["retry-after"] == "5" for r in answers if r.status_code == 503)
    assert gate.waiting == 0 and gate.running == 0


def test_form_login_when_the_gate_is_full_says_so_in_the_page_language(sec_dir):
    import re

    from fastapi.testclient import TestClient

    app = create_app(sec_dir)
    gate = app.state.auth.hashes = HashGate(1, wait_s=0.05, max_waiting=0)
    with gate.slot(), TestClient(app) as c:  # the one slot is taken
        page = c.get("/login?lang=en")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = c.post("/login", data={"username": "ann", "password": PASSWORD, "csrf_token": token, "next": "/quality"},
                   follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?error=busy")
        assert r.headers["retry-after"] == "5"
        busy = c.get(r.headers["location"])
        assert busy.status_code == 503 and "Too many logins at once" in busy.text
        assert "同时登录的请求过多" in c.get(r.headers["location"] + "&lang=zh").text
    assert gate.refused == 1
