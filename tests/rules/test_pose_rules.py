"""Posture and gesture rules on synthetic skeletons: frame judgements and timing."""

from dataclasses import replace

import numpy as np
import pytest

from pipeline.core.skeleton import MEDIAPIPE_TO_COCO, mediapipe_to_coco
from pipeline.rules import measures as m
from pipeline.rules.base import RuleContext
from pipeline.rules.gesture import ArmsCrossed, ChinRest, HandsOnHips
from pipeline.rules.posture import HeadDown, LeanBack, LegsCrossed, Slouch
from pipeline.rules.upright import UprightModel
from tests.builders import LEGS, LOWER_LEGS, facts, person, pose, posed, run_rule


def ctx0():
    """A camera whose config says post P1's upright is the image vertical (no learning period)."""
    u = UprightModel()
    u.post_tilt["P1"] = 0.0
    return RuleContext(upright=u)


RULES = {"head_down": HeadDown, "lean_back": LeanBack, "slouch": Slouch, "legs_crossed": LegsCrossed,
         "arms_crossed": ArmsCrossed, "chin_rest": ChinRest, "hands_on_hips": HandsOnHips}


def judge(rule_name, kind, **kw):
    cls = RULES[rule_name]
    r = cls(cls.Params(), ctx0())
    (f,) = r.judge(facts(0, [posed(kind, **kw)]))
    return f


# (rule, posture, expected frame judgement): True violation, False not, None cannot judge
CASES = [
    ("head_down", "upright", False),
    ("head_down", "head_on_desk", True),
    ("head_down", "side_bent_over_desk", True),
    ("head_down", "writing", False),  # bowed head over paperwork is not sleeping
    ("head_down", "head_low_hands_on_paper", None),  # low head, no stillness history yet: unknown
    ("head_down", "head_on_desk_arms_down", True),  # head well below the shoulders: at desk level
    ("lean_back", "reclined", True),
    ("lean_back", "side_upright", False),
    ("lean_back", "side_leaning_forward", False),
    ("lean_back", "side_bent_over_desk", False),
    ("lean_back", "upright", False),
    ("slouch", "slumped_sideways", True),
    ("slouch", "upright", False),
    ("slouch", "side_upright", None),  # shoulders edge-on, torso direction is forward/back: not judged
    ("legs_crossed", "legs_crossed", True),
    ("legs_crossed", "ankle_on_knee", True),
    ("legs_crossed", "upright", False),
    ("arms_crossed", "arms_crossed", True),
    ("arms_crossed", "upright", False),
    ("arms_crossed", "reclined", None),  # side view
    ("arms_crossed", "hands_together_head_down", False),
    ("chin_rest", "chin_rest", True),
    ("chin_rest", "phone_at_ear", False),
    ("chin_rest", "upright", False),
    ("hands_on_hips", "hands_on_hips", True),
    ("hands_on_hips", "standing", False),
    ("hands_on_hips", "hands_on_hips_seated", False),  # forearms on a desk look the same: seated is not judged a hit
    ("hands_on_hips", "arms_crossed", False),
]


@pytest.mark.parametrize("rule_name,kind,expected", CASES)
def test_frame_judgement(rule_name, kind, expected):
    assert judge(rule_name, kind).cond is expected


@pytest.mark.parametrize("scale", [0.3, 1.0, 2.5])
def test_judgement_does_not_depend_on_size(scale):
    for rule_name, kind, expected in CASES:
        if expected is not None:
            assert judge(rule_name, kind, scale=scale).cond is expected, (rule_name, kind, scale)


@pytest.mark.parametrize("rule_name,kind", [("legs_crossed", "legs_crossed"), ("legs_crossed", "upright"),
                                             ("hands_on_hips", "hands_on_hips")])
def test_hidden_legs_are_not_visible_never_compliant(rule_name, kind):
    assert judge(rule_name, kind, hide=LOWER_LEGS).cond is None
    if rule_name == "legs_crossed":
        assert judge(rule_name, kind, hide=LEGS).cond is None


def test_no_pose_is_not_visible():
    for cls in RULES.values():
        r = cls(cls.Params(), ctx0())
        (f,) = r.judge(facts(0, [person()]))
        assert f.cond is None


def test_measured_values_in_details():
    f = judge("lean_back", "reclined")
    assert f.details["torso_forward_deg"] <= -25
    f = judge("head_down", "writing")
    assert 0.3 < f.details["head_above_shoulder"] < 0.5


def test_customers_are_never_judged():
    r = LeanBack(LeanBack.Params(), ctx0())
    assert r.judge(facts(0, [posed("reclined", role="customer")])) == []


