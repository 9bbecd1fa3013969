"""A/B roster coverage and hall rules (gathering, running, queue) on synthetic facts."""

import datetime as dt

import pytest

from pipeline.config.models import Duty, DutyRole, Leave, RosterConfig, StaffMember
from pipeline.rules.base import RuleContext
from pipeline.rules.hall import HallRunning, QueuePressure, StaffGathering
from pipeline.rules.roster import ABBothAbsent, BCovering
from pipeline.scene.facts import PostFacts
from tests.builders import facts, person, run_rule

DAY = dt.datetime(2024, 3, 4, 9, 0)  # a Monday
ROSTER = RosterConfig(
    staff=[StaffMember(id="s1", name="张三", post="P1"), StaffMember(id="s2", name="李四", post="P2")],
    duties=[Duty(id="d1", name="社保", a=DutyRole(staff="s1", post="P1"), b=DutyRole(staff="s2", post="P2")),
            Duty(id="d2", a=DutyRole(staff="s1", post="P1"), b=DutyRole(staff="s3", post="P9"))],  # P9: other camera
    leave=[Leave(staff="s1", date=dt.date(2024, 3, 5))],
)


def ab_frames(a_present, b_present, n=90, day=DAY):
    return [facts(t, posts={"P1": PostFacts("P1", (1,) if a_present(t) else (), 0),
                            "P2": PostFacts("P2", (2,) if b_present(t) else (), 0)},
                  wall=day + dt.timedelta(seconds=t)) for t in range(n)]


def states(rule, frames):
    return [(t, s, e.severity) for t, s, e in run_rule(rule, frames)]


@pytest.mark.parametrize("a,b,day,both_absent,covering", [
    (False, False, DAY, True, False),  # both out: violation
    (False, True, DAY, False, True),  # A out, B covering: info only
    (True, False, DAY, False, False),  # A at the post
    (True, True, DAY, False, False),
    (True, False, DAY + dt.timedelta(days=1), True, False),  # A on leave: B must be present (someone in A's seat is not A)
    (False, True, DAY + dt.timedelta(days=1), False, True),
])
def test_ab_roles(a, b, day, both_absent, covering):
    ctx = RuleContext(roster=ROSTER)
    frames = ab_frames(lambda t: a, lambda t: b, day=day)
    ev1 = states(ABBothAbsent(ABBothAbsent.Params(update_every_s=1000), ctx), frames)
    ev2 = states(BCovering(BCovering.Params(update_every_s=1000), ctx), frames)
    assert ev1 == ([(60, "start", "high")] if both_absent else [])
    assert ev2 == ([(60, "start", "info")] if covering else [])


def test_both_absent_details_and_end():
    r = ABBothAbsent(ABBothAbsent.Params(update_every_s=1000), RuleContext(roster=ROSTER))
    evs = run_rule(r, ab_frames(lambda t: t >= 80, lambda t: False, n=100))
    assert [(t, s) for t, s, _ in evs] == [(60, "start"), (84, "end")]  # 5 s after the last frame both were out (79)
    d = evs[0][2].details
    assert d["escalate_to"] == "hall_lead" and d["a_name"] == "张三" and d["b_name"] == "李四"
    assert evs[0][2].article == "第二十一条"


def test_duty_with_b_on_another_camera_uses_its_reading_or_is_unknown():
    r = ABBothAbsent(ABBothAbsent.Params(), RuleContext(roster=ROSTER))
    frame = ab_frames(lambda t: False, lambda t: False, n=1)[0]
    found = {f.key: f.cond for f in r.judge(frame)}
    assert found == {("duty", "d1"): True, ("duty", "d2"): None}  # P9: no reading from its camera: unknown
    seen = frame.__class__(**{**frame.__dict__, "remote_posts": {"P9": PostFacts("P9", (), 0)}})
    assert {f.key: f.cond for f in r.judge(seen)}[("duty", "d2")] is True
    staffed = frame.__class__(**{**frame.__dict__, "remote_posts": {"P9": PostFacts("P9", (5,), 0)}})
    assert {f.key: f.cond for f in r.judge(staffed)}[("duty", "d2")] is False
    # a duty whose A post is on another camera is judged there, not here
    only_b = frame.__class__(**{**frame.__dict__, "posts": {"P2": frame.posts["P2"]}})
    assert r.judge(only_b) == []
    assert ABBothAbsent(ABBothAbsent.Params(), RuleContext()).judge(ab_frames(lambda t: 0, lambda t: 0, n=1)[0]) == []


