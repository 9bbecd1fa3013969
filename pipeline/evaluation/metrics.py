"""Pure metrics: confusion counts, precision/recall/F1 and temporal-IoU event matching.

Kept free of models and I/O so the numbers every accuracy claim rests on can be
tested with synthetic predictions, including the edge cases of interval matching.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Counts:
    """Confusion counts for one rule. `n` counts only judged items (label 0 or 1)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float | None:
        """None when nothing was predicted positive: precision is undefined, not 0 or 1."""
        d = self.tp + self.fp
        return None if d == 0 else self.tp / d

    @property
    def recall(self) -> float | None:
        """None when there are no positives to find."""
        d = self.tp + self.fn
        return None if d == 0 else self.tp / d

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    def add(self, label: bool, predicted: bool) -> None:
        if label and predicted:
            self.tp += 1
        elif label:
            self.fn += 1
        elif predicted:
            self.fp += 1
        else:
            self.tn += 1

    def as_dict(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn,
                "precision": r(self.precision), "recall": r(self.recall), "f1": r(self.f1), "n": self.n}


def confusion(labels: Mapping[str, Mapping[str, int | None]],
              predictions: Mapping[str, Mapping[str, bool]], rules: Iterable[str]) -> dict[str, Counts]:
    """Per-rule counts over images. A label of None (cannot be judged) is left out.

    An image with a label but no prediction for the rule counts as predicted negative:
    a rule that found nobody to judge has not flagged the image.
    """
    out = {r: Counts() for r in rules}
    for image, lab in labels.items():
        pred = predictions.get(image, {})
        for rule, c in out.items():
            v = lab.get(rule)
            if v is None:
                continue
            c.add(bool(v), bool(pred.get(rule, False)))
    return out


# --- events over time ---------------------------------------------------------------------

@dataclass(frozen=True)
class Interval:
    rule: str
    start_s: float
    end_s: float
    post: str | None = None
    ref: Any = field(default=None, compare=False)  # the event dict it came from

    def __post_init__(self) -> None:
        if self.end_s < self.start_s:
            raise ValueError(f"{self.rule}: end_s {self.end_s} is before start_s {self.start_s}")


def temporal_iou(a: Interval, b: Interval) -> float:
    """Intersection over union of two time intervals.

    Zero-length intervals (an event that started and ended on one frame) are treated as
    a point: IoU 1 with an identical point, else the point's share of the other interval
    is 0 by length, so they only match an identical point.
    """
    inter = min(a.end_s, b.end_s) - max(a.start_s, b.start_s)
    union = max(a.end_s, b.end_s) - min(a.start_s, b.start_s)
    if union <= 0:
        return 1.0 if a.start_s == b.start_s else 0.0
    return max(0.0, inter) / union


def _same_subject(gt: Interval, pred: Interval) -> bool:
    """Ground truth without a post matches any post; with a post, only that post."""
    return gt.rule == pred.rule and (gt.post is None or gt.post == pred.post)


@dataclass
class Match:
    gt: Interval
    pred: Interval
    iou: float


def match_events(gts: list[Interval], preds: list[Interval], min_iou: float = 0.3
                 ) -> tuple[list[Match], list[Interval], list[Interval]]:
    """One-to-one matching by rule (+post), greedy on IoU, best pairs first.

    Returns (matches, unmatched ground truth = FN, unmatched predictions = FP). Greedy
    on sorted IoU gives the same result as optimal assignment for the usual case of
    non-overlapping events per subject, and is easy to reason about when it does not.
    """
    pairs: list[tuple[float, int, int]] = []
    for i, g in enumerate(gts):
        for j, p in enumerate(preds):
            if _same_subject(g, p):
                iou = temporal_iou(g, p)
                if iou >= min_iou and iou > 0:
                    pairs.append((iou, i, j))
    pairs.sort(key=lambda x: (-x[0], x[1], x[2]))
    used_g: set[int] = set()
    used_p: set[int] = set()
    matches: list[Match] = []
    for iou, i, j in pairs:
        if i in used_g or j in used_p:
            continue
        used_g.add(i)
        used_p.add(j)
        matches.append(Match(gts[i], preds[j], iou))
    fn = [g for i, g in enumerate(gts) if i not in used_g]
    fp = [p for j, p in enumerate(preds) if j not in used_p]
    return matches, fn, fp


def event_counts(gts: list[Interval], preds: list[Interval], min_iou: float = 0.3,
                 rules: Iterable[str] | None = None) -> dict[str, Counts]:
    """Event-level TP/FP/FN per rule (TN is not defined for events and stays 0)."""
    names = set(rules) if rules is not None else {x.rule for x in gts} | {x.rule for x in preds}
    out = {r: Counts() for r in sorted(names)}
    matches, fn, fp = match_events([g for g in gts if g.rule in out], [p for p in preds if p.rule in out], min_iou)
    for m in matches:
        out[m.gt.rule].tp += 1
    for g in fn:
        out[g.rule].fn += 1
    for p in fp:
        out[p.rule].fp += 1
    return out


def merge_counts(parts: Iterable[Mapping[str, Counts]]) -> dict[str, Counts]:
    """Sum per-rule counts over scenarios or data folders."""
    out: dict[str, Counts] = {}
    for part in parts:
        for rule, c in part.items():
            t = out.setdefault(rule, Counts())
            t.tp += c.tp
            t.fp += c.fp
            t.fn += c.fn
            t.tn += c.tn
    return out


def fmt(x: float | None) -> str:
    return "  -  " if x is None else f"{x:.3f}"


def counts_table(counts: Mapping[str, Counts], extra: Mapping[str, str] | None = None) -> str:
    """A plain-text table of per-rule figures for the terminal."""
    head = f"{'rule':<24} {'TP':>4} {'FP':>4} {'FN':>4} {'TN':>4} {'n':>4}  {'prec':>6} {'recall':>6} {'F1':>6}"
    lines = [head, "-" * len(head)]
    for rule in sorted(counts):
        c = counts[rule]
        line = (f"{rule:<24} {c.tp:>4} {c.fp:>4} {c.fn:>4} {c.tn:>4} {c.n:>4}  "
                f"{fmt(c.precision):>6} {fmt(c.recall):>6} {fmt(c.f1):>6}")
        if extra and rule in extra:
            line += f"  {extra[rule]}"
        lines.append(line)
    return "\n".join(lines)
