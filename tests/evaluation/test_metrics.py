"""Metrics on synthetic predictions, including the edge cases of temporal-IoU matching."""

from __future__ import annotations

import pytest

from pipeline.evaluation.metrics import (
    Counts,
    Interval,
    confusion,
    event_counts,
    match_events,
    merge_counts,
    temporal_iou,
)


def iv(rule: str, a: float, b: float, post: str | None = None) -> Interval:
    return Interval(rule, a, b, post)


@pytest.mark.parametrize("a,b,expected", [
    ((0, 10), (0, 10), 1.0),
    ((0, 10), (5, 15), 5 / 15),
    ((0, 10), (10, 20), 0.0),   # touching, no overlap
    ((0, 10), (20, 30), 0.0),   # disjoint
    ((0, 10), (2, 4), 0.2),     # contained
    ((3, 3), (3, 3), 1.0),      # identical points
    ((3, 3), (0, 10), 0.0),     # a point inside an interval has no length to share
    ((3, 3), (4, 4), 0.0),
])
def test_temporal_iou(a, b, expected):
    assert temporal_iou(iv("r", *a), iv("r", *b)) == pytest.approx(expected)
    assert temporal_iou(iv("r", *b), iv("r", *a)) == pytest.approx(expected)


def test_interval_rejects_end_before_start():
    with pytest.raises(ValueError, match="before start_s"):
        iv("r", 5, 4)


def test_counts_undefined_figures_are_none_not_zero():
    c = Counts()
    assert c.precision is None and c.recall is None and c.f1 is None
    c.add(label=False, predicted=False)
    assert c.tn == 1 and c.precision is None
    c.add(label=True, predicted=False)
    assert c.recall == 0.0 and c.precision is None and c.f1 is None
    c.add(label=True, predicted=True)
    c.add(label=False, predicted=True)
    assert (c.tp, c.fp, c.fn, c.tn, c.n) == (1, 1, 1, 1, 4)
    assert c.precision == 0.5 and c.recall == 0.5 and c.f1 == 0.5
    d = c.as_dict()
    assert d == {"tp": 1, "fp": 1, "fn": 1, "tn": 1, "precision": 0.5, "recall": 0.5, "f1": 0.5, "n": 4}


def test_f1_zero_when_precision_and_recall_zero():
    c = Counts(tp=0, fp=3, fn=2)
    assert c.precision == 0.0 and c.recall == 0.0 and c.f1 == 0.0


def test_confusion_skips_unjudgeable_and_treats_missing_prediction_as_negative():
    labels = {
        "a.jpg": {"phone.use": 1, "posture.head_down": 0},
        "b.jpg": {"phone.use": 0, "posture.head_down": None},
        "c.jpg": {"phone.use": 1, "posture.head_down": 1},
        "d.jpg": {"phone.use": None, "posture.head_down": 0},
    }
    preds = {
        "a.jpg": {"phone.use": True, "posture.head_down": True},
        "b.jpg": {"phone.use": True, "posture.head_down": True},
        # c.jpg: nobody judged -> negative for both
        "d.jpg": {"phone.use": True, "posture.head_down": False},
    }
    c = confusion(labels, preds, ["phone.use", "posture.head_down"])
    assert (c["phone.use"].tp, c["phone.use"].fp, c["phone.use"].fn, c["phone.use"].tn) == (1, 1, 1, 0)
    assert c["phone.use"].n == 3  # d.jpg is not judged for phone.use
    assert (c["posture.head_down"].tp, c["posture.head_down"].fp, c["posture.head_down"].fn,
            c["posture.head_down"].tn) == (0, 1, 1, 1)
    assert c["posture.head_down"].n == 3  # b.jpg is not judged for head_down


def test_match_requires_min_iou():
    gts = [iv("post.unattended", 0, 10, "P1")]
    m, fn, fp = match_events(gts, [iv("post.unattended", 7, 17, "P1")], min_iou=0.3)  # IoU 3/17
    assert not m and fn == gts and len(fp) == 1
    m, fn, fp = match_events(gts, [iv("post.unattended", 3, 12, "P1")], min_iou=0.3)  # IoU 7/12
    assert len(m) == 1 and m[0].iou == pytest.approx(7 / 12) and not fn and not fp


def test_match_exactly_at_threshold_counts():
    gts = [iv("r", 0, 10)]
    preds = [iv("r", 7, 10)]  # IoU 0.3 exactly
    m, fn, fp = match_events(gts, preds, min_iou=0.3)
    assert len(m) == 1 and not fn and not fp


