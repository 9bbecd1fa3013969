"""Data files are private: every file `counterwatch analyze` and `users` write is 0600 and every
folder 0700 (the database holds the password hashes), even under a permissive umask; the library
used directly does the same, and tightens files an older version left world-readable."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from pathlib import Path

from pipeline.cli import main
from pipeline.core.types import Event
from pipeline.events.chain import Made
from pipeline.events.sinks import JsonlSink
from pipeline.events.store import EventStore

REPO = Path(__file__).resolve().parents[2]
DEMO_CFG = REPO / "configs" / "demo.yaml"


def _modes(root: Path) -> dict[str, int]:
    out = {".": stat.S_IMODE(root.stat().st_mode)}
    for p in root.rglob("*"):
        out[str(p.relative_to(root))] = stat.S_IMODE(p.lstat().st_mode)
    return out


def _wide(modes: dict[str, int], root: Path) -> list[str]:
    return [f"{k}: {v:o}" for k, v in modes.items() if v != (0o700 if (root / k).is_dir() else 0o600)]


def test_analyze_and_users_write_private_files_under_umask_022(tmp_path, demo_clip, models_dir):
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "pipeline.cli", "analyze", str(demo_clip), "--config", str(DEMO_CFG),
                          "--out", str(out), "--camera", "cam5", "--fps", "1", "--no-progress"],
                         capture_output=True, text=True, timeout=900, preexec_fn=lambda: os.umask(0o022),
                         cwd=REPO)
    assert res.returncode == 0, res.stderr[-3000:]
    res = subprocess.run([sys.executable, "-m", "pipeline.cli", "users", "add", "ann", "--role", "admin",
                          "--password-stdin", "--data", str(out)], input="correct-horse-1\n", capture_output=True,
                         text=True, timeout=120, preexec_fn=lambda: os.umask(0o022), cwd=REPO)
    assert res.returncode == 0, res.stderr
    modes = _modes(out)
    for must in ("counterwatch.db", "events.jsonl", "clips", "snapshots"):
        assert must in modes, sorted(modes)
    assert any(k.endswith(".mp4") for k in modes) and any(k.endswith(".jpg") for k in modes), sorted(modes)
    assert not _wide(modes, out), _wide(modes, out)


def test_library_use_is_private_too(tmp_path, monkeypatch):
    old = os.umask(0o022)
    try:
        d = tmp_path / "a" / "data"
        store = EventStore.for_dir(d)
        store.record_event(Event("ev1", "post.unattended", "第二十条", "cam1", "P1", (1,), "end", "medium", 0.0, 5.0))
        sink = JsonlSink(d / "events.jsonl")
        sink.on_event(Event("ev1", "post.unattended", "第二十条", "cam1", "P1", (1,), "end", "medium", 0.0, 5.0),
                      Made(None, None))
        sink.close()
        modes = _modes(d)
        assert {"counterwatch.db", "counterwatch.db-wal", "counterwatch.db-shm", "events.jsonl"} <= set(modes)
        assert not _wide(modes, d), _wide(modes, d)
        assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700  # parents made here too
        store.close()
    finally:
        os.umask(old)


def test_files_left_world_readable_are_tightened(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct-horse-1\n"))
    assert main(["users", "add", "ann", "--role", "admin", "--password-stdin", "--data", str(tmp_path)]) == 0
    for name in ("counterwatch.db", "counterwatch.db-wal", "counterwatch.db-shm"):
        if (tmp_path / name).exists():
            os.chmod(tmp_path / name, 0o644)  # as an older version left them
    (tmp_path / "events.jsonl").write_text("")
    os.chmod(tmp_path / "events.jsonl", 0o644)
    store = EventStore.for_dir(tmp_path)
    JsonlSink(tmp_path / "events.jsonl").close()
    for name in ("counterwatch.db", "events.jsonl"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    for name in ("counterwatch.db-wal", "counterwatch.db-shm"):
        if (tmp_path / name).exists():
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    store.close()


def test_zone_backups_are_private(tmp_path):
    from pipeline.web.zones import write_atomic_with_backup

    cfg = tmp_path / "site.yaml"
    cfg.write_text("a: 1\n")
    os.chmod(cfg, 0o644)  # a config readable by all, as an admin may keep it
    backup = write_atomic_with_backup(cfg, "a: 2\n")
    assert backup is not None and backup.read_text() == "a: 1\n"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o644 and cfg.read_text() == "a: 2\n"  # the config keeps its mode
