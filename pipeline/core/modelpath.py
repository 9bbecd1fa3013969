"""Find model files: COUNTERWATCH_MODELS_DIR, then the project's models/ folder."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.core.errors import ModelNotFoundError

PROJECT_MODELS = Path(__file__).resolve().parents[2] / "models"


def models_dirs() -> list[Path]:
    dirs = []
    env = os.environ.get("COUNTERWATCH_MODELS_DIR")
    if env:
        dirs.append(Path(env))
    dirs.append(PROJECT_MODELS)
    return dirs


def resolve_model(name: str, *, what: str = "model") -> Path:
    """A path or a bare file name looked up in the models directories."""
    p = Path(name)
    if p.is_absolute() or p.parent != Path("."):
        if p.is_file():
            return p
        raise ModelNotFoundError(f"{what} file {p} not found")
    for d in models_dirs():
        cand = d / name
        if cand.is_file():
            return cand
    looked = ", ".join(str(d) for d in models_dirs())
    raise ModelNotFoundError(
        f"{what} {name!r} not found in {looked}; set COUNTERWATCH_MODELS_DIR to a folder that holds it "
        f"or run `counterwatch models fetch {name}` (models/manifest.yaml lists its URL and sha256)"
    )
