"""`models fetch/list` against a real HTTP server on 127.0.0.1 and the project's manifest."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.core.errors import ConfigError
from pipeline.modelsfetch import MANIFEST, FetchError, ModelEntry, fetch, find_entry, load_manifest


def _entry(url: str, sha: str | None, name: str = "tiny.onnx") -> ModelEntry:
    return ModelEntry(name=name, file=name, url=url, sha256=sha, license="test", source="test")


def test_fetch_verifies_and_renames(served, tmp_path):
    base, root = served
    payload = bytes(range(256)) * 1000
    (root / "tiny.onnx").write_bytes(payload)
    dest = tmp_path / "models"
    path, digest = fetch(_entry(f"{base}/tiny.onnx", hashlib.sha256(payload).hexdigest()), dest, progress=False)
    assert path == dest / "tiny.onnx" and path.read_bytes() == payload
    assert digest == hashlib.sha256(payload).hexdigest()
    assert sorted(p.name for p in dest.iterdir()) == ["tiny.onnx"]  # no .part left behind


def test_sha_mismatch_leaves_no_file(served, tmp_path):
    base, root = served
    (root / "tiny.onnx").write_bytes(b"tampered")
    dest = tmp_path / "models"
    with pytest.raises(FetchError, match="has sha256 .* but models/manifest.yaml expects 0{64}; the file was not kept"):
        fetch(_entry(f"{base}/tiny.onnx", "0" * 64), dest, progress=False)
    assert list(dest.iterdir()) == []


def test_http_404_and_offline_are_clear(served, tmp_path):
    base, _ = served
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch(_entry(f"{base}/absent.onnx", None), tmp_path, progress=False)
    # A port nobody listens on: the same error a machine without network gets.
    with pytest.raises(FetchError, match="may be offline: copy tiny.onnx into"):
        fetch(_entry("http://127.0.0.1:9/tiny.onnx", "a" * 64), tmp_path, progress=False, timeout_s=2)
    assert not (tmp_path / "tiny.onnx").exists()


def test_unpinned_download_reports_its_hash(served, tmp_path):
    base, root = served
    (root / "w.pt").write_bytes(b"weights")
    _, digest = fetch(_entry(f"{base}/w.pt", None, "w.pt"), tmp_path, progress=False)
    assert digest == hashlib.sha256(b"weights").hexdigest()


def test_cli_fetch_through_manifest(served, tmp_path, capsys):
    base, root = served
    (root / "tiny.onnx").write_bytes(b"model bytes")
    sha = hashlib.sha256(b"model bytes").hexdigest()
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(
        f"version: 1\nmodels:\n  - name: tiny.onnx\n    file: tiny.onnx\n    url: {base}/tiny.onnx\n"
        f"    sha256: {sha}\n    license: test\n    source: local\n",
        encoding="utf-8",
    )
    dest = tmp_path / "dest"
    assert main(["models", "--manifest", str(manifest), "fetch", "tiny.onnx", "--dest", str(dest)]) == 0
    assert (dest / "tiny.onnx").read_bytes() == b"model bytes"
    assert "verified" in capsys.readouterr().out
    assert main(["models", "--manifest", str(manifest), "fetch", "nope.onnx", "--dest", str(dest)]) == 2
    assert "not in the manifest" in capsys.readouterr().err


def test_project_manifest_lists_the_model_set():
    entries = load_manifest(MANIFEST)
    names = {e.name for e in entries}
    assert {
        "yolo11n_int8.onnx",
        "yolov8n_int8.onnx",
        "pose_landmarker_full.task",
        "yolo11n-pose_int8.tflite",
        "yolo11n.pt",
        "yolo11s.pt",
        "yolo11n-pose.pt",
    } <= names
    for e in entries:
        assert e.url.startswith("https://") and e.license
        assert e.sha256 or e.notes or e.source, e.name
    assert all(find_entry(entries, n).export == "onnx" for n in ("yolo11n.pt", "yolo11s.pt", "yolo11n-pose.pt"))


def test_fp32_models_are_export_recipes_from_official_weights():
    entries = load_manifest(MANIFEST)
    for name in ("yolov8n_fp32_640.onnx", "yolo11n-pose_fp32_320_dyn.onnx"):
        e = find_entry(entries, name)
        assert e.built and e.offline.startswith(name)
        weights = find_entry(entries, e.recipe["weights"])
        assert weights.url.startswith("https://github.com/ultralytics/assets/releases/")
    assert find_entry(entries, "yolo11n-pose_fp32_320_dyn.onnx").recipe == {
        "weights": "yolo11n-pose.pt", "imgsz": 320, "dynamic": True, "opset": 17}


def test_bad_recipe_names_entry_and_field(tmp_path):
    f = tmp_path / "m.yaml"
    f.write_text("models:\n  - {name: a.onnx, file: a.onnx, url: u, license: l, source: s, recipe: {weights: a.pt}}\n")
    with pytest.raises(ConfigError, match=r"models\[0\] \(a.onnx\): field 'recipe.imgsz'"):
        load_manifest(f)


@pytest.mark.models
def test_shared_models_match_manifest(models_dir, monkeypatch, capsys):
    monkeypatch.setenv("COUNTERWATCH_MODELS_DIR", str(models_dir))
    assert main(["models", "list", "--verify"]) == 0
    out = capsys.readouterr().out
    for name in ("yolo11n_int8.onnx", "yolov8n_int8.onnx", "pose_landmarker_full.task", "yolo11n-pose_int8.tflite"):
        line = next(ln for ln in out.splitlines() if ln.startswith(name))
        assert "found" in line and "sha256 ok" in line and str(models_dir) in line


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models: 3\n", "expected a mapping with a 'models' list"),
        ("models:\n  - name: a\n", "models\\[0\\] \\(a\\): field 'file' is required"),
        ("models:\n  - {name: a, file: a, url: u, license: l, source: s, sha256: xyz}\n", "not 64 lowercase hex"),
        (
            "models:\n  - {name: a, file: a, url: u, license: l, source: s, colour: red}\n",
            "unknown field\\(s\\) colour",
        ),
    ],
)
def test_bad_manifest_names_entry_and_field(tmp_path: Path, text, message):
    p = tmp_path / "m.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_manifest(p)
