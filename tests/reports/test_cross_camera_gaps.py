"""A/B gaps of a duty whose posts are on two cameras, rebuilt from the day's presence."""

import datetime as dt

from pipeline.reports.data import cross_camera_gaps
from pipeline.settings import parse_config

CFG = parse_config("""
site: {opening_hours: [{days: [mon, tue, wed, thu, fri], start: "08:30", end: "17:30"}]}
cameras:
  - id: cam1
    posts: [{id: P1, seat: [[0, 0], [0.5, 0], [0.5, 1]]}, {id: P3, seat: [[0.5, 0], [1, 0], [1, 1]]}]
  - id: cam2
    posts: [{id: P2, seat: [[0, 0], [0.5, 0], [0.5, 1]]}]
roster:
  staff: [{id: a, post: P1}, {id: b, post: P2}, {id: c, post: P3}]
  duties:
    - {id: d1, name: 社保, a: {staff: a, post: P1}, b: {staff: b, post: P2}}
    - {id: d2, name: same camera, a: {staff: a, post: P1}, b: {staff: c, post: P3}}
  leave: [{staff: a, date: 2026-11-27}]
rules:
  roster.ab_both_absent: {min_duration_s: 120}
""")
DAY = dt.date(2026, 11, 26)  # Thursday


def at(h, m):
    return dt.datetime.combine(DAY, dt.time(h, m))


def test_both_absent_overlap_is_a_gap_and_unknown_is_not():
    timeline = {
        "P1": [(at(9, 0), at(10, 0), "present"), (at(10, 0), at(10, 30), "absent"), (at(10, 30), at(17, 0), "present")],
        "P2": [(at(9, 0), at(10, 10), "present"), (at(10, 10), at(10, 40), "absent"),
               (at(10, 40), at(11, 0), "present"), (at(11, 0), at(12, 0), "unknown")],
        "P3": [(at(9, 0), at(17, 0), "absent")],
    }
    rows = cross_camera_gaps(CFG, DAY, timeline)
    assert [(r["duty"], r["start"], r["end"], r["minutes"]) for r in rows] == [("社保", at(10, 10), at(10, 30), 20.0)]
    assert rows[0]["event_id"] is None and rows[0]["article"] == "第二十一条"


def test_short_gap_left_out_and_leave_counts_as_away():
    timeline = {"P1": [(at(9, 0), at(17, 0), "present")],
                "P2": [(at(9, 0), at(9, 1), "absent"), (at(9, 1), at(17, 0), "present")]}
    assert cross_camera_gaps(CFG, DAY, timeline) == []  # A present; and 1 min < 120 s anyway
    leave_day = dt.date(2026, 11, 27)
    timeline = {"P2": [(dt.datetime(2026, 11, 27, 14, 0), dt.datetime(2026, 11, 27, 14, 5), "absent")]}
    rows = cross_camera_gaps(CFG, leave_day, timeline)
    assert len(rows) == 1 and rows[0]["minutes"] == 5.0
