"""One rule for relative camera sources: against the config file's folder (through a symlink),
never the working directory; the demo config's clip comes from the sample folder or its
mirror; `still_frame` reads one clean frame through the sources package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import samples
from pipeline.core.errors import SourceError
from pipeline.core.fetch import sha256_file
from pipeline.settings import load_config
from pipeline.sources import config_dir, resolve_source, still_frame

PROJECT = Path(__file__).resolve().parents[2]
DEMO_CFG = PROJECT / "configs" / "demo.yaml"


def test_relative_sources_are_relative_to_the_config_file(tmp_path, monkeypatch):
    site = tmp_path / "etc" / "site"
    (site / "videos").mkdir(parents=True)
    cfg = site / "site.yaml"
    cfg.write_text("cameras: []\n")
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    base = config_dir(cfg)
    assert base == site.resolve()
    assert resolve_source("videos/a.mp4", base) == str(site.resolve() / "videos/a.mp4")
    assert resolve_source("../b.mp4", base) == str(site.resolve().parent / "b.mp4")
    for spec in ("rtsp://10.0.0.5/stream1", "https://cam/x.m3u8", "webcam:0", "/abs/c.mp4", ""):
        assert resolve_source(spec, base) == spec
    # a symlinked config: relative to the folder of the file it points at
    link_dir = tmp_path / "links"
    link_dir.mkdir()
    os.symlink(cfg, link_dir / "site.yaml")
    assert config_dir(link_dir / "site.yaml") == site.resolve()
    assert resolve_source("videos/a.mp4", None) == "videos/a.mp4"  # no file: as given


def _demo_copy(tmp_path: Path, monkeypatch, data_dir: Path) -> Path:
    """configs/demo.yaml in a project copy whose sample folder is empty: the clip must come from the mirror."""
    proj = tmp_path / "proj"
    (proj / "configs").mkdir(parents=True)
    (proj / "sample_videos").mkdir()
    shutil.copy(DEMO_CFG, proj / "configs" / "demo.yaml")
    monkeypatch.setattr(samples, "SAMPLES_DIR", proj / "sample_videos")
    monkeypatch.setenv("COUNTERWATCH_SAMPLES_DIR", str(data_dir))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return proj / "configs" / "demo.yaml"


def test_demo_config_from_another_directory_reaches_the_clip(tmp_path, monkeypatch, data_dir, demo_clip):
    cfg_path = _demo_copy(tmp_path, monkeypatch, data_dir)
    cfg = load_config(cfg_path)
    cam = cfg.camera("cam5")
    assert not Path(cam.source).is_absolute()
    spec = resolve_source(cam.source, config_dir(cfg_path))
    assert Path(spec) == demo_clip and sha256_file(Path(spec)) == samples.manifest()[0]["sha256"]
    img = still_frame(cam, config_dir(cfg_path))
    assert img.shape == (900, 1600, 3) and img.std() > 10  # a real picture, full size
    # once fetched into the sample folder, that copy is used
    shutil.copy(demo_clip, samples.SAMPLES_DIR / "office_cctv_cam5.mov")
    assert resolve_source(cam.source, config_dir(cfg_path)) == str(
        (samples.SAMPLES_DIR / "office_cctv_cam5.mov").resolve()
    )
    # the live runner resolves the same way
    from pipeline.events.store import EventStore
    from pipeline.live.runner import LiveRunner

    store = EventStore.for_dir(tmp_path / "data")
    try:
        runner = LiveRunner(cfg, tmp_path / "data", store, config_dir=config_dir(cfg_path))
        assert runner.sources == {"cam5": str((samples.SAMPLES_DIR / "office_cctv_cam5.mov").resolve())}
    finally:
        store.close()


def test_still_frame_errors_name_the_camera(tmp_path):
    from pipeline.config.models import CameraConfig

    with pytest.raises(SourceError, match=r"camera 'c1' field source: .*nope\.mp4 does not exist"):
        still_frame(CameraConfig(id="c1", source="nope.mp4"), tmp_path)
    with pytest.raises(SourceError, match="camera 'c1' field source: empty"):
        still_frame(CameraConfig(id="c1"), tmp_path)
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"not a picture")
    with pytest.raises(SourceError, match="camera 'c1'"):
        still_frame(CameraConfig(id="c1", source="imgs"), tmp_path)


@pytest.mark.models
@pytest.mark.data
def test_analyze_without_videos_reads_the_camera_source(tmp_path, data_dir, models_dir, demo_clip):
    """`counterwatch analyze --config .../demo.yaml` from another folder finds the demo clip by itself."""
    cfg_dir = tmp_path / "cfg"
    (cfg_dir / "clips").mkdir(parents=True)
    cfg = cfg_dir / "site.yaml"
    cfg.write_text(
        DEMO_CFG.read_text(encoding="utf-8").replace(
            "source: ../sample_videos/office_cctv_cam5.mov", "source: clips/office_cctv_cam5.mov"
        )
    )
    shutil.copy(demo_clip, cfg_dir / "clips" / "office_cctv_cam5.mov")
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "analyze",
            "--config",
            str(cfg),
            "--out",
            "out",
            "--fps",
            "1",
            "--no-progress",
        ],
        cwd=run_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"{cfg_dir / 'clips' / 'office_cctv_cam5.mov'}: " in r.stdout and "frames" in r.stdout, r.stdout
    assert (run_dir / "out" / "counterwatch.db").is_file()
    # a missing source is one line naming the camera and the resolved path, before any model is loaded
    (cfg_dir / "clips" / "office_cctv_cam5.mov").unlink()
    r = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "analyze", "--config", str(cfg), "--out", "out2"],
        cwd=run_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "camera 'cam5' field source:" in r.stderr and "does not exist" in r.stderr, r.stderr
    assert not (run_dir / "out2").exists()


def test_config_check_notes_a_missing_source_file(tmp_path, monkeypatch, capsys):
    from pipeline.cli import main

    d = tmp_path / "etc"
    d.mkdir()
    (d / "v.mp4").write_bytes(b"x")
    cfg = d / "site.yaml"
    cfg.write_text("cameras:\n  - {id: a, source: v.mp4}\n  - {id: b, source: gone.mp4}\n"
                   "  - {id: c, source: 'rtsp://10.0.0.9/s'}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["config", "check", str(cfg)]) == 0
    out = capsys.readouterr().out
    notes = [ln for ln in out.splitlines() if ln.startswith("note:")]
    assert notes == [f"note: camera 'b' field source: {d.resolve() / 'gone.mp4'} does not exist "
                     "(needed by `run` and by `analyze` without a VIDEO)"], out
