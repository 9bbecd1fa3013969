"""The dev scenarios file is consistent, and event scoring of one scenario."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.errors import ConfigError
from pipeline.evaluation.videos import Scenario, load_scenarios, predicted_intervals, score_scenario
from pipeline.settings import load_config

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "tests/data/scenarios.yaml"


def test_dev_scenarios_are_consistent(data_dir):
    scenarios = load_scenarios(SCENARIOS)
    assert {s.id for s in scenarios} >= {"pgplarosa_office", "lintasarta_office", "aldi_checkout"}
    for sc in scenarios:
        assert (data_dir / sc.clip).is_file(), sc.clip
        cfg = load_config(sc.config)
        cam = cfg.camera(sc.camera) if sc.camera else cfg.cameras[0]
        posts = {p.id for p in cam.posts}
        for ev in sc.events:
            assert ev.post is None or ev.post in posts, (sc.id, ev)
            assert 0 <= ev.start_s < ev.end_s


@pytest.mark.parametrize("body,msg", [
    ("scenarios: []\n", "field 'scenarios' must be a non-empty list"),
    ("scenarios:\n  - {id: a, clip: x.mp4}\n", "scenario 'a': missing field 'config'"),
    ("scenarios:\n  - {id: a, clip: x.mp4, config: c.yaml, rules: [nope.rule]}\n", "unknown rule id 'nope.rule'"),
    ("scenarios:\n  - {id: a, clip: x.mp4, config: c.yaml, events: [{rule: post.unattended, start_s: 5, end_s: 1}]}\n",
     r"scenario 'a' events\[0\]: end_s 1.0 is before start_s 5.0"),
    ("scenarios:\n  - {id: a, clip: x.mp4, config: c.yaml, events: [{rule: post.unattended, start: 0, end_s: 1}]}\n",
     r"events\[0\]: unknown field\(s\) start"),
    ("scenarios:\n  - {id: a, clip: x.mp4, config: missing.yaml, rules: [post.unattended]}\n",
     "scenario 'a' field 'config'"),
    ("scenarios:\n  - {id: a, clip: x.mp4, config: c.yaml, rules: [post.unattended], quiet: [postur]}\n",
     "scenario 'a' field 'quiet': 'postur' is neither a rule id nor a rule family"),
])
def test_scenario_errors_name_file_scenario_and_field(tmp_path, body, msg):
    (tmp_path / "c.yaml").write_text("version: 1\n")
    f = tmp_path / "s.yaml"
    f.write_text(body)
    with pytest.raises(ConfigError, match=msg):
        load_scenarios(f)


def test_score_scenario_with_pipeline_events():
    from pipeline.evaluation.metrics import Interval

    sc = Scenario(id="s", clip="x.mp4", config=Path("c.yaml"), camera=None,
                  rules=["post.unattended", "roster.ab_both_absent"],
                  events=[Interval("post.unattended", 0, 16.7, "P1"), Interval("post.unattended", 0, 10.75, "P2"),
                          Interval("roster.ab_both_absent", 0, 10.75, "P1")])
    events = [  # what analyze_file returns (event_json dicts)
        {"rule_id": "post.unattended", "post_id": "P1", "start_s": 0.0, "end_s": 16.5},
        {"rule_id": "post.unattended", "post_id": "P2", "start_s": 0.25, "end_s": 2.0},   # too short: IoU < 0.3
        {"rule_id": "post.unattended", "post_id": "P4", "start_s": 3.0, "end_s": 6.0},    # false alarm
        {"rule_id": "roster.ab_both_absent", "post_id": "P1", "start_s": 0.0, "end_s": 11.0},
        {"rule_id": "phone.use", "post_id": "P3", "start_s": 1.0, "end_s": 9.0},          # not scored here
    ]
    s = score_scenario(sc, events, 0.3)
    c = s["counts"]
    assert (c["post.unattended"].tp, c["post.unattended"].fp, c["post.unattended"].fn) == (1, 2, 1)
    assert (c["roster.ab_both_absent"].tp, c["roster.ab_both_absent"].fp, c["roster.ab_both_absent"].fn) == (1, 0, 0)
    assert "phone.use" not in c
    assert len(s["matches"]) == 2 and len(s["fp"]) == 2 and s["fn"] == [
        {"rule": "post.unattended", "post": "P2", "start_s": 0.0, "end_s": 10.75}]


def test_open_event_counts_as_a_point():
    iv = predicted_intervals([{"rule_id": "r", "post_id": None, "start_s": 4.0, "end_s": None}], ["r"])
    assert iv[0].start_s == iv[0].end_s == 4.0


def test_quiet_rules_and_false_alarms_per_hour(tmp_path):
    from pipeline.evaluation.videos import quiet_figures

    (tmp_path / "c.yaml").write_text("version: 1\n")
    f = tmp_path / "s.yaml"
    f.write_text("scenarios:\n  - {id: a, clip: x.mp4, config: c.yaml, rules: [post.unattended], "
                 "quiet: [posture, gesture.chin_rest]}\n")
    (sc,) = load_scenarios(f)
    assert "posture.slouch" in sc.quiet and "gesture.chin_rest" in sc.quiet and "gesture.arms_crossed" not in sc.quiet
    per = {"a": {"video_s": 1800.0, "quiet_rules": ["posture.slouch"], "quiet_events": {"posture.slouch": 1}},
           "b": {"video_s": 1800.0, "quiet_rules": ["posture.slouch", "posture.lean_back"],
                 "quiet_events": {"posture.slouch": 2, "posture.lean_back": 0}}}
    q = quiet_figures(per)
    assert q["posture.slouch"] == {"events": 3, "video_s": 3600.0, "clips": 2, "false_alarms_per_hour": 3.0}
    assert q["posture.lean_back"]["false_alarms_per_hour"] == 0.0 and q["posture.lean_back"]["video_s"] == 1800.0


def test_dev_clips_with_staff_at_work_are_quiet_for_posture_and_gesture():
    quiet = {s.id: s.quiet for s in load_scenarios(SCENARIOS)}
    for sid in ("pgplarosa_office", "lintasarta_office", "aldi_checkout"):
        assert "posture.slouch" in quiet[sid] and "gesture.chin_rest" in quiet[sid]
