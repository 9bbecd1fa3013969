"""pipeline.settings composes the site config with the rule registry; severity is one type."""

from __future__ import annotations

import typing

import pytest
from pydantic import Field

from pipeline.config.models import SiteConfigBase
from pipeline.config.rule_params import RuleParams, Severity
from pipeline.core.errors import ConfigError
from pipeline.rules.base import RULES
from pipeline.settings import RulesConfig, SiteConfig, build_rules_model, parse_config


def test_rules_config_has_one_field_per_registered_rule():
    assert len(RULES) >= 10
    fields = RulesConfig.model_fields
    assert {f.alias for f in fields.values()} == set(RULES)
    for rule_id, cls in RULES.items():
        assert fields[rule_id.replace(".", "__")].annotation is cls.Params
    assert issubclass(SiteConfig, SiteConfigBase)
    assert SiteConfig.model_fields["rules"].annotation is RulesConfig


def test_a_registry_builds_its_own_rules_model():
    class Params(RuleParams):
        level: float = Field(0.5, ge=0, le=1)

    class Fake:
        name_zh, name_en, article = "假", "Fake", "第一条"

    Fake.Params = Params
    model = build_rules_model({"x.fake": Fake})
    assert model(**{"x.fake": {"level": 0.25}}).x__fake.level == 0.25
    with pytest.raises(ValueError):
        model(**{"x.other": {}})  # strict: a rule the registry does not know


def test_rule_ids_named_in_the_config_are_checked():
    with pytest.raises(ConfigError, match="camera 'c1' field disabled_rules: unknown rule 'no.such'"):
        parse_config("cameras: [{id: c1, disabled_rules: [no.such]}]\n")
    with pytest.raises(ConfigError, match="no.such"):
        parse_config("rules: {no.such: {}}\n")
    rid = sorted(RULES)[0]
    assert rid in parse_config(f"cameras: [{{id: c1, disabled_rules: [{rid}]}}]\n").cameras[0].disabled_rules


def _severity_fields():
    for rule_id, cls in sorted(RULES.items()):
        for name, field in cls.Params.model_fields.items():
            if "severity" in name:
                yield rule_id, name, field


def test_every_severity_field_is_the_one_severity_type():
    found = list(_severity_fields())
    assert len(found) >= len(RULES)  # every rule has at least its base severity
    for rule_id, name, field in found:
        assert field.annotation == Severity, f"{rule_id} {name}: {field.annotation}"
    assert set(typing.get_args(Severity)) == {"info", "low", "medium", "high"}


def test_a_bad_severity_is_refused_naming_the_rule():
    rule_id, name, _ = next(iter(_severity_fields()))
    with pytest.raises(ConfigError, match=f"{rule_id}.*{name}"):
        parse_config(f"rules: {{{rule_id}: {{{name}: urgent}}}}\n")
