"""One registry from config `type` to backend config model and builder.

Each backend is one plugin file in this package that declares its own pydantic config
(a `BackendConfig` with a `type: Literal[...]` discriminator and only the fields its
backend reads) and decorates its builder with `@detector_backend("type", Config)` or
`@pose_backend("type", Config)`. The site config's `models.detector` and `models.pose`
sections are the discriminated unions of those models, so a field a backend would
ignore is a config error, not a silent default. The plugin modules import their
frameworks inside the builders, so a backend that needs an optional extra
(ultralytics) only fails when a config asks for it, and then says what to install.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from pipeline.config.backends import BackendConfig, NoPoseConfig
from pipeline.core.errors import ConfigError

DETECTORS: dict[str, Callable[[Any], Any]] = {}
POSES: dict[str, Callable[[Any], Any]] = {"none": lambda cfg: None}
DETECTOR_CONFIGS: dict[str, type[BackendConfig]] = {}
POSE_CONFIGS: dict[str, type[BackendConfig]] = {"none": NoPoseConfig}

# Plugin modules: importing them fills the registries. Each imports its framework inside
# the builder, so importing the module itself is cheap and safe.
PLUGIN_MODULES = (
    "pipeline.detectors.yolo_onnx",
    "pipeline.detectors.yolo_pose",
    "pipeline.detectors.mediapipe_pose",
    "pipeline.detectors.ultralytics_backend",
)
_loaded = False


def _register(builders: dict, configs: dict, type_name: str, config: type[BackendConfig]) -> Callable[[Any], Any]:
    if config.model_fields["type"].default != type_name:
        raise TypeError(f"{config.__name__}.type must default to {type_name!r}")

    def deco(fn):
        builders[type_name] = fn
        configs[type_name] = config
        return fn

    return deco


def detector_backend(type_name: str, config: type[BackendConfig]) -> Callable[[Any], Any]:
    return _register(DETECTORS, DETECTOR_CONFIGS, type_name, config)


def pose_backend(type_name: str, config: type[BackendConfig]) -> Callable[[Any], Any]:
    return _register(POSES, POSE_CONFIGS, type_name, config)


def load_plugins() -> None:
    global _loaded
    if not _loaded:
        for name in PLUGIN_MODULES:
            importlib.import_module(name)
        _loaded = True


def detector_configs() -> tuple[type[BackendConfig], ...]:
    """The config models of every detector backend (the members of the `models.detector` union)."""
    load_plugins()
    return tuple(DETECTOR_CONFIGS.values())


def pose_configs() -> tuple[type[BackendConfig], ...]:
    """The config models of every pose backend, `none` included (the members of the `models.pose` union)."""
    load_plugins()
    return tuple(POSE_CONFIGS.values())


def _builder(builders: dict, cfg: BackendConfig, section: str):
    load_plugins()
    try:
        return builders[cfg.type]
    except KeyError:
        raise ConfigError(f"models.{section}.type: unknown backend {cfg.type!r} "
                          f"(known: {', '.join(sorted(builders))})") from None


def build_detector(cfg: BackendConfig):
    """The detector named by `cfg.type` (models.detector.type in the site config)."""
    return _builder(DETECTORS, cfg, "detector")(cfg)


def build_pose(cfg: BackendConfig):
    """The pose estimator named by `cfg.type`, or None for type 'none'."""
    return _builder(POSES, cfg, "pose")(cfg)