def staff_at(tid, x, y, post_id=None, h=100):
    p = person(track_id=tid, post_id=post_id, box=(x - 20, y - h / 2, x + 20, y + h / 2))
    return p if post_id else p.__class__(**{**p.__dict__, "post_id": None})


@pytest.mark.parametrize("people,expected", [
    ([staff_at(1, 100, 200), staff_at(2, 160, 200), staff_at(3, 220, 210)], True),  # chain within 1 height
    ([staff_at(1, 100, 200), staff_at(2, 160, 200)], False),  # two is not a gathering
    ([staff_at(1, 100, 200), staff_at(2, 160, 200), staff_at(3, 500, 200)], False),  # third far away
    ([staff_at(1, 100, 200, "P1"), staff_at(2, 160, 200), staff_at(3, 220, 200)], False),  # one is at their seat
    ([staff_at(1, 100, 200, h=30), staff_at(2, 160, 200, h=30), staff_at(3, 220, 200, h=30)], False),  # far away, small
])
def test_gathering_judgement(people, expected):
    (f,) = StaffGathering(StaffGathering.Params(), RuleContext()).judge(facts(0, people))
    assert f.cond is expected


def test_gathering_timing():
    r = StaffGathering(StaffGathering.Params(update_every_s=1000), RuleContext())
    group = [staff_at(1, 100, 200), staff_at(2, 160, 200), staff_at(3, 220, 210)]
    frames = [facts(t, group if t < 150 else group[:2]) for t in range(0, 200, 2)]
    evs = run_rule(r, frames)
    assert [(t, s) for t, s, _ in evs] == [(120, "start"), (158, "end")]  # 10 s after the last frame of three (148)
    assert evs[0][2].track_ids == (1, 2, 3) and evs[0][2].details["people"] == 3


def moving(tid, speed_px_s, t, h=100):
    x = 50 + speed_px_s * t
    return staff_at(tid, x, 200, h=h)


@pytest.mark.parametrize("speed_heights,expected", [(0.8, False), (1.2, False), (2.5, True)])
def test_running_speed_in_person_heights(speed_heights, expected):
    r = HallRunning(HallRunning.Params(update_every_s=1000), RuleContext())
    frames = [facts(t, [moving(1, speed_heights * 100, t)]) for t in [i * 0.2 for i in range(20)]]
    evs = run_rule(r, frames)
    assert bool(evs) is expected
    if expected:
        assert evs[0][2].details["speed_heights_per_s"] == pytest.approx(speed_heights, rel=0.05)


def test_running_first_frame_is_not_visible_and_state_is_evicted():
    r = HallRunning(HallRunning.Params(), RuleContext())
    (f,) = r.judge(facts(0, [moving(1, 300, 0)]))
    assert f.cond is None  # a single frame has no speed
    for i in range(2400):
        t = i * 0.5
        r.update(facts(t, [moving(1000 + i // 4, 80, t % 2)]))  # a new track every 2 s: 600 in 20 min
    assert r.state_size <= 2 * (120 / 2) + 10  # only tracks seen in the last 120 s


def test_queue_pressure():
    r = QueuePressure(QueuePressure.Params(update_every_s=1000), RuleContext())
    frames = [facts(t, waiting=8 if t < 100 else 2) for t in range(0, 160)]
    evs = run_rule(r, frames)
    assert [(t, s) for t, s, _ in evs] == [(60, "start"), (129, "end")]
    assert evs[0][2].details["call_role"] == "B" and evs[0][2].details["waiting_count"] == 8
    assert QueuePressure(QueuePressure.Params(), RuleContext()).judge(facts(0, waiting=5))[0].cond is False
