"""A throwaway PostgreSQL server for the tests: initdb + pg_ctl in a temp dir, trust auth on 127.0.0.1.

initdb refuses to run as root, so under root (CI) the cluster belongs to the `postgres`
system user. With COUNTERWATCH_REQUIRE_MODELS=1 a server that cannot start FAILS the tests.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

REQUIRE = os.environ.get("COUNTERWATCH_REQUIRE_MODELS") == "1"


def _bindir() -> Path | None:
    for cand in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(cand, "initdb")):
            return Path(cand)
    exe = shutil.which("pg_config")
    if exe:
        out = subprocess.run([exe, "--bindir"], capture_output=True, text=True).stdout.strip()
        if out and os.path.exists(os.path.join(out, "initdb")):
            return Path(out)
    return None


def _unavailable(msg: str):
    if REQUIRE:
        pytest.fail(f"PostgreSQL cannot be started: {msg}")
    pytest.skip(msg)


@pytest.fixture(scope="session")
def pg_url():
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        _unavailable("psycopg2 missing: pip install counterwatch[postgres]")
    bindir = _bindir()
    if bindir is None:
        _unavailable("initdb not found (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="cw-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no 'postgres' user to own the cluster")
        os.chmod(root, 0o755)
        os.chown(root, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = root / "db"

    def run(*cmd: str) -> None:
        res = subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=120, cwd=root)
        if res.returncode != 0:
            _unavailable(f"{' '.join(cmd[:2])} failed: {res.stderr.strip()[-500:]}")

    run(str(bindir / "initdb"), "-D", str(db), "-U", "cw", "--auth=trust", "-E", "UTF8", "--no-sync")
    run(str(bindir / "pg_ctl"), "-D", str(db), "-l", str(root / "pg.log"), "-w", "-t", "60", "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    try:
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "cw", "counterwatch")
        yield f"postgresql+psycopg2://cw@127.0.0.1:{port}/counterwatch"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(db), "-m", "fast", "-w", "stop"],
                       capture_output=True, timeout=60, cwd=root)
        shutil.rmtree(root, ignore_errors=True)
