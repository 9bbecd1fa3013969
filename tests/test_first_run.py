"""First-run errors: clear, early, and all at once (`counterwatch doctor`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, timeout=120,
                          cwd=REPO, env={**os.environ, **(env or {})})


def test_analyze_of_a_missing_file_fails_first_with_one_line(tmp_path):
    out = tmp_path / "out"
    run = _cli("analyze", str(tmp_path / "nope.mp4"), str(tmp_path / "nope2.mp4"), "--config",
               str(REPO / "configs" / "demo.yaml"), "--out", str(out))
    assert run.returncode == 2
    # nothing else on stderr: no model loading, no INFO lines, and no data folder created
    assert run.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nope.mp4'}: video file not found; {tmp_path / 'nope2.mp4'}: video file not found"]
    assert not out.exists()


def test_serve_refuses_a_folder_without_a_database(tmp_path):
    for data in (tmp_path / "missing", tmp_path):
        run = _cli("serve", "--data", str(data), "--port", "0")
        assert run.returncode == 2, run.stderr
        assert run.stderr.startswith(f"error: --data {data}:") and "counterwatch analyze" in run.stderr
        assert not (data / "counterwatch.db").exists()
    assert not (tmp_path / "missing").exists()


def test_doctor_lists_everything_missing_at_once(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("site: {id: 'a b'}\nanalysis: {fps: -1}\n", encoding="utf-8")
    cfg = tmp_path / "site.yaml"
    cfg.write_text("models:\n  detector: {model: /nonexistent/det.onnx}\n  pose: {model: /nonexistent/pose.tflite}\n"
                   "  phone_cascade: {model: /nonexistent/phone.onnx}\n", encoding="utf-8")
    run = _cli("doctor", "--config", str(cfg), "--config", str(bad), "--config", str(tmp_path / "gone.yaml"),
               "--data", str(tmp_path / "nodata"), env={"COUNTERWATCH_SAMPLES_DIR": str(tmp_path / "nosamples")})
    assert run.returncode == 1
    missing = [line for line in run.stdout.splitlines() if line.startswith("MISSING")]
    text = "\n".join(missing)
    for needle in ("/nonexistent/det.onnx", "/nonexistent/pose.tflite", "/nonexistent/phone.onnx",
                   "gone.yaml", "config file not found", "field 'id'", "field 'fps'", "nodata"):
        assert needle in text, needle
    assert sum("bad.yaml" in line for line in missing) == 2  # both errors of the bad config, not just the first
    # samples, system packages and Python packages are checked in the same run
    assert {line.split()[1] for line in run.stdout.splitlines() if line[:8].strip() in ("ok", "MISSING")} >= {
        "config", "model", "sample", "system", "python", "data"}
    assert "problem(s):" in run.stdout


def test_analyze_names_every_missing_model_before_creating_the_folder(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not looked at: the models are checked first")
    cfg = tmp_path / "site.yaml"
    cfg.write_text("models:\n  detector: {model: /nonexistent/det.onnx}\n  pose: {model: /nonexistent/pose.tflite}\n",
                   encoding="utf-8")
    out = tmp_path / "out"
    run = _cli("analyze", str(clip), "--config", str(cfg), "--out", str(out))
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "/nonexistent/det.onnx" in lines[0] and "/nonexistent/pose.tflite" in lines[0]
    assert "counterwatch doctor" in lines[0] and not out.exists()
