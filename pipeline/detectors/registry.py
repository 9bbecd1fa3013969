"""One registry from config `type` to backend builder.

Each backend is one plugin file in this package that decorates its builder with
`@detector_backend("type")` or `@pose_backend("type")`. The plugin modules are
imported on first use, so a backend that needs an optional extra (ultralytics) only
fails when a config asks for it, and then with an error saying what to install.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from pipeline.config.models import DetectorConfig, PoseConfig
from pipeline.core.errors import ConfigError
from pipeline.detectors.base import Detector, PoseEstimator

DETECTORS: dict[str, Callable[[DetectorConfig], Detector]] = {}
POSES: dict[str, Callable[[PoseConfig], PoseEstimator]] = {}

# Plugin modules: importing them fills the registries. The ultralytics plugin imports
# its framework inside the builder, so importing the module itself is cheap and safe.
PLUGIN_MODULES = (
    "pipeline.detectors.yolo_onnx",
    "pipeline.detectors.yolo_pose",
    "pipeline.detectors.mediapipe_pose",
    "pipeline.detectors.ultralytics_backend",
)
_loaded = False


def detector_backend(type_name: str) -> Callable[[Any], Any]:
    def deco(fn):
        DETECTORS[type_name] = fn
        return fn

    return deco


def pose_backend(type_name: str) -> Callable[[Any], Any]:
    def deco(fn):
        POSES[type_name] = fn
        return fn

    return deco


def _load_plugins() -> None:
    global _loaded
    if not _loaded:
        for name in PLUGIN_MODULES:
            importlib.import_module(name)
        _loaded = True


def build_detector(cfg: DetectorConfig) -> Detector:
    """The detector named by `cfg.type` (models.detector.type in the site config)."""
    _load_plugins()
    try:
        builder = DETECTORS[cfg.type]
    except KeyError:
        raise ConfigError(
            f"models.detector.type: unknown detector {cfg.type!r} (known: {', '.join(sorted(DETECTORS))})"
        ) from None
    return builder(cfg)


def build_pose(cfg: PoseConfig) -> PoseEstimator | None:
    """The pose estimator named by `cfg.type`, or None for type 'none'."""
    if cfg.type == "none":
        return None
    _load_plugins()
    try:
        builder = POSES[cfg.type]
    except KeyError:
        raise ConfigError(
            f"models.pose.type: unknown pose estimator {cfg.type!r} (known: {', '.join(sorted(POSES))}, none)"
        ) from None
    return builder(cfg)