def test_match_by_rule_and_post():
    gts = [iv("post.unattended", 0, 10, "P1")]
    preds = [iv("post.unattended", 0, 10, "P2"), iv("phone.use", 0, 10, "P1")]
    m, fn, fp = match_events(gts, preds)
    assert not m and len(fn) == 1 and len(fp) == 2


def test_ground_truth_without_post_matches_any_post():
    m, fn, fp = match_events([iv("posture.slouch", 0, 4)], [iv("posture.slouch", 1, 4, None)])
    assert len(m) == 1
    m, fn, fp = match_events([iv("posture.slouch", 0, 4)], [iv("posture.slouch", 1, 4, "P9")])
    assert len(m) == 1


def test_one_to_one_best_pairs_first():
    # one long prediction overlapping two ground-truth events: only one can match it
    gts = [iv("r", 0, 4), iv("r", 5, 10)]
    preds = [iv("r", 0, 10)]
    m, fn, fp = match_events(gts, preds, min_iou=0.3)
    assert len(m) == 1 and m[0].gt == gts[1]  # 5/10 beats 4/10
    assert fn == [gts[0]] and not fp


def test_split_prediction_gives_one_tp_and_one_fp():
    gts = [iv("r", 0, 10)]
    preds = [iv("r", 0, 6), iv("r", 7, 10)]
    c = event_counts(gts, preds, 0.3)["r"]
    assert (c.tp, c.fp, c.fn) == (1, 1, 0)


def test_greedy_prefers_higher_iou_over_order():
    gts = [iv("r", 0, 10), iv("r", 8, 20)]
    preds = [iv("r", 7, 19)]  # IoU with gt0 = 3/19, with gt1 = 11/13
    m, fn, fp = match_events(gts, preds, min_iou=0.1)
    assert m[0].gt == gts[1] and fn == [gts[0]]


def test_event_counts_restricted_to_scored_rules():
    gts = [iv("post.unattended", 0, 10, "P1")]
    preds = [iv("post.unattended", 1, 10, "P1"), iv("phone.use", 0, 3)]
    c = event_counts(gts, preds, 0.3, rules=["post.unattended", "roster.ab_both_absent"])
    assert set(c) == {"post.unattended", "roster.ab_both_absent"}
    assert (c["post.unattended"].tp, c["post.unattended"].fp) == (1, 0)
    assert c["roster.ab_both_absent"].n == 0


def test_empty_ground_truth_and_predictions():
    c = event_counts([], [], 0.3, rules=["r"])["r"]
    assert c.n == 0 and c.precision is None and c.recall is None
    c = event_counts([], [iv("r", 0, 1)], 0.3, rules=["r"])["r"]
    assert c.fp == 1 and c.precision == 0.0 and c.recall is None


def test_merge_counts():
    a = {"r": Counts(1, 2, 3, 4)}
    b = {"r": Counts(1, 0, 0, 1), "s": Counts(0, 1, 0, 0)}
    m = merge_counts([a, b])
    assert (m["r"].tp, m["r"].fp, m["r"].fn, m["r"].tn) == (2, 2, 3, 5)
    assert m["s"].fp == 1
    assert a["r"].tp == 1  # inputs untouched


def test_person_counts_per_judged_person():
    from pipeline.evaluation.images import ImageResult, person_counts

    def fs(*conds):
        return [{"key": str(i), "cond": c, "details": {}} for i, c in enumerate(conds)]

    results = [
        ImageResult("neg1.jpg", {"r": 0}, {"r": True}, {"r": fs(True, False, False, None)}),
        ImageResult("neg2.jpg", {"r": 0}, {"r": False}, {"r": fs(False, None)}),
        ImageResult("pos.jpg", {"r": 1}, {"r": True}, {"r": fs(True, False)}),
        ImageResult("unk.jpg", {"r": None}, {"r": True}, {"r": fs(True)}),
    ]
    c = person_counts(results, ["r"])["r"]
    assert c["persons_judged_on_negatives"] == 4 and c["person_false_alarms"] == 1
    assert c["false_alarms_per_person"] == 0.25 and c["false_alarm_image_rate"] == 0.5
    assert c["persons_judged_on_positives"] == 2 and c["persons_flagged_on_positives"] == 1
    assert c["not_visible_share"] == round(2 / 9, 4)
