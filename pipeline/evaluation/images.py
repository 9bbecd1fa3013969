"""`counterwatch eval images`: each rule's frame-level judgement on labelled still images.

It runs the same detector, pose, scene and `Rule.judge` code as the live pipeline,
without timing, so a rule's image-level precision and recall measure what the rule
sees in one frame. A bare image has no zones: everyone is staff with no post, and a
personal item counts when it lies on a desk or table surface.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from pipeline.config.models import rule_params
from pipeline.core.errors import ConfigError, SourceError
from pipeline.evaluation.metrics import Counts, confusion
from pipeline.processor import build_models, image_facts
from pipeline.rules import catalog  # noqa: F401  (registers every rule)
from pipeline.rules.base import RULES, Finding, Rule, RuleContext
from pipeline.scene.facts import SceneFacts
from pipeline.settings import SiteConfig

log = logging.getLogger(__name__)


@dataclass
class ImageResult:
    """What the rules saw in one image (kept for the JSON and the FP/FN page)."""

    image: str
    labels: dict[str, int | None]
    predicted: dict[str, bool]
    findings: dict[str, list[dict[str, Any]]]
    facts: SceneFacts | None = None  # not serialised; used to draw overlays
    error: str | None = None


@dataclass
class ImageEval:
    rules: list[str]
    counts: dict[str, Counts]
    images: list[ImageResult]
    thresholds: dict[str, dict[str, Any]]
    models: dict[str, Any]
    wall_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self, config: dict[str, Any]) -> dict[str, Any]:
        return {
            "rules": {r: self.counts[r].as_dict() for r in self.rules},
            "thresholds": self.thresholds,
            "config": config,
            "models": self.models,
            "images": [{"image": r.image, "labels": r.labels, "predicted": r.predicted,
                        "findings": r.findings, **({"error": r.error} if r.error else {})}
                       for r in self.images],
            "wall_s": round(self.wall_s, 2),
            **self.extra,
        }


def build_judges(cfg: SiteConfig, rule_ids: list[str]) -> dict[str, Rule]:
    """One rule instance per rule id, with the config's params (the operating thresholds)."""

    out: dict[str, Rule] = {}
    for rid in rule_ids:
        cls = RULES.get(rid)
        if cls is None:
            raise ConfigError(f"labels: unknown rule id {rid!r} (known: {', '.join(sorted(RULES))})")
        ctx = RuleContext(site_id=cfg.site.id, camera_id="image", roster=cfg.roster)
        if "site" in RuleContext.__dataclass_fields__:
            ctx.site = cfg.site  # type: ignore[attr-defined]
        out[rid] = cls(rule_params(cfg.rules, rid), ctx)
    return out


def bare_image_facts(models: Any, image: np.ndarray, cfg: SiteConfig) -> SceneFacts:
    """Scene facts of a bare image: every person is staff with no post (no zones)."""

    facts, _persons = image_facts(models, image, cfg)
    return facts


def finding_json(f: Finding) -> dict[str, Any]:
    def clean(v: Any) -> Any:
        if isinstance(v, (np.floating, float)):
            return round(float(v), 3)
        if isinstance(v, np.integer):
            return int(v)
        if isinstance(v, np.ndarray):
            return [clean(x) for x in v.tolist()]
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (str, int, bool)) or v is None:
            return v
        return str(v)

    return {"key": str(f.key), "cond": f.cond, "post_id": f.post_id, "track_ids": [int(t) for t in f.track_ids],
            "details": clean(dict(f.details))}


def judge_image(judges: dict[str, Rule], facts: SceneFacts) -> tuple[dict[str, bool], dict[str, list[dict]]]:
    """Predicted positive for a rule when any of its findings is True in this frame."""
    predicted: dict[str, bool] = {}
    findings: dict[str, list[dict]] = {}
    for rid, rule in judges.items():
        fs = rule.judge(facts)
        predicted[rid] = any(f.cond is True for f in fs)
        findings[rid] = [finding_json(f) for f in fs]
    return predicted, findings


