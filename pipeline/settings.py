"""Composition root of the site config: the config models joined with the rule registry.

`pipeline.config` knows no rule; each rule file owns its `Params` model and registers
itself in `pipeline.rules.base.RULES` (`pipeline.rules.catalog` imports them all).
Here the two meet: `RulesConfig` has one field per registered rule, `SiteConfig` is
`pipeline.config.models.SiteConfigBase` with that block and the checks that a rule id
named anywhere in the config exists. Commands, the live runner, the web app and the
evaluation load a site config through this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter, create_model, model_validator

from pipeline.config import loader
from pipeline.config import models as m
from pipeline.config.backends import BackendConfig
from pipeline.config.rule_params import StrictModel
from pipeline.detectors.registry import detector_configs, pose_configs
from pipeline.rules import catalog  # noqa: F401  (registers every rule)
from pipeline.rules.base import RULES


def build_rules_model(rules: dict = RULES) -> type[StrictModel]:
    """A strict model with one field per rule (`a.b` is the alias of field `a__b`), each its rule's `Params`."""
    fields = {}
    for rule_id, cls in sorted(rules.items()):
        fields[rule_id.replace(".", "__")] = (
            cls.Params,
            Field(default_factory=cls.Params, alias=rule_id,
                  description=f"{cls.name_zh} / {cls.name_en} ({cls.article})"),
        )
    return create_model("RulesConfig", __base__=StrictModel, **fields)


RulesConfig = build_rules_model()

# models.detector / models.pose: the discriminated unions of the backends' own config models
DetectorSettings = Annotated[Union[detector_configs()], Field(discriminator="type")]  # noqa: UP007
PoseSettings = Annotated[Union[pose_configs()], Field(discriminator="type")]  # noqa: UP007
_DETECTOR_ADAPTER: TypeAdapter = TypeAdapter(DetectorSettings)
_POSE_ADAPTER: TypeAdapter = TypeAdapter(PoseSettings)


def DetectorConfig(**fields: Any) -> BackendConfig:  # noqa: N802  (reads as the section's constructor)
    """The `models.detector` config of the backend named by `type` (default yolo_onnx)."""
    return _DETECTOR_ADAPTER.validate_python(m.with_default_type(fields, m.DEFAULT_DETECTOR))


def PoseConfig(**fields: Any) -> BackendConfig:  # noqa: N802
    """The `models.pose` config of the backend named by `type` (default yolo_pose; `none`: no pose model)."""
    return _POSE_ADAPTER.validate_python(m.with_default_type(fields, m.DEFAULT_POSE))


class ModelsConfig(m.ModelsConfig):
    __doc__ = m.ModelsConfig.__doc__
    detector: DetectorSettings = Field(default_factory=DetectorConfig)  # type: ignore[assignment]
    pose: PoseSettings = Field(default_factory=PoseConfig)  # type: ignore[assignment]


def _unknown(rule_ids: list[str]) -> list[str]:
    return [rid for rid in rule_ids if rid not in RULES]


class AlertsConfig(m.AlertsConfig):
    __doc__ = m.AlertsConfig.__doc__

    @model_validator(mode="after")
    def verify_webhook_rules(self) -> AlertsConfig:
        for w in self.webhooks:
            for rid in _unknown(w.rules):
                raise ValueError(f"alerts.webhooks {w.id!r} field rules: unknown rule {rid!r}")
        return self


class SiteConfig(m.SiteConfigBase):
    models: ModelsConfig = Field(default_factory=ModelsConfig)  # type: ignore[assignment]
    rules: RulesConfig = Field(default_factory=RulesConfig)  # type: ignore[valid-type]
    alerts: AlertsConfig = Field(default_factory=AlertsConfig, description="Live alert receivers")

    @model_validator(mode="after")
    def verify_rule_ids(self) -> SiteConfig:
        for c in self.cameras:
            for rid in _unknown(c.disabled_rules):
                raise ValueError(f"camera {c.id!r} field disabled_rules: unknown rule {rid!r}")
            for p in c.posts:
                for rid in _unknown(p.disabled_rules):
                    raise ValueError(f"camera {c.id!r} post {p.id!r} field disabled_rules: unknown rule {rid!r}")
        return self


def parse_config(text: str, origin: str = "<config>") -> SiteConfig:
    return loader.parse_as(SiteConfig, text, origin)


def load_config(path: str | Path) -> SiteConfig:
    return parse_config(loader.read_config_text(path), origin=str(Path(path)))


def json_schema() -> str:
    return loader.schema_of(SiteConfig)


def dump_config(cfg: SiteConfig) -> str:
    return loader.dump_yaml(cfg)
