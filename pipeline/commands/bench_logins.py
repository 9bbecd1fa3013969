"""`counterwatch bench logins`: server memory under N parallel logins, with the argon2 hashing
cap off (`COUNTERWATCH_LOGIN_HASHES=0`) and on (the default, 2), in the same run.

Each setting starts its own `counterwatch serve` over a fresh data folder with N users, sends N
logins at once (right passwords, one per user and client address, so the throttle does not cut
the count) and
samples the server's resident memory every 10 ms. Linux only (/proc)."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pipeline.commands.bench_cmd import _bench_parser

PASSWORD = "bench-password-1"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = _bench_parser(sub).add_parser("logins", help="server memory under N parallel logins, hashing cap off and on")
    p.add_argument("--logins", type=int, default=30, help="parallel logins (default 30)")
    p.add_argument("--caps", default="0,2", help="COUNTERWATCH_LOGIN_HASHES values to compare (default 0,2)")
    p.set_defaults(func=run)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _one(n: int, cap: int, root: Path) -> dict[str, float]:
    import httpx

    from pipeline.events.store import EventStore
    from pipeline.web.auth import add_user

    data = root / f"cap{cap}"
    store = EventStore.for_dir(data)
    for i in range(n):
        add_user(store, f"user{i}", "viewer", PASSWORD)
    store.close()
    port = _port()
    env = {**os.environ, "COUNTERWATCH_LOGIN_HASHES": str(cap)}
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "serve", "--data", str(data), "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("counterwatch serve did not start")
        before = rss_mb(proc.pid)
        peak = [before]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], rss_mb(proc.pid))
                time.sleep(0.01)

        th = threading.Thread(target=sample, daemon=True)
        th.start()

        def login(i: int) -> int:  # each from its own loopback address, like clerks at their own PCs
            transport = httpx.HTTPTransport(local_address=f"127.0.{i // 250}.{i % 250 + 2}")
            with httpx.Client(base_url=base, timeout=300, transport=transport) as c:
                return c.post("/api/login", json={"username": f"user{i}", "password": PASSWORD}).status_code

        t0 = time.perf_counter()
        with ThreadPoolExecutor(n) as pool:
            codes = list(pool.map(login, range(n)))
        wall = time.perf_counter() - t0
        stop.set()
        th.join()
        return {"cap": cap, "before": before, "peak": peak[0], "after": rss_mb(proc.pid), "wall": wall,
                "ok": codes.count(200), "busy": codes.count(503), "throttled": codes.count(429)}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run(args: argparse.Namespace) -> int:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    caps = [int(c) for c in args.caps.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="cw-bench-logins-") as tmp:
        for cap in caps:
            rows.append(_one(args.logins, cap, Path(tmp)))
    print(f"{args.logins} parallel logins against `counterwatch serve` (argon2id, 64 MiB per hash)")
    print("| hashes at once | RSS before | peak RSS | RSS after | 200 | 429 | 503 | wall |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        cap = "no cap" if r["cap"] == 0 else str(r["cap"])
        print(f"| {cap} | {r['before']:.0f} MB | {r['peak']:.0f} MB | {r['after']:.0f} MB | {r['ok']} | {r['throttled']} | {r['busy']} "
              f"| {r['wall']:.1f} s |")
    return 0
