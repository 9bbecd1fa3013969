"""phone.use and desk.personal_items on synthetic facts."""

import pytest

from pipeline.rules.base import RuleContext
from pipeline.rules.desk import PersonalItems
from pipeline.rules.phone import PhoneUse
from pipeline.scene.facts import PostFacts
from tests.builders import facts, obj, person, pose, posed, run_rule

WRIST_R = pose("upright")[0][10]  # (265, 280)
NOSE = pose("upright")[0][0]


def phone_at(x, y, on_desk=False):
    return obj("cell phone", (x - 8, y - 12, x + 8, y + 12), on_desk=on_desk)


def judge(persons, objects, customers=0, **params):
    r = PhoneUse(PhoneUse.Params(**params), RuleContext())
    posts = {"P1": PostFacts("P1", tuple(p.track_id for p in persons), customers)}
    return r.judge(facts(0, persons, objects, posts=posts))


@pytest.mark.parametrize("persons,objects,expected", [
    ([posed("upright")], [phone_at(*WRIST_R)], True),  # in the hand
    ([posed("upright")], [phone_at(NOSE[0] + 30, NOSE[1] + 10)], True),  # at the face (a call)
    ([posed("upright")], [phone_at(WRIST_R[0] + 200, WRIST_R[1], on_desk=True)], False),  # on the desk, away
    ([posed("upright")], [], False),
    ([posed("upright")], [obj("cup", (260, 270, 275, 290))], False),  # not a phone
    ([person(box=(100, 100, 200, 300))], [phone_at(150, 220)], None),  # no pose: overlap alone cannot tell
    ([person(box=(100, 100, 200, 300))], [phone_at(400, 220)], False),  # no pose, phone elsewhere
])
def test_phone_judgement(persons, objects, expected):
    (f,) = judge(persons, objects)
    assert f.cond is expected


def test_box_overlap_counts_only_with_the_opt_in_fallback():
    (f,) = judge([person(box=(100, 100, 200, 300))], [phone_at(150, 220)], no_pose_fallback=True)
    assert f.cond is True and f.details["cue"] == "phone_in_hand_region"
    (f,) = judge([person(box=(100, 100, 200, 300))], [phone_at(150, 110)], no_pose_fallback=True)
    assert f.cond is False


def test_low_confidence_phone_is_ignored():
    low = obj("cell phone", (257, 268, 273, 292))
    low = low.__class__(**{**low.__dict__, "confidence": 0.03})
    assert judge([posed("upright")], [low])[0].cond is False


def test_severity_and_article_rise_with_a_customer():
    r = PhoneUse(PhoneUse.Params(update_every_s=1000), RuleContext())
    frames = []
    for t in range(20):
        customers = 1 if t >= 10 else 0
        posts = {"P1": PostFacts("P1", (1,), customers)}
        frames.append(facts(t, [posed("upright")], [phone_at(*WRIST_R)], posts=posts))
    evs = run_rule(r, frames)
    # k-of-n evidence (2 of 3 frames) makes t=1 the first counted frame; the 5 s dwell then starts at t=6
    assert evs[0][:2] == (6, "start") and evs[0][2].severity == "medium"
    assert evs[0][2].details["articles"] == ["第五十二条"]
    up = [e for _, s, e in evs if s == "update"]
    assert up and up[0].severity == "high" and up[0].details["articles"] == ["第五十二条", "第五十四条"]
    assert up[0].details["customer_present"] is True


def test_phone_on_desk_never_starts_an_event():
    r = PhoneUse(PhoneUse.Params(), RuleContext())
    frames = [facts(t, [posed("upright")], [phone_at(WRIST_R[0] + 200, WRIST_R[1] - 40, on_desk=True)])
              for t in range(60)]
    assert run_rule(r, frames) == []


def test_pose_cue_alone_never_counts():
    assert judge([posed("hands_together_head_down")], [])[0].cond is False
    assert judge([posed("hands_together_head_down")], [], pose_cue=True)[0].cond is False


def test_personal_items_per_post_and_class_with_timing():
    r = PersonalItems(PersonalItems.Params(update_every_s=1000), RuleContext())
    frames = []
    for t in range(0, 100):
        objs = [obj("bottle", (10, 10, 30, 60))] if t < 80 else []
        if t % 7 == 0:  # the detector misses the bottle now and then: one timer all the same
            objs = []
        objs.append(obj("cup", (50, 10, 70, 30), on_desk=False))  # held, not on the desk
        objs.append(obj("laptop", (100, 10, 200, 80)))  # work equipment
        frames.append(facts(t, objects=objs))
    evs = run_rule(r, frames)
    assert [(t, s) for t, s, _ in evs] == [(61, "start"), (89, "end")]  # first seen at t=1 (t=0 missed)
    assert evs[0][2].details["item"] == "bottle" and evs[0][2].post_id == "P1"
    assert evs[0][2].article == "第四十七条"


def test_personal_items_classes_are_configurable_and_bare_images_work():
    r = PersonalItems(PersonalItems.Params(item_classes=["book"]), RuleContext())
    fs = r.judge(facts(0, objects=[obj("book", (0, 0, 10, 10), post_id=None), obj("bottle", (0, 0, 10, 10))]))
    assert [(f.key, f.cond) for f in fs] == [(("item", None, "book"), True)]


def test_disabled_post_gives_no_event():
    r = PersonalItems(PersonalItems.Params(min_duration_s=0, disabled_posts=["P1"]), RuleContext())
    assert run_rule(r, [facts(t, objects=[obj("bottle", (0, 0, 10, 10))]) for t in range(10)]) == []
