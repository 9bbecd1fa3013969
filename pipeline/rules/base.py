"""Rule engine primitives.

A rule is a pure object: `update(facts, ctx) -> list[Event]`. Time comes from
`facts.t` (seconds); no I/O happens here. Subjects (a post, a track, a duty) each
get a `Dwell` state machine with enter-after / clear-after / cooldown timing, and
the state of subjects not seen for a while is evicted so memory stays bounded.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from pipeline.config.rule_params import RuleParams, Severity
from pipeline.core.types import SEVERITY_ORDER, Event, new_event_id
from pipeline.scene.facts import SceneFacts

RULES: dict[str, type[Rule]] = {}


def register(cls: type[Rule]) -> type[Rule]:
    """Class decorator: make a rule discoverable by its rule_id."""
    if cls.rule_id in RULES and RULES[cls.rule_id] is not cls:
        raise ValueError(f"rule id {cls.rule_id!r} registered twice")
    RULES[cls.rule_id] = cls
    return cls


@dataclass
class RuleContext:
    """What a rule may know besides the facts: the site, passed in at the edge."""

    site_id: str = "default"
    camera_id: str = ""
    active: Any = None  # callable(rule_params, wall: datetime|None) -> bool; None = always active
    roster: Any = None  # pipeline.config.models.RosterConfig | None
    post_ids: tuple[str, ...] = ()
    wall_at: Any = None  # callable(t) -> datetime | None
    site: Any = None  # pipeline.config.models.SiteInfo | None (opening/closing times)
    upright: Any = None  # pipeline.rules.upright.UprightModel shared by a camera's pose rules, or None

    def is_active(self, params: RuleParams, wall: datetime | None) -> bool:
        return True if self.active is None else bool(self.active(params, wall))


@dataclass
class Dwell:
    """Hysteresis for one subject.

    idle -> (condition held for min_duration_s) -> active (event start)
    active -> (condition absent for clear_after_s) -> idle (event end) -> cooldown_s
    Unknown time (camera offline) neither advances nor clears: it is simply skipped.
    """

    min_duration_s: float
    clear_after_s: float
    cooldown_s: float
    first_true: float | None = None
    last_true: float | None = None
    last_seen: float | None = None
    active: bool = False
    cooldown_until: float = float("-inf")
    event: Event | None = None
    last_update: float = 0.0
    peak: dict[str, Any] = field(default_factory=dict)

    def step(self, cond: bool, t: float) -> str | None:
        """Advance to time t. Returns 'start', 'end' or None."""
        if self.last_seen is not None and t < self.last_seen:
            return None  # out-of-order frame: ignore
        self.last_seen = t
        if cond:
            if self.first_true is None:
                self.first_true = t
            self.last_true = t
            if not self.active and t >= self.cooldown_until and t - self.first_true >= self.min_duration_s:
                self.active = True
                return "start"
            return None
        # condition false
        if self.active:
            if self.last_true is not None and t - self.last_true >= self.clear_after_s:
                self.active = False
                self.first_true = None
                self.cooldown_until = t + self.cooldown_s
                return "end"
            return None
        if self.first_true is not None and (self.last_true is None or t - self.last_true >= self.clear_after_s):
            self.first_true = None  # a gap longer than clear_after_s resets the run
        return None


@dataclass(frozen=True)
class Finding:
    """A frame-level judgement about one subject, before any timing.

    cond: True = violation seen in this frame, False = not seen,
    None = cannot be judged (keypoints not visible): never counted as compliant.
    """

    key: Hashable
    cond: bool | None
    post_id: str | None = None
    track_ids: tuple[int, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    severity: Severity | None = None
    score: float = 1.0


class Rule(ABC):
    """Base for all rules. Subclasses set the class attributes and implement `update`."""

    rule_id: ClassVar[str]
    article: ClassVar[str]  # key into pipeline.rules.articles.ARTICLES
    name_zh: ClassVar[str]
    name_en: ClassVar[str]
    Params: ClassVar[type[RuleParams]] = RuleParams
    evict_after_s: ClassVar[float] = 600.0

    def __init__(self, params: RuleParams, ctx: RuleContext):
        self.params = params
        self.ctx = ctx
        self._dwell: dict[Hashable, Dwell] = {}

    @abstractmethod
    def judge(self, facts: SceneFacts) -> list[Finding]:
        """Frame-level judgement of every subject (used by `update` and by `counterwatch eval`)."""

    def update(self, facts: SceneFacts) -> list[Event]:
        """Consume one frame's facts; return events that started, updated or ended now.

        A subject judged None (not visible) holds its timer: neither advances nor clears.
        Subjects that vanished from the frame are stepped with a false condition.
        """
        out: list[Event] = []
        seen: set = set()
        for f in self.judge(facts):
            seen.add(f.key)
            if f.cond is None:
                continue
            out += self.step(f.key, f.cond, facts, post_id=f.post_id, track_ids=f.track_ids,
                             details=f.details, severity=f.severity, score=f.score)
        if facts.online:
            out += self.step_missing(seen, facts)
        return out

    # helpers shared by rule implementations -------------------------------------------------

    def enabled_for(self, post_id: str | None) -> bool:
        p = self.params
        if not p.enabled or self.ctx.camera_id in p.disabled_cameras:
            return False
        return post_id is None or post_id not in p.disabled_posts

    def dwell(self, key: Hashable) -> Dwell:
        d = self._dwell.get(key)
        if d is None:
            p = self.params
            d = Dwell(p.min_duration_s, p.clear_after_s, p.cooldown_s)
            self._dwell[key] = d
        return d

    def step(
        self,
        key: Hashable,
        cond: bool,
        facts: SceneFacts,
        *,
        post_id: str | None,
        track_ids: tuple[int, ...] = (),
        details: dict[str, Any] | None = None,
        severity: Severity | None = None,
        score: float = 1.0,
    ) -> list[Event]:
        """Drive the Dwell for `key` and turn its transitions into events.

        Outside the rule's active window the condition is treated as false, so
        running events end and none start.
        """
        t = facts.t
        if not facts.online:
            return []  # unknown time: neither compliant nor violating
        if cond and not (self.enabled_for(post_id) and self.ctx.is_active(self.params, facts.wall)):
            cond = False
        d = self.dwell(key)
        before = d.first_true
        transition = d.step(cond, t)
        details = dict(details or {})
        sev = severity or self.params.severity
        out: list[Event] = []
        if transition == "start":
            start_s = before if before is not None else t
            details["duration_s"] = round(t - start_s, 2)
            ev = Event(
                event_id=new_event_id(),
                rule_id=self.rule_id,
                article=self.article,
                source_id=facts.source_id,
                post_id=post_id,
                track_ids=tuple(int(x) for x in track_ids),
                state="start",
                severity=sev,  # type: ignore[arg-type]
                start_s=start_s,
                end_s=None,
                score=score,
                details=details,
                site_id=self.ctx.site_id,
                wall_start=_wall_epoch(self.ctx, start_s),
            )
            d.event, d.last_update, d.peak = ev, t, details
            out.append(ev)
        elif transition == "end" and d.event is not None:
            end_s = d.last_true if d.last_true is not None else t
            merged = {**d.peak, "duration_s": round(end_s - d.event.start_s, 2)}
            out.append(d.event.with_(state="end", end_s=end_s, details=merged))
            d.event = None
        elif d.active and d.event is not None and cond:
            ev = d.event
            merged = {**d.peak, **details, "duration_s": round(t - ev.start_s, 2)}
            d.peak = merged
            ids = tuple(sorted(set(ev.track_ids) | {int(x) for x in track_ids}))
            escalate = SEVERITY_ORDER[sev] > SEVERITY_ORDER[ev.severity]
            if escalate or ids != ev.track_ids:
                d.event = ev.with_(severity=sev if escalate else ev.severity, track_ids=ids)
            if escalate or t - d.last_update >= self.params.update_every_s:
                d.last_update = t
                d.event = d.event.with_(details=merged)
                out.append(d.event.with_(state="update", end_s=t))
        self._evict(t)
        return out

    def step_missing(self, seen: set, facts: SceneFacts, **kw: Any) -> list[Event]:
        """Step every known subject not in `seen` with a false condition (its track left)."""
        out: list[Event] = []
        for key in [k for k in self._dwell if k not in seen]:
            d = self._dwell.get(key)
            if d is None:  # evicted by an earlier step in this loop
                continue
            if not d.active and d.first_true is None:
                continue  # idle: nothing to advance; leaving last_seen alone lets eviction drop it
            post_id = d.event.post_id if d.event is not None else None
            out += self.step(key, False, facts, post_id=post_id, **kw)
        return out

    def flush(self, t: float) -> list[Event]:
        """End every running event (end of file, shutdown)."""
        out = []
        for d in self._dwell.values():
            if d.active and d.event is not None:
                end_s = d.last_true if d.last_true is not None else t
                out.append(d.event.with_(state="end", end_s=end_s,
                                         details={**d.peak, "duration_s": round(end_s - d.event.start_s, 2)}))
                d.active, d.event = False, None
        return out

    def _evict(self, t: float) -> None:
        if len(self._dwell) < 64:
            return
        stale = [k for k, d in self._dwell.items()
                 if not d.active and d.last_seen is not None and t - d.last_seen > self.evict_after_s]
        for k in stale:
            del self._dwell[k]

    @property
    def state_size(self) -> int:
        return len(self._dwell)


def _wall_epoch(ctx: RuleContext, t: float) -> float | None:
    if ctx.wall_at is None:
        return None
    w = ctx.wall_at(t)
    return None if w is None else w.timestamp()
