"""Shared fixtures. Models and footage are found through environment variables.

With COUNTERWATCH_REQUIRE_MODELS=1 (CI), a missing model or data folder FAILS the
test instead of skipping it.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest

REQUIRE = os.environ.get("COUNTERWATCH_REQUIRE_MODELS") == "1"

# A message key missing from the i18n catalogue fails the test that shows it (production
# falls back to the key with a warning); servers the tests start inherit it.
os.environ.setdefault("COUNTERWATCH_I18N_STRICT", "1")


def _need(path: Path | None, what: str) -> Path:
    if path is None or not path.exists():
        msg = f"{what} not found ({path}); set the environment variable"
        if REQUIRE:
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def models_dir() -> Path:
    env = os.environ.get("COUNTERWATCH_MODELS_DIR")
    return _need(Path(env) if env else None, "COUNTERWATCH_MODELS_DIR")


@pytest.fixture(scope="session")
def ultralytics_extra() -> None:
    """The optional `ultralytics` extra (torch and ultralytics); CI installs it, so there it must be present."""
    try:
        import torch  # noqa: F401
        import ultralytics  # noqa: F401
    except ImportError as exc:
        if REQUIRE:
            pytest.fail(f"the ultralytics extra is not installed ({exc})")
        pytest.skip("the ultralytics extra is not installed")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Root of real footage (../shared/data); the dev set is data_dir / 'dev'."""
    env = os.environ.get("COUNTERWATCH_DATA_DIR")
    return _need(Path(env) if env else None, "COUNTERWATCH_DATA_DIR")


@pytest.fixture(scope="session")
def model_file(models_dir):
    def get(name: str) -> Path:
        shipped = Path(__file__).resolve().parents[1] / "models" / name  # the project's own models (in git)
        if not (models_dir / name).exists() and shipped.is_file():
            return shipped
        return _need(models_dir / name, f"model {name}")

    return get


@pytest.fixture(scope="session")
def demo_clip(data_dir) -> Path:
    return _need(data_dir / "dev/office_cctv_unattended_seat/pgplarosa/resized_cctv_full_fast_cut.mov", "demo clip")


@pytest.fixture()
def served(tmp_path):
    """A folder served over HTTP by a thread; yields (base_url, folder)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
