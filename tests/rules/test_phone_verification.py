"""phone.use verification: attachment by pose, k-of-n evidence, the pose cue as a booster only, event details."""

import pytest
from pydantic import ValidationError

from pipeline.rules.base import RuleContext
from pipeline.rules.phone import PhoneUse
from pipeline.scene.facts import ObjectFact
from tests.builders import facts, obj, pose, posed, run_rule

WRIST_R = pose("upright")[0][10]
CUE_WRIST = pose("hands_together_head_down")[0][10]


def phone(x, y, conf=0.8, name="phone"):
    o = obj(name, (x - 8, y - 12, x + 8, y + 12))
    return ObjectFact(**{**o.__dict__, "confidence": conf})


def rule(**kw):
    return PhoneUse(PhoneUse.Params(update_every_s=1000, **kw), RuleContext())


def test_one_stray_box_never_starts_an_event():
    frames = [facts(t, [posed("upright")], [phone(*WRIST_R)] if t == 3 else []) for t in range(40)]
    assert run_rule(rule(min_duration_s=0), frames) == []


def test_k_of_n_evidence_before_the_dwell():
    # a phone in 1 of every 3 frames never reaches 2 of 3
    sparse = [facts(t, [posed("upright")], [phone(*WRIST_R)] if t % 3 == 0 else []) for t in range(40)]
    assert run_rule(rule(min_duration_s=2), sparse) == []
    # 2 of every 3 frames does, and the event says so
    dense = [facts(t, [posed("upright")], [phone(*WRIST_R)] if t % 3 else []) for t in range(40)]
    evs = run_rule(rule(min_duration_s=2, clear_after_s=3), dense)
    assert evs and evs[0][1] == "start"
    d = evs[0][2].details
    assert d["evidence"] in ("2/3", "3/3") and len(d["phone_frames_t"]) >= 2
    # with k=1 of n=1 a single box counts again (the old behaviour, by config)
    assert run_rule(
        rule(min_duration_s=0, evidence_k=1, evidence_n=1),
        [facts(t, [posed("upright")], [phone(*WRIST_R)] if t == 3 else []) for t in range(10)],
    )


def test_event_details_carry_score_box_frames_and_crop():
    frames = [facts(t, [posed("upright")], [phone(*WRIST_R, conf=0.6)]) for t in range(10)]
    (t0, state, ev), *_ = run_rule(rule(min_duration_s=3), frames)
    assert state == "start"
    d = ev.details
    assert d["phone_conf"] == 0.6 and d["phone_score"] == 0.6 and ev.score == pytest.approx(0.6)
    x1, y1, x2, y2 = d["phone_box"]
    cx1, cy1, cx2, cy2 = d["crop_box"]
    assert cx1 <= x1 and cy1 <= y1 and x2 <= cx2 and y2 <= cy2  # the crop holds the phone
    assert d["cue"] == "phone_in_hand" and d["phone_frames_t"][-1] == t0


def test_weak_box_needs_the_pose_cue_and_the_cue_alone_never_counts():
    r = rule(min_phone_conf=0.25, weak_phone_conf=0.15)
    weak = phone(*CUE_WRIST, conf=0.18)
    (f,) = r.judge(facts(0, [posed("hands_together_head_down")], [weak]))
    assert f.cond is True and f.details["cue"].endswith("+pose_cue")
    assert f.score == pytest.approx(0.18 + r.params.pose_cue_boost)
    (f2,) = rule(pose_cue=False, min_phone_conf=0.25, weak_phone_conf=0.15).judge(facts(0, [posed("hands_together_head_down")], [weak]))
    assert f2.cond is False
    (f3,) = r.judge(facts(0, [posed("upright")], [phone(*WRIST_R, conf=0.18)]))  # no cue: weak box ignored
    assert f3.cond is False
    (f4,) = r.judge(facts(0, [posed("hands_together_head_down")], []))  # cue, no box
    assert f4.cond is False
    frames = [facts(t, [posed("hands_together_head_down")], []) for t in range(60)]
    assert run_rule(rule(min_duration_s=0), frames) == []


def test_phone_near_another_persons_hand_is_not_theirs():
    far = phone(WRIST_R[0] + 250, WRIST_R[1])
    (f,) = rule().judge(facts(0, [posed("upright")], [far]))
    assert f.cond is False and f.details["phone_to_wrist"] > 1


def test_coco_cell_phone_class_still_counts():
    (f,) = rule().judge(facts(0, [posed("upright")], [phone(*WRIST_R, name="cell phone")]))
    assert f.cond is True


def test_params_are_checked():
    with pytest.raises(ValidationError, match="evidence_k"):
        PhoneUse.Params(evidence_k=4, evidence_n=3)
    with pytest.raises(ValidationError, match="weak_phone_conf"):
        PhoneUse.Params(weak_phone_conf=0.5, min_phone_conf=0.3)
