"""attendance.late_early and service.closing_leave (the daily attendance table: tests/reports)."""

import datetime as dt

import pytest

from pipeline.config.models import RosterConfig, SiteInfo, StaffMember
from pipeline.config.rule_params import TimeWindow
from pipeline.rules.attendance import ClosingLeave, LateEarly
from pipeline.rules.base import RuleContext
from pipeline.scene.facts import PostFacts
from tests.builders import facts, run_rule

DAY = dt.date(2024, 3, 4)  # Monday


def at(hh, mm, ss=0):
    return dt.datetime.combine(DAY, dt.time(hh, mm, ss))


SHIFT = (dt.time(9, 0), dt.time(17, 0))


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
