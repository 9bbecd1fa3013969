"""`counterwatch users` and `counterwatch serve` command lines."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from pipeline.cli import main


def test_users_add_and_list(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret-password\n"))
    assert main(["users", "add", "ann", "--role", "admin", "--password-stdin", "--data", str(tmp_path)]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret-password\n"))
    assert main(["users", "add", "ann", "--role", "viewer", "--password-stdin", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "'ann' already exists" in err and len(err.strip().splitlines()) == 1
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["users", "add", "bob", "--role", "viewer", "--password-stdin", "--data", str(tmp_path)]) == 2
    assert "password" in capsys.readouterr().err
    assert main(["users", "list", "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ann\tadmin\t") and "bob" not in out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_a_real_server(web_dir):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "serve", "--data", str(web_dir), "--config",
                             str(web_dir / "site.yaml"), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                r = httpx.get(base + "/api/me", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert r.status_code == 401
        with httpx.Client(base_url=base) as c:
            from tests.web.conftest import PASSWORD

            assert c.post("/api/login", json={"username": "vic", "password": PASSWORD}).status_code == 200
            assert c.get("/api/events").json()["total"] == 3
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


def test_serve_with_a_bad_config_is_one_line(tmp_path, capsys):
    bad = tmp_path / "site.yaml"
    bad.write_text("cameras:\n  - id: cam1\n    posts:\n      - id: P1\n        seat: [[0, 0], [2, 0], [0, 1]]\n")
    assert main(["serve", "--data", str(tmp_path / "d"), "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "camera 'cam1'" in err and "post 'P1'" in err and "seat" in err
