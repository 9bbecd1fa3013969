"""第五十一条 attendance: only seen absence proves lateness or leaving early; missing footage never counts as on time."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.reports.attendance import judge

D = dt.date(2026, 11, 26)
SHIFT = (dt.datetime(2026, 11, 26, 8, 30), dt.datetime(2026, 11, 26, 17, 30))


def iv(a: str, b: str, st: str):
    def at(s: str) -> dt.datetime:
        h, m = map(int, s.split(":"))
        return dt.datetime(2026, 11, 26, h, m)

    return (at(a), at(b), st)


@pytest.mark.parametrize(("intervals", "expected"), [
    ([iv("08:00", "17:40", "present")], ["st_ok"]),
    ([iv("08:10", "08:25", "absent"), iv("08:25", "17:40", "present")], ["st_not_early"]),
    ([iv("08:00", "08:45", "absent"), iv("08:45", "17:40", "present")], ["st_late"]),
    # footage starts at 08:45 with the staff already there: arrival cannot be judged
    ([iv("08:45", "17:40", "present")], ["st_unknown_start"]),
    # an outage (unknown) between the absence and the arrival: cannot be judged either
    ([iv("08:00", "08:10", "absent"), iv("08:10", "08:40", "unknown"), iv("08:40", "17:40", "present")],
     ["st_unknown_start"]),
    ([iv("08:00", "17:00", "present"), iv("17:00", "17:45", "absent")], ["st_early_leave"]),
    ([iv("08:00", "17:00", "present")], ["st_unknown_end"]),
    ([iv("08:00", "12:00", "absent")], ["st_absent"]),
    ([iv("08:00", "12:00", "unknown")], ["st_no_data"]),
    ([], ["st_no_data"]),
    # presence written in chunks is joined before judging
    ([iv("08:00", "08:35", "absent"), iv("08:35", "10:00", "present"), iv("10:00", "17:40", "present")],
     ["st_late"]),
])
def test_judge(intervals, expected):
    assert judge(intervals, SHIFT)["status"] == expected


def test_minutes_late_and_early():
    row = judge([iv("08:00", "08:47", "absent"), iv("08:47", "16:50", "present"), iv("16:50", "18:00", "absent")],
                SHIFT)
    assert row["status"] == ["st_late", "st_early_leave"]
    assert row["late_min"] == pytest.approx(17) and row["early_min"] == pytest.approx(40)
    assert row["first_seen"] == dt.datetime(2026, 11, 26, 8, 47)
