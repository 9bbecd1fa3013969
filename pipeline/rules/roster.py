"""A/B-role coverage (第十七条, 第十九条-第二十一条).

Each duty has an A and a B with home posts. Presence is per post (someone staff is
in that post's seat), not per identity: the project does not recognise faces.
  - A and B both absent (or A on leave and B absent) -> `roster.ab_both_absent`,
    high severity, to be escalated to the hall lead (第二十一条).
  - A absent (or on leave) and B present -> `roster.b_covering`, info only: the
    roster working as intended, recorded for the daily report, not a violation.
A duty is judged by the camera that sees A's post. When B's post is on another
camera, its presence comes from `facts.remote_posts` (the PresenceBoard of a live
run); without a fresh reading the duty is not judged (unknown, never absent).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from pipeline.config.rule_params import RuleParams, Severity
from pipeline.rules.base import Finding, Rule, register
from pipeline.scene.facts import SceneFacts


def _names(roster: Any) -> dict[str, str]:
    return {s.id: (s.name or s.id) for s in getattr(roster, "staff", [])}


def duty_states(facts: SceneFacts, roster: Any) -> list[dict[str, Any]]:
    """Per duty judged on this camera: who is present, who is on leave."""
    if roster is None:
        return []
    day = facts.wall.date() if facts.wall is not None else None
    names = _names(roster)
    out = []
    for d in roster.duties:
        pa = facts.posts.get(d.a.post)
        pb = facts.posts.get(d.b.post) or facts.remote_posts.get(d.b.post)
        if pa is None:
            continue  # A's post is another camera's: judged there
        out.append({
            "duty": d,
            "a_present": pa.staff_present,
            "b_present": None if pb is None else pb.staff_present,  # None: B's camera has no fresh reading
            "a_on_leave": bool(day is not None and roster.on_leave(d.a.staff, day)),
            "b_on_leave": bool(day is not None and roster.on_leave(d.b.staff, day)),
            "details": {"duty_id": d.id, "duty_name": d.name, "a_staff": d.a.staff, "b_staff": d.b.staff,
                        "a_name": names.get(d.a.staff, d.a.staff), "b_name": names.get(d.b.staff, d.b.staff),
                        "a_post": d.a.post, "b_post": d.b.post},
        })
    return out


class BothAbsentParams(RuleParams):
    min_duration_s: float = Field(60.0, ge=0, le=86400, description="Both absent this long before an event starts")
    clear_after_s: float = Field(5.0, ge=0, le=3600, description="One of them back this long ends the event")
    cooldown_s: float = Field(0.0, ge=0, le=86400, description="Quiet time after an event ends")
    severity: Severity = Field("high", description="Severity")
    escalate_to: str = Field("hall_lead", min_length=1, description="Who arranges cover (第二十一条: 客服中心负责人)")


@register
class ABBothAbsent(Rule):
    rule_id = "roster.ab_both_absent"
    article = "第二十一条"
    name_zh = "AB角同时不在岗"
    name_en = "A and B both absent"
    Params = BothAbsentParams

    def judge(self, facts: SceneFacts) -> list[Finding]:
        out = []
        for s in duty_states(facts, self.ctx.roster):
            a_away = s["a_on_leave"] or not s["a_present"]
            cond = None if s["b_present"] is None else (a_away and not s["b_present"])
            det = {**s["details"], "escalate_to": self.params.escalate_to, "a_on_leave": s["a_on_leave"],
                   "a_present": s["a_present"], "b_present": s["b_present"]}
            out.append(Finding(("duty", s["duty"].id), cond, post_id=s["duty"].a.post, details=det))
        return out


class BCoveringParams(RuleParams):
    min_duration_s: float = Field(60.0, ge=0, le=86400, description="A away and B present this long before it is recorded")
    clear_after_s: float = Field(5.0, ge=0, le=3600, description="A back (or B gone) this long ends the record")
    cooldown_s: float = Field(0.0, ge=0, le=86400, description="Quiet time after a record ends")
    severity: Severity = Field("info", description="Severity (a record, not a violation)")


@register
class BCovering(Rule):
    rule_id = "roster.b_covering"
    article = "第二十条"
    name_zh = "B角顶岗"
    name_en = "B covering for A"
    Params = BCoveringParams

    def judge(self, facts: SceneFacts) -> list[Finding]:
        out = []
        for s in duty_states(facts, self.ctx.roster):
            a_away = s["a_on_leave"] or not s["a_present"]
            cond = None if s["b_present"] is None else (a_away and s["b_present"])
            det = {**s["details"], "a_on_leave": s["a_on_leave"]}
            out.append(Finding(("duty", s["duty"].id), cond, post_id=s["duty"].b.post, details=det))
        return out
