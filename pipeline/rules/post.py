"""post.unattended: the staff seat of an open counter is empty (第二十条 / 第七条)."""

from __future__ import annotations

from pydantic import Field

from pipeline.config.rule_params import RuleParams, Severity
from pipeline.rules.base import Finding, Rule, register
from pipeline.scene.facts import SceneFacts


class UnattendedParams(RuleParams):
    min_duration_s: float = Field(120.0, ge=0, le=86400, description="Seat empty this long before an event starts")
    clear_after_s: float = Field(5.0, ge=0, le=3600, description="Staff back this long ends the event")
    cooldown_s: float = Field(0.0, ge=0, le=86400, description="Quiet time after an event ends")
    severity: Severity = Field("medium", description="Severity with no customer")
    customer_waiting_severity: Severity = Field("high", description="Severity while a customer waits at the counter")


@register
class PostUnattended(Rule):
    rule_id = "post.unattended"
    article = "第二十条"
    name_zh = "岗位无人"
    name_en = "Counter unattended"
    Params = UnattendedParams

    def judge(self, facts: SceneFacts) -> list[Finding]:
        out: list[Finding] = []
        for post_id, pf in facts.posts.items():
            empty = not pf.staff_present
            sev = self.params.customer_waiting_severity if (empty and pf.customer_present) else self.params.severity
            out.append(Finding(("post", post_id), empty, post_id=post_id, severity=sev,
                               details={"customers_waiting": pf.customer_count} if empty else {}))
        return out
