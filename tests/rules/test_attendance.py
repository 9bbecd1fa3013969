"""attendance_from_presence, attendance.late_early and service.closing_leave."""

import datetime as dt

import pytest

from pipeline.config.models import RosterConfig, SiteInfo, StaffMember
from pipeline.config.rule_params import TimeWindow
from pipeline.rules.attendance import ClosingLeave, LateEarly, attendance_from_presence
from pipeline.rules.base import RuleContext
from pipeline.scene.facts import PostFacts
from tests.builders import facts, run_rule

DAY = dt.date(2024, 3, 4)  # Monday


def at(hh, mm, ss=0):
    return dt.datetime.combine(DAY, dt.time(hh, mm, ss))


SHIFT = (dt.time(9, 0), dt.time(17, 0))


@pytest.mark.parametrize("intervals,late_s,early_s,early_enough,flags", [
    ([(at(8, 45), at(17, 5))], 0.0, 0.0, True, []),
    ([(at(8, 55), at(17, 0))], 0.0, 0.0, False, ["not_early_enough"]),  # on time but not 10 min before
    ([(at(9, 20), at(17, 0))], 1200.0, 0.0, False, ["late"]),
    ([(at(8, 40), at(16, 30))], 0.0, 1800.0, True, ["early_leave"]),
    ([(at(8, 40), at(12, 0)), (at(13, 0), at(17, 0))], 0.0, 0.0, True, []),  # lunch break is fine
    ([(at(8, 30), at(8, 30, 20)), (at(9, 30), at(17, 0))], 1800.0, 0.0, False, ["late"]),  # 20 s pass-by ignored
    ([(at(7, 0), at(9, 30), "unknown"), (at(9, 30), at(17, 0), "present")], None, 0.0, None, []),  # outage: unknown
    ([(at(8, 0), at(17, 0), "absent")], None, None, None, ["absent"]),
    ([(at(8, 0), at(17, 0), "unknown")], None, None, None, ["unknown"]),
])
def test_attendance_from_presence(intervals, late_s, early_s, early_enough, flags):
    (row,) = attendance_from_presence(intervals, SHIFT, DAY)
    assert row.late_s == late_s and row.early_leave_s == early_s
    assert row.arrived_early_enough is early_enough and row.flags == flags
    assert row.to_dict()["day"] == "2024-03-04"


def test_attendance_many_subjects_and_shifts():
    rows = attendance_from_presence({"P1": [(at(8, 40), at(17, 0))], "P2": [(at(13, 5), at(21, 0))]},
                                    {"P1": SHIFT, "P2": TimeWindow(start="13:00", end="21:00")}, DAY)
    assert [(r.subject, r.flags, r.late_s) for r in rows] == [("P1", [], 0.0), ("P2", ["late"], 300.0)]


SITE = SiteInfo(closing_grace_s=900)  # opening hours 08:30-17:30 Mon-Fri


def live(rule, start, n, present, customers=0, waiting=0, step=10, online=lambda t: True):
    frames = []
    for i in range(n):
        t = i * step
        wall = start + dt.timedelta(seconds=t)
        frames.append(facts(t, posts={"P1": PostFacts("P1", (1,) if present(wall) else (), customers)},
                            waiting=waiting, wall=wall, online=online(t)))
    return run_rule(rule, frames)


def test_late_event_starts_at_shift_start_and_ends_on_arrival():
    r = LateEarly(LateEarly.Params(update_every_s=3600), RuleContext(site=SITE))
    evs = live(r, at(8, 0), 400, lambda w: w >= at(8, 50))
    assert [(s, e.details.get("kind")) for _, s, e in evs] == [("start", "late"), ("end", "late")]
    assert evs[0][0] == 30 * 60  # 08:30 opening
    assert evs[1][2].end_s == 50 * 60 - 10  # the last frame the post was still empty


def test_roster_shift_beats_opening_hours_and_on_time_gives_nothing():
    roster = RosterConfig(staff=[StaffMember(id="s1", post="P1", shift=TimeWindow(start="09:00", end="17:00"))])
    r = LateEarly(LateEarly.Params(), RuleContext(site=SITE, roster=roster))
    assert live(r, at(8, 0), 400, lambda w: w >= at(8, 50)) == []  # shift at 09:00: on time


def test_early_leave_known_when_the_shift_ends():
    r = LateEarly(LateEarly.Params(), RuleContext(site=SITE))
    evs = live(r, at(16, 0), 120, lambda w: w < at(17, 0), step=60)
    assert [(s, e.details["kind"]) for _, s, e in evs] == [("start", "early_leave"), ("end", "early_leave")]
    assert evs[0][2].details["early_leave_s"] == pytest.approx(31 * 60)  # last seen 16:59, closing 17:30
    assert evs[0][0] == 90 * 60  # emitted when the clock passes 17:30


def test_watching_from_after_the_shift_start_cannot_prove_lateness():
    r = LateEarly(LateEarly.Params(), RuleContext(site=SITE))
    assert live(r, at(9, 0), 100, lambda w: False) == []


def test_no_wall_clock_no_attendance_and_state_bounded():
    r = LateEarly(LateEarly.Params(), RuleContext(site=SITE))
    assert run_rule(r, [facts(t) for t in range(100)]) == []
    for d in range(30):
        start = dt.datetime.combine(DAY + dt.timedelta(days=d), dt.time(8, 0))
        live(r, start, 3, lambda w: True)
    assert r.state_size <= 4


def test_closing_leave():
    r = ClosingLeave(ClosingLeave.Params(update_every_s=3600), RuleContext(site=SITE))
    # staff serve until 17:35 then leave while 2 customers still wait
    evs = live(r, at(17, 20), 200, lambda w: w < at(17, 35), waiting=2)
    assert [s for _, s, _ in evs] == ["start", "end"]  # ends when the closing watch (17:45) is over
    assert evs[0][0] == 15 * 60 + 30 and evs[0][2].severity == "high"
    assert evs[0][2].details["customers_waiting"] == 2 and evs[0][2].article == "第三十一条"
    # nobody waiting: leaving at closing is fine
    r2 = ClosingLeave(ClosingLeave.Params(), RuleContext(site=SITE))
    assert live(r2, at(17, 20), 200, lambda w: w < at(17, 35)) == []
    # leaving at lunch with customers waiting is not this rule (post.unattended covers it)
    r3 = ClosingLeave(ClosingLeave.Params(), RuleContext(site=SITE))
    assert live(r3, at(12, 0), 200, lambda w: w < at(12, 5), waiting=3) == []
