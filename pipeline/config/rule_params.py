"""The parameter block every rule shares. Each rule file subclasses it.

`Severity` is the one severity type of the config (the same as an `Event`'s severity):
a rule's `Params` declares each severity field with it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.core.types import Severity

__all__ = ["RuleParams", "Severity", "StrictModel", "TimeWindow"]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TimeWindow(StrictModel):
    start: str = Field(description="Local time HH:MM", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(description="Local time HH:MM (exclusive); 24:00 allowed", pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")


class RuleParams(StrictModel):
    """Shared by all rules. Durations are seconds of frame time, never frame counts."""

    enabled: bool = Field(True, description="Switch the rule on or off for the whole site")
    min_duration_s: float = Field(5.0, ge=0, le=86400, description="Condition must hold this long before an event starts")
    clear_after_s: float = Field(3.0, ge=0, le=3600, description="Condition must be absent this long before the event ends")
    cooldown_s: float = Field(30.0, ge=0, le=86400, description="After an event ends, no new event for the same subject for this long")
    update_every_s: float = Field(30.0, gt=0, le=3600, description="Emit an update for a running event this often")
    severity: Severity = Field("medium", description="Base severity")
    active: Literal["opening_hours", "always"] | list[TimeWindow] = Field(
        "opening_hours", description="When the rule may raise events: opening hours (minus breaks), always, or own windows"
    )
    skip_breaks: bool = Field(True, description="No events during configured breaks")
    disabled_cameras: list[str] = Field(default_factory=list, description="Camera ids where the rule is off")
    disabled_posts: list[str] = Field(default_factory=list, description="Post ids where the rule is off")
