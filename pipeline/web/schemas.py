"""Request and response bodies of the JSON API (kept apart: what a client may send is
narrower than what the server returns)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline.config.geometry import MAX_POLYGON_POINTS
from pipeline.web.i18n import CONFIRM_REASONS, DISMISS_REASONS, REASONS

Reason = Literal["false_alarm", "outside_hours", "corrected", "justified", "other", "violation"]
assert set(Reason.__args__) == set(REASONS)  # type: ignore[attr-defined]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# requests -----------------------------------------------------------------------------------
class LoginRequest(_Request):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class VerdictRequest(_Request):
    verdict: Literal["confirmed", "dismissed"]
    reason: Reason = "other"
    note: str = Field("", max_length=2000)

    @model_validator(mode="after")
    def _reason_fits_verdict(self) -> VerdictRequest:
        allowed = CONFIRM_REASONS if self.verdict == "confirmed" else DISMISS_REASONS
        if self.reason not in allowed:
            raise ValueError(f"reason {self.reason!r} does not fit verdict {self.verdict!r} "
                             f"(one of {', '.join(allowed)})")
        return self


class BulkVerdictRequest(VerdictRequest):
    event_ids: list[str] = Field(min_length=1, max_length=500)


class UndoRequest(_Request):
    """Undo a bulk verdict: each event whose latest verdict is still `verdict` by this reviewer gets back
    the verdict it had before (or none)."""

    event_ids: list[str] = Field(min_length=1, max_length=500)
    verdict: Literal["confirmed", "dismissed"]


# Sizes are only bounded here; the geometry (pairs, range, area, no self-crossing) is checked
# on save by pipeline.config.geometry, whose messages name the camera, post and field.
_Pt = Annotated[list[float], Field(max_length=8)]
_Poly = Annotated[list[_Pt], Field(max_length=MAX_POLYGON_POINTS)]


class PostZones(_Request):
    id: str = Field(max_length=200)
    seat: _Poly
    desk: _Poly | None = None
    customer: _Poly | None = None


class ZonesUpdate(_Request):
    """The polygons of one camera. `base_sha256` (from GET) guards against overwriting
    an edit someone else saved in between."""

    posts: list[PostZones] = Field(max_length=500)
    waiting: list[_Poly] = Field(default_factory=list, max_length=100)
    staff_area: list[_Poly] = Field(default_factory=list, max_length=100)
    base_sha256: str | None = Field(None, max_length=64)


# responses ----------------------------------------------------------------------------------
class UserOut(BaseModel):
    username: str
    role: str


class LoginOut(UserOut):
    csrf_token: str


class EventOut(BaseModel):
    event_id: str
    site_id: str
    source: str
    camera_id: str
    camera_name: str
    post_id: str | None
    post_name: str | None
    ongoing: bool
    rule_id: str
    rule_name: str
    article: str
    severity: str
    state: str
    start_s: float
    end_s: float | None
    duration_s: float | None
    wall_start: str | None
    wall_end: str | None
    details: dict[str, Any]
    details_text: list[str]
    clip_url: str | None
    snapshot_url: str | None
    clip_status: str | None
    verdict: str | None
    verdict_reason: str | None


class EventList(BaseModel):
    events: list[EventOut]
    total: int


class ReviewOut(BaseModel):
    verdict: str
    reason: str
    reviewer: str
    note: str
    at: str


class VerdictOut(BaseModel):
    event_id: str
    verdict: str
    history: list[ReviewOut]


class BulkVerdictOut(BaseModel):
    updated: list[str]
    missing: list[str]


class UndoOut(BaseModel):
    restored: dict[str, str | None]  # event id -> the verdict it has again (None: unreviewed)
    skipped: list[str]  # changed again since, or never had this verdict


class QualityRow(BaseModel):
    key: str
    label: str
    events: int
    confirmed: int
    dismissed: int
    unreviewed: int
    fp_rate: float | None


class QualityOut(BaseModel):
    by_rule: list[QualityRow]
    by_camera: list[QualityRow]


class ZonesOut(BaseModel):
    camera_id: str
    posts: list[PostZones]
    waiting: list[list[list[float]]]
    staff_area: list[list[list[float]]]
    sha256: str


class ZonesSaved(ZonesOut):
    backup: str | None
    reloaded: list[str] = Field(default_factory=list, description="Cameras of this process that took the new zones")


class ErrorOut(BaseModel):
    detail: str | list[str]
