import pytest

from pipeline.config.loader import parse_config
from pipeline.config.models import rule_params
from pipeline.core.errors import ConfigError

GOOD = """
cameras:
  - id: cam1
    posts:
      - {id: P1, seat: [[0,0],[0.5,0],[0.5,0.5]]}
rules:
  post.unattended: {min_duration_s: 7}
"""


def test_good_config_and_rule_params():
    cfg = parse_config(GOOD)
    assert rule_params(cfg.rules, "post.unattended").min_duration_s == 7
    assert cfg.camera("cam1").posts[0].id == "P1"


@pytest.mark.parametrize(
    "text, expected",
    [
        (GOOD.replace("seat:", "seet:"), "camera 'cam1' post 'P1' field 'seet'"),
        (GOOD.replace("0.5,0.5", "0.5,1.7"), "post 'P1' field 'seat': point [0.5, 1.7] is outside 0..1"),
        (GOOD.replace("min_duration_s", "min_duration"), "rules post.unattended field 'min_duration'"),
        (GOOD + "  nope.rule: {}\n", "field 'nope.rule'"),
        ("cameras: [{id: a}, {id: a}]", "appear more than once"),
        ("cameras: [\n  - id: [", "invalid YAML"),
    ],
)
def test_bad_config_names_the_place(text, expected):
    with pytest.raises(ConfigError) as ei:
        parse_config(text, origin="site.yaml")
    assert expected in str(ei.value)
    assert str(ei.value).startswith("site.yaml")


def test_shipped_configs_are_valid():
    from pathlib import Path

    from pipeline.config.loader import load_config

    files = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
    assert len(files) >= 2
    for f in files:
        cfg = load_config(f)
        assert cfg.cameras, f
