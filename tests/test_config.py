import pytest

from pipeline.config.models import rule_params
from pipeline.core.errors import ConfigError
from pipeline.settings import parse_config

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

    from pipeline.settings import load_config

    files = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
    assert len(files) >= 2
    for f in files:
        cfg = load_config(f)
        assert cfg.cameras, f


def test_zone_geometry_is_checked_at_load_with_named_errors():
    from pipeline.settings import parse_config

    def cfg(seat: str, waiting: str = "") -> str:
        return (f"cameras:\n  - id: c1\n    posts:\n      - id: P1\n        seat: {seat}\n"
                + (f"    waiting:\n      - {waiting}\n" if waiting else ""))

    ok = "[[0.1, 0.1], [0.3, 0.1], [0.3, 0.3], [0.1, 0.3]]"
    assert parse_config(cfg(ok)).cameras[0].posts[0].seat[2] == [0.3, 0.3]
    for seat, words in [("[[0.1, 0.1], [0.3, 0.3], [0.3, 0.1], [0.1, 0.3]]", "edges 1 and 3 cross"),
                        ("[[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]]", "no area"),
                        ("[[0.1, 0.1], [0.2, 0.2, 0.1], [0.3, 0.1]]", "point #2 is [0.2, 0.2, 0.1]"),
                        ("[[0.1, 0.1], [0.2, 0.2]]", "at least 3 distinct points"),
                        (str([[0.5, i / 200] for i in range(101)]), "101 points; a zone has at most 100")]:
        with pytest.raises(ConfigError) as exc:
            parse_config(cfg(seat), origin="site.yaml")
        msg = str(exc.value)
        assert msg.startswith("site.yaml: camera 'c1' post 'P1' field 'seat': ") and words in msg, msg
    with pytest.raises(ConfigError, match=r"camera 'c1' field 'waiting\[0\]': edges 1 and 3 cross"):
        parse_config(cfg(ok, "[[0.1, 0.6], [0.3, 0.8], [0.3, 0.6], [0.1, 0.8]]"))
