from pipeline.rules.base import RuleContext
from pipeline.rules.post import PostUnattended, UnattendedParams
from tests.builders import facts, post_facts


def run(rule, seq):
    """seq: (t, staff_present, customers, online) -> list of (t, state)"""
    out = []
    for t, present, customers, online in seq:
        for ev in rule.update(facts(t, posts=post_facts(staff=(1,) if present else (), customers=customers),
                                    online=online)):
            out.append((t, ev.state, ev))
    return out


def make(**kw):
    return PostUnattended(UnattendedParams(min_duration_s=10, clear_after_s=4, cooldown_s=20, **kw), RuleContext())


def test_start_after_min_duration_and_end_after_clear():
    seq = [(t, t < 5, 0, True) for t in range(0, 40)]  # empty from t=5
    seq += [(t, True, 0, True) for t in range(40, 50)]
    evs = run(make(update_every_s=1000), seq)
    states = [(t, s) for t, s, _ in evs]
    assert states == [(15, "start"), (43, "end")]  # 4 s after the last empty frame (39)
    end = evs[-1][2]
    assert end.start_s == 5 and end.end_s == 39
    assert end.details["duration_s"] == 34


def test_short_gap_does_not_start_and_flicker_does_not_end():
    seq = [(t, not (3 <= t < 8), 0, True) for t in range(0, 12)]  # 5 s empty < 10 s
    assert run(make(), seq) == []
    # long absence with a 2 s flicker of presence (< clear_after_s): one event only
    seq = [(t, t in (20, 21), 0, True) for t in range(0, 40)]
    states = [s for _, s, _ in run(make(update_every_s=1000), seq)]
    assert states == ["start"]


def test_cooldown_blocks_restart():
    seq = [(t, False, 0, True) for t in range(0, 15)]  # start at 10
    seq += [(t, True, 0, True) for t in range(15, 20)]  # ends at 18: 4 s after the last empty frame (14)
    seq += [(t, False, 0, True) for t in range(20, 45)]  # cooldown 20 s: eligible again only at >= 38
    states = [(t, s) for t, s, _ in run(make(update_every_s=1000), seq)]
    assert states[0] == (10, "start") and states[1][1] == "end"
    assert states[1] == (18, "end") and states[2] == (38, "start")


def test_customer_waiting_raises_severity_and_outage_is_unknown():
    seq = [(t, False, 1, True) for t in range(0, 12)]
    evs = run(make(), seq)
    assert evs[0][2].severity == "high"
    # an outage (online=False) neither starts nor ends events
    r = make(update_every_s=1000)
    seq = [(t, False, 0, False) for t in range(0, 30)]
    assert run(r, seq) == []


def test_state_is_bounded_over_long_run():
    r = make()
    for t in range(0, 5000):
        r.update(facts(t, posts=post_facts(post_id=f"P{t % 7}", staff=())))
    assert r.state_size <= 7
