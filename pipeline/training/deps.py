"""The optional training dependencies, with one clear message when they are missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.core.errors import ConfigError
from pipeline.core.modelpath import models_dirs

INSTALL_HINT = "pip install 'counterwatch[ultralytics]' (it brings torch and ultralytics)"


def ultralytics() -> Any:
    """The ultralytics module, or a ConfigError that says how to install it."""
    try:
        import torch  # noqa: F401  (lazy: torch comes with the ultralytics extra)
        import ultralytics as ul
    except ImportError as exc:
        raise ConfigError(f"training needs torch and ultralytics ({exc.name} is missing): {INSTALL_HINT}") from exc
    return ul


def load_yolo(path: str | Path, what: str = "checkpoint") -> Any:
    """An Ultralytics YOLO model from a .pt file; a missing file says how to get one."""

    p = Path(path)
    if not p.is_file():
        cands = [d / p.name for d in models_dirs()] if p.parent == Path(".") else []
        found = [c for c in cands if c.is_file()]
        if not found:
            raise ConfigError(
                f"{what} {path} not found: put an Ultralytics .pt checkpoint there or in the models directory "
                f"(COUNTERWATCH_MODELS_DIR), e.g. yolo11n_dequant.pt or yolov8n_dequant.pt "
                f"(models/manifest.yaml lists where each comes from; `counterwatch models fetch NAME`)"
            )
        p = found[0]
    ul = ultralytics()
    try:
        return ul.YOLO(str(p))
    except Exception as exc:  # ultralytics raises many types for a bad file
        raise ConfigError(f"{what} {p} could not be loaded by ultralytics: {str(exc).splitlines()[0]}") from exc


def device() -> str:
    """'0' when a CUDA GPU is present, else 'cpu'."""
    import torch  # lazy: the ultralytics extra

    return "0" if torch.cuda.is_available() else "cpu"
