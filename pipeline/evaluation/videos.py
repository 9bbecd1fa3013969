"""`counterwatch eval videos`: event-level accuracy of the whole pipeline on labelled clips.

Each scenario is a clip, a site config (zones, roster, thresholds) and ground-truth
events in media seconds. The clip runs through `pipeline.analyze.analyze_file` (the
same code as `counterwatch analyze`), and predicted events are matched to the ground
truth by rule (+post) with temporal IoU >= 0.3, so timing, tracking and hysteresis
are all part of what is measured.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.analyze import analyze_file
from pipeline.core.errors import ConfigError
from pipeline.evaluation.labels import known_rules
from pipeline.evaluation.metrics import Counts, Interval, event_counts, match_events, merge_counts
from pipeline.settings import load_config

log = logging.getLogger(__name__)


@dataclass
class Scenario:
    id: str
    clip: str  # relative to the data dir
    config: Path
    camera: str | None
    rules: list[str]
    events: list[Interval] = field(default_factory=list)
    quiet: list[str] = field(default_factory=list)  # rule ids nobody breaks in the clip: every event is a false alarm


def _interval(raw: Any, where: str) -> Interval:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping {{rule, post, start_s, end_s}}")
    unknown = set(raw) - {"rule", "post", "start_s", "end_s", "note"}
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    try:
        start, end = float(raw["start_s"]), float(raw["end_s"])
        rule = str(raw["rule"])
    except KeyError as exc:
        raise ConfigError(f"{where}: missing field {exc.args[0]!r}") from None
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: start_s and end_s must be numbers of seconds") from None
    if end < start:
        raise ConfigError(f"{where}: end_s {end} is before start_s {start}")
    post = raw.get("post")
    return Interval(rule=rule, start_s=start, end_s=end, post=None if post is None else str(post))


def load_scenarios(path: str | Path) -> list[Scenario]:
    """Read and check a scenarios file; errors name the file, scenario and field."""

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{p}: scenarios file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: invalid YAML: {exc}") from None
    items = data.get("scenarios") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{p}: field 'scenarios' must be a non-empty list")
    known = known_rules()
    out: list[Scenario] = []
    seen: set[str] = set()
    for i, raw in enumerate(items):
        sid = raw.get("id") if isinstance(raw, dict) else None
        where = f"{p}: scenario {sid!r}" if sid else f"{p}: scenario #{i + 1}"
        if not isinstance(raw, dict) or not sid:
            raise ConfigError(f"{where}: needs at least id, clip, config")
        if sid in seen:
            raise ConfigError(f"{where}: id appears twice")
        seen.add(sid)
        for key in ("clip", "config"):
            if not raw.get(key):
                raise ConfigError(f"{where}: missing field {key!r}")
        events = [_interval(e, f"{where} events[{j}]") for j, e in enumerate(raw.get("events") or [])]
        rules = [str(r) for r in (raw.get("rules") or sorted({e.rule for e in events}))]
        if not rules:
            raise ConfigError(f"{where}: field 'rules' is empty and there are no events to take rules from")
        for r in rules + [e.rule for e in events]:
            if r not in known:
                raise ConfigError(f"{where}: unknown rule id {r!r}")
        for e in events:
            if e.rule not in rules:
                raise ConfigError(f"{where}: event of rule {e.rule!r} not in the scenario's rules {rules}")
        quiet = _quiet_rules(raw.get("quiet") or [], known, where)
        cfg = (p.parent / str(raw["config"])).resolve()
        if not cfg.is_file():
            raise ConfigError(f"{where} field 'config': {cfg} not found")
        out.append(Scenario(id=str(sid), clip=str(raw["clip"]), config=cfg,
                            camera=None if raw.get("camera") is None else str(raw["camera"]),
                            rules=rules, events=events, quiet=quiet))
    return out


def _quiet_rules(raw: Any, known: set[str], where: str) -> list[str]:
    """`quiet`: rule ids, or a family name such as `posture` for every `posture.*` rule."""
    if not isinstance(raw, list):
        raise ConfigError(f"{where} field 'quiet': must be a list of rule ids or rule families")
    out: set[str] = set()
    for name in (str(x) for x in raw):
        hits = {r for r in known if r == name or r.startswith(name + ".")}
        if not hits:
            raise ConfigError(f"{where} field 'quiet': {name!r} is neither a rule id nor a rule family")
        out |= hits
    return sorted(out)


def quiet_figures(per: dict[str, Any]) -> dict[str, Any]:
    """False alarms per hour of video, per rule, over the clips where nobody breaks that rule."""
    out: dict[str, dict[str, Any]] = {}
    for sc in per.values():
        for rule in sc.get("quiet_rules", []):
            c = out.setdefault(rule, {"events": 0, "video_s": 0.0, "clips": 0})
            c["events"] += sc["quiet_events"].get(rule, 0)
            c["video_s"] += sc["video_s"]
            c["clips"] += 1
    for c in out.values():
        c["video_s"] = round(c["video_s"], 2)
        c["false_alarms_per_hour"] = None if c["video_s"] <= 0 else round(c["events"] * 3600.0 / c["video_s"], 2)
    return dict(sorted(out.items()))


def quiet_table(quiet: dict[str, Any]) -> str:
    head = f"{'rule (nobody breaks it)':<24} {'clips':>5} {'video s':>8} {'events':>6} {'FA/hour':>8}"
    lines = [head, "-" * len(head)]
    for rule, c in quiet.items():
        fa = "  -  " if c["false_alarms_per_hour"] is None else f"{c['false_alarms_per_hour']:.1f}"
        lines.append(f"{rule:<24} {c['clips']:>5} {c['video_s']:>8.1f} {c['events']:>6} {fa:>8}")
    return "\n".join(lines)


def predicted_intervals(events: list[dict[str, Any]], rules: list[str]) -> list[Interval]:
    """Finished events of the scored rules; an event still open at the end ends where it was last seen."""
    out = []
    for e in events:
        if e["rule_id"] not in rules:
            continue
        end = e.get("end_s")
        start = float(e["start_s"])
        out.append(Interval(rule=e["rule_id"], start_s=start, end_s=start if end is None else float(end),
                            post=e.get("post_id"), ref=e))
    return out


def _iv(x: Interval) -> dict[str, Any]:
    return {"rule": x.rule, "post": x.post, "start_s": round(x.start_s, 2), "end_s": round(x.end_s, 2)}


def score_scenario(sc: Scenario, events: list[dict[str, Any]], min_iou: float) -> dict[str, Any]:
    preds = predicted_intervals(events, sc.rules)
    matches, fn, fp = match_events(sc.events, preds, min_iou)
    counts = event_counts(sc.events, preds, min_iou, sc.rules)
    return {
        "counts": counts,
        "matches": [{"gt": _iv(m.gt), "pred": _iv(m.pred), "iou": round(m.iou, 3)} for m in matches],
        "fn": [_iv(g) for g in fn],
        "fp": [_iv(p) for p in fp],
    }


def evaluate_videos(scenarios: list[Scenario], data_dir: str | Path, out_dir: str | Path, *,
                    min_iou: float = 0.3, progress: bool = True) -> tuple[dict[str, Any], dict[str, Counts]]:
    """Run every scenario through analyze_file and score it -> (JSON document, summed counts)."""

    root, out = Path(data_dir), Path(out_dir)
    per: dict[str, Any] = {}
    parts: list[dict[str, Counts]] = []
    for sc in scenarios:
        clip = root / sc.clip
        if not clip.is_file():
            raise ConfigError(f"scenario {sc.id!r} field 'clip': {clip} not found")
        cfg = load_config(sc.config)
        log.info("scenario %s: %s", sc.id, clip.name)
        res = analyze_file(clip, cfg, sc.camera, out / sc.id, source="batch", progress=progress)
        scored = score_scenario(sc, res.events, min_iou)
        parts.append(scored["counts"])
        per[sc.id] = {
            "clip": sc.clip, "config": str(sc.config), "camera": sc.camera, "rules": sc.rules,
            "models": cfg.models.model_dump(mode="json"),
            "counts": {r: c.as_dict() for r, c in scored["counts"].items()},
            "matches": scored["matches"], "fn": scored["fn"], "fp": scored["fp"],
            "video_s": round(res.video_s, 2), "wall_s": round(res.wall_s, 2), "frames": res.frames,
            "error": res.error,
        }
        if sc.quiet:
            ids: dict[str, set[str]] = {r: set() for r in sc.quiet}
            for e in res.events:
                if e["rule_id"] in ids:
                    ids[e["rule_id"]].add(str(e.get("event_id")))
            per[sc.id]["quiet_rules"] = sc.quiet
            per[sc.id]["quiet_events"] = {r: len(v) for r, v in ids.items()}
    total = merge_counts(parts)
    doc = {"rules": {r: c.as_dict() for r, c in sorted(total.items())}, "scenarios": per, "min_iou": min_iou,
           "quiet": quiet_figures(per)}
    return doc, total