def test_mediapipe_mapped_pose_measures_the_same():
    kp, kc = pose("reclined")
    p33, c33 = np.zeros((33, 2)), np.zeros(33)
    p33[MEDIAPIPE_TO_COCO], c33[MEDIAPIPE_TO_COCO] = kp, kc
    kp2, kc2 = mediapipe_to_coco(p33, c33)
    a, b = m.Pose.of(kp, kc), m.Pose.of(kp2, kc2)
    assert m.body_scale(a) == pytest.approx(m.body_scale(b))
    assert m.forward_bend_deg(a) == pytest.approx(m.forward_bend_deg(b))
    with pytest.raises(ValueError, match="17 keypoints"):
        m.Pose.of(p33, c33)


def seq(kind_at, t_end, dt=1.0, **kw):
    return [facts(t, [posed(kind_at(t), **kw)]) for t in np.arange(0, t_end, dt)]


def test_head_down_timing_start_and_end():
    r = HeadDown(HeadDown.Params(update_every_s=1000), ctx0())
    evs = run_rule(r, seq(lambda t: "head_on_desk" if 5 <= t < 60 else "upright", 80))
    # evidence: 3 of the last 5 frames (t=7), then the 20 s dwell; clear after 5 s
    assert [(t, s) for t, s, _ in evs] == [(27, "start"), (64, "end")]
    end = evs[-1][2]
    assert end.start_s == 7 and end.end_s == 59 and end.article == "第五十三条"
    assert end.details["cue"] == "head_on_arms"


def test_head_low_and_still_is_head_down_but_writing_motion_is_not():
    p = HeadDown.Params(update_every_s=1000)
    still = run_rule(HeadDown(p, ctx0()), seq(lambda t: "head_low_hands_on_paper", 60))
    assert [s for _, s, _ in still] == ["start"]
    assert still[0][2].details["cue"] == "still"
    # same low head, but the writing hand moves across the page: never an event
    rng = np.random.default_rng(1)
    frames = []
    for t in range(60):
        f = facts(t, [posed("head_low_hands_on_paper")])
        kp = f.persons[0].keypoints.copy()
        kp[10] += (rng.uniform(-40, 40), rng.uniform(-10, 10))  # right wrist writing
        frames.append(replace(f, persons=(replace(f.persons[0], keypoints=kp),)))
    assert run_rule(HeadDown(p, ctx0()), frames) == []


def test_not_visible_holds_timer_and_gives_no_event():
    # crossed 15 s (evidence at 2, event starts at 12), legs hidden 30 s: the hidden time does not end it
    r = LegsCrossed(LegsCrossed.Params(update_every_s=1000), ctx0())
    frames = [facts(t, [posed("legs_crossed" if t < 45 else "upright", hide=LOWER_LEGS if 15 <= t < 45 else ())])
              for t in range(60)]
    evs = run_rule(r, frames)
    assert [(t, s) for t, s, _ in evs] == [(12, "start"), (45, "end")]  # ends only once seen uncrossed
    assert evs[-1][2].end_s == 14  # the last time it was seen crossed
    # legs never visible: no event and every judgement is "cannot judge", never compliant
    r2 = LegsCrossed(LegsCrossed.Params(update_every_s=1000), ctx0())
    assert run_rule(r2, [facts(t, [posed("legs_crossed", hide=LOWER_LEGS)]) for t in range(100)]) == []
    assert all(f.cond is None for f in r2.judge(facts(0, [posed("upright", hide=LOWER_LEGS)])))


@pytest.mark.parametrize("cls,kind,dwell", [(LeanBack, "reclined", 30), (Slouch, "slumped_sideways", 30),
                                            (LegsCrossed, "legs_crossed", 10), (ArmsCrossed, "arms_crossed", 5),
                                            (ChinRest, "chin_rest", 5), (HandsOnHips, "hands_on_hips", 5)])
def test_default_dwell_times(cls, kind, dwell):
    r = cls(cls.Params(), ctx0())
    evs = run_rule(r, seq(lambda t: kind, dwell + 5, dt=0.5))
    assert evs[0][0] == dwell + 1.0 and evs[0][1] == "start"  # 3-of-5 evidence at 0.5 s frames, then the dwell
    assert evs[0][2].track_ids == (1,) and evs[0][2].post_id == "P1"


def test_pose_rule_state_bounded_with_many_tracks():
    r = HeadDown(HeadDown.Params(), ctx0())
    for t in range(3000):
        tid = t // 5  # a new track every 5 s: 600 tracks in all
        r.update(facts(t, [posed("head_low_hands_on_paper", track_id=tid)]))
    assert r.state_size < 80