def read_image(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SourceError(f"{path}: cannot be read as an image")
    return img


def evaluate_images(data_dir: str | Path, labels: dict[str, dict[str, int | None]], rules: list[str],
                    cfg: SiteConfig, *, models: Any = None, progress: bool = True,
                    keep_facts: bool = True,
                    facts_fn: Callable[[Any, np.ndarray, SiteConfig], SceneFacts] | None = None) -> ImageEval:
    """Run every labelled image through the models and each rule's `judge`, then count."""

    root = Path(data_dir)
    judges = build_judges(cfg, rules)
    models = models if models is not None else build_models(cfg)
    facts_fn = facts_fn or bare_image_facts
    results: list[ImageResult] = []
    t0 = time.perf_counter()
    for image in tqdm(sorted(labels), desc="eval images", unit="img", disable=not progress):
        lab = labels[image]
        try:
            facts = facts_fn(models, read_image(root / image), cfg)
        except SourceError as exc:
            log.warning("%s", exc)
            results.append(ImageResult(image, lab, {}, {}, None, error=str(exc)))
            continue
        predicted, findings = judge_image(judges, facts)
        results.append(ImageResult(image, lab, predicted, findings, facts if keep_facts else None))
    wall = time.perf_counter() - t0
    counts = confusion({r.image: r.labels for r in results}, {r.image: r.predicted for r in results}, rules)
    thresholds = {rid: judges[rid].params.model_dump(mode="json") for rid in rules}
    return ImageEval(rules=rules, counts=counts, images=results, thresholds=thresholds,
                     models=cfg.models.model_dump(mode="json"), wall_s=wall,
                     extra={"persons": person_counts(results, rules)})


def person_counts(results: list[ImageResult], rules: list[str]) -> dict[str, dict[str, Any]]:
    """Per-person figures for every rule, from the findings of each image.

    A person is judged when the rule's finding for them is True or False (not "not
    visible"). On images labelled 0 for a rule nobody breaks it, so every person
    flagged there is a false alarm: `false_alarms_per_person` = flagged / judged on
    those images. `not_visible_share` is the share of findings that declined to judge.
    """
    out: dict[str, dict[str, Any]] = {}
    for rid in rules:
        judged_neg = flagged_neg = judged_pos = flagged_pos = findings = unjudged = 0
        neg_images = neg_flagged_images = 0
        for r in results:
            lab = r.labels.get(rid)
            fs = r.findings.get(rid, [])
            findings += len(fs)
            unjudged += sum(f["cond"] is None for f in fs)
            judged = sum(f["cond"] is not None for f in fs)
            flagged = sum(f["cond"] is True for f in fs)
            if lab == 0:
                judged_neg, flagged_neg = judged_neg + judged, flagged_neg + flagged
                neg_images += 1
                neg_flagged_images += flagged > 0
            elif lab == 1:
                judged_pos, flagged_pos = judged_pos + judged, flagged_pos + flagged
        out[rid] = {
            "persons_judged_on_negatives": judged_neg,
            "person_false_alarms": flagged_neg,
            "false_alarms_per_person": None if not judged_neg else round(flagged_neg / judged_neg, 4),
            "negative_images": neg_images,
            "false_alarm_image_rate": None if not neg_images else round(neg_flagged_images / neg_images, 4),
            "persons_judged_on_positives": judged_pos,
            "persons_flagged_on_positives": flagged_pos,
            "not_visible_share": None if not findings else round(unjudged / findings, 4),
        }
    return out


def persons_table(persons: dict[str, dict[str, Any]]) -> str:
    """Terminal lines for the per-person figures."""
    head = f"{'rule':<24} {'judged(neg)':>11} {'FA persons':>10} {'FA/person':>9} {'FA/image':>8} {'not visible':>11}"
    lines = [head, "-" * len(head)]
    for rid in sorted(persons):
        c = persons[rid]

        def f(x: float | None) -> str:
            return "  -  " if x is None else f"{x:.3f}"

        lines.append(f"{rid:<24} {c['persons_judged_on_negatives']:>11} {c['person_false_alarms']:>10} "
                     f"{f(c['false_alarms_per_person']):>9} {f(c['false_alarm_image_rate']):>8} "
                     f"{f(c['not_visible_share']):>11}")
    return "\n".join(lines)


def threshold_summary(params: dict[str, Any]) -> str:
    """The rule-specific numbers of a params dump, for the terminal table."""
    skip = {"enabled", "active", "skip_breaks", "disabled_cameras", "disabled_posts", "update_every_s",
            "cooldown_s", "severity", "clear_after_s"}
    parts = [f"{k}={v}" for k, v in params.items() if k not in skip and isinstance(v, (int, float, str))]
    return ", ".join(parts)
