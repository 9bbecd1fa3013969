"""schemathesis against `counterwatch serve` (a real server over real events and the demo
site config), logged in as admin: zero 5xx and every answer as the OpenAPI document says
(status code, content type, body schema, headers). Bounded: a fixed seed and few examples per
operation, so it runs in CI in a few minutes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.faults import security_helpers as sh
from tests.faults.security_helpers import free_port
from tests.web.conftest import PASSWORD

sec_template, sec_dir = sh.sec_template, sh.sec_dir  # fixtures
REPO = Path(__file__).resolve().parents[2]
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
          "response_headers_conformance")


def test_schemathesis_finds_no_5xx_and_no_schema_mismatch(sec_dir, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "serve", "--data", str(sec_dir), "--config",
                               str(sec_dir / "site.yaml"), "--port", str(port)], cwd=REPO, stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        r = httpx.post(f"{base}/api/login", json={"username": "ann", "password": PASSWORD})
        assert r.status_code == 200, r.text
        cookie, csrf = r.cookies["cw_session"], r.json()["csrf_token"]
        st = Path(sys.executable).with_name("schemathesis")
        cmd = [str(st), "run", f"{base}/api/openapi.json", "-H", f"Cookie: cw_session={cookie}",
               "-H", f"X-CSRF-Token: {csrf}", "--checks", CHECKS, "--max-examples", "15", "--seed", "20261202",
               "--generation-database", "none", "--request-timeout", "60", "--workers", "1", "--no-shrink",
               # a stream does not end: checked by the live tests instead
               "--exclude-path", "/api/events/stream"]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                             env={**os.environ, "NO_COLOR": "1"})
        summary = res.stdout[-6000:]
        print(summary)
        assert res.returncode == 0, summary + res.stderr[-2000:]
        assert "passed" in summary.lower()
        # the session it used stayed valid throughout (nothing logged it out): every operation was really tried
        assert httpx.get(f"{base}/api/me", cookies={"cw_session": cookie}).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_openapi_documents_every_error_the_routes_answer(sec_dir):
    from fastapi.testclient import TestClient

    from pipeline.web.app import create_app

    app = create_app(sec_dir, config_path=sec_dir / "site.yaml")
    with TestClient(app) as c:
        assert c.get("/api/openapi.json").status_code == 401  # the document needs a login too
        r = c.post("/api/login", json={"username": "vic", "password": PASSWORD})
        spec = c.get("/api/openapi.json").json()
        # a document answer, checked against a real one: a verdict by a viewer is 403, with ErrorOut's body
        forbidden = c.post("/api/events/ev_phone/review", json={"verdict": "confirmed"},
                           headers={"X-CSRF-Token": r.json()["csrf_token"]})
    assert forbidden.status_code == 403 and set(forbidden.json()) == {"detail"}
    err = {"$ref": "#/components/schemas/ErrorOut"}
    ops = {(m, p): op for p, o in spec["paths"].items() for m, op in o.items()}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for (m, p), op in ops.items():
        if p not in ("/api/health", "/api/login"):
            assert op["responses"]["401"]["content"]["application/json"]["schema"] == err, (m, p)
        if "requestBody" in op:
            for code in ("400", "413", "422"):
                assert op["responses"][code]["content"]["application/json"]["schema"] == err, (m, p, code)
    assert "403" in ops[("post", "/api/events/{event_id}/review")]["responses"]
    assert "409" in ops[("put", "/api/zones/{camera_id}")]["responses"]
    assert {"401", "429", "503"} <= set(ops[("post", "/api/login")]["responses"])
    assert "video/mp4" in ops[("get", "/media/{kind}/{rel}")]["responses"]["200"]["content"]
