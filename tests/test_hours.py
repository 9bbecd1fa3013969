import datetime as dt

import pytest

from pipeline.config.hours import closing_time, is_open, rule_active
from pipeline.config.models import SiteInfo
from pipeline.config.rule_params import RuleParams, TimeWindow

SITE = SiteInfo(opening_hours=[{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:30", "end": "17:30"},
                               {"days": ["sat"], "start": "09:00", "end": "12:00"}],
                breaks=[{"start": "12:00", "end": "13:00"}])
FRI = dt.date(2026, 11, 27)  # a Friday


@pytest.mark.parametrize("when, expected", [
    (dt.datetime(2026, 11, 27, 8, 29), False),
    (dt.datetime(2026, 11, 27, 8, 30), True),
    (dt.datetime(2026, 11, 27, 17, 29, 59), True),
    (dt.datetime(2026, 11, 27, 17, 30), False),
    (dt.datetime(2026, 11, 28, 10, 0), True),  # Saturday morning
    (dt.datetime(2026, 11, 28, 13, 0), False),
    (dt.datetime(2026, 11, 29, 10, 0), False),  # Sunday
    (None, True),  # unknown wall clock: taken as inside opening hours
])
def test_is_open(when, expected):
    assert is_open(SITE, when) is expected


def test_rule_windows_and_breaks():
    p = RuleParams()
    assert rule_active(SITE, p, dt.datetime(2026, 11, 27, 10, 0))
    assert not rule_active(SITE, p, dt.datetime(2026, 11, 27, 12, 30))  # lunch break
    assert rule_active(SITE, RuleParams(skip_breaks=False), dt.datetime(2026, 11, 27, 12, 30))
    assert rule_active(SITE, RuleParams(active="always"), dt.datetime(2026, 11, 29, 3, 0))
    own = RuleParams(active=[TimeWindow(start="16:00", end="18:00")])
    assert rule_active(SITE, own, dt.datetime(2026, 11, 29, 17, 0))
    assert not rule_active(SITE, own, dt.datetime(2026, 11, 27, 10, 0))
    assert closing_time(SITE, FRI) == dt.datetime(2026, 11, 27, 17, 30)
