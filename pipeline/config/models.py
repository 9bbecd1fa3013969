"""Site configuration: a tree of strict pydantic models.

Coordinates of zones are normalised 0..1 (x right, y down) so a config survives a
change of stream resolution. Units are in field names (`*_s`, `*_fps`).
Cross-checks are small `verify_*` validators whose messages name the camera,
post and field. Validators never do I/O.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from pipeline.config.backends import BackendConfig
from pipeline.config.geometry import MAX_POLYGON_POINTS, check_polygon
from pipeline.config.rule_params import RuleParams, Severity, StrictModel, TimeWindow
from pipeline.core.sitetime import check_timezone

# The shape of points and polygons is checked by `check_polygon` in the model validators,
# so that a message names the camera, post and field (pydantic's own would name list indices).
Point = Annotated[list[float], Field(json_schema_extra={"minItems": 2, "maxItems": 2})]
Polygon = Annotated[list[Point], Field(json_schema_extra={"minItems": 3, "maxItems": MAX_POLYGON_POINTS},
                                       description="Simple polygon (no self-crossing), normalised 0..1 [x, y] points")]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class PostConfig(StrictModel):
    id: str = Field(min_length=1, description="Post (counter) id, unique in the site")
    name: str = Field("", description="Display name, e.g. 1号窗口")
    seat: Polygon = Field(description="Staff seat zone: a person whose anchor is inside is staff of this post")
    desk: Polygon | None = Field(None, description="Customer-visible desk surface (personal items)")
    customer: Polygon | None = Field(None, description="Where a customer stands or sits at this counter")
    disabled_rules: list[str] = Field(default_factory=list, description="Rule ids switched off at this post")
    upright_tilt_deg: float | None = Field(
        None, ge=-60, le=60,
        description="Image angle of an upright seated body at this post (degrees, + = top towards image right); "
                    "posture rules measure from it instead of a learned or estimated upright")

    @model_validator(mode="after")
    def verify_zones(self) -> PostConfig:
        for name in ("seat", "desk", "customer"):
            poly = getattr(self, name)
            if poly is not None:
                check_polygon(poly, f"field {name!r}")
        return self


class CameraConfig(StrictModel):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="Camera id (letters, digits, _ . -)")
    name: str = Field("", description="Display name")
    source: str = Field("", description="File path, rtsp:// or http(s):// URL, webcam:N, or an image folder")
    enabled: bool = True
    start: dt.datetime | None = Field(None, description="Wall-clock time of the first frame of a recording")
    filename_pattern: str | None = Field(
        None, description="strptime pattern that finds the recording start in the file name, e.g. cam5_%Y%m%d_%H%M%S"
    )
    posts: list[PostConfig] = Field(default_factory=list)
    waiting: list[Polygon] = Field(default_factory=list, description="Waiting-area polygons")
    staff_area: list[Polygon] = Field(default_factory=list, description="Behind-the-counter area (staff, no post)")
    disabled_rules: list[str] = Field(default_factory=list, description="Rule ids switched off on this camera")
    stall_timeout_s: float = Field(10.0, gt=0, le=600, description="No frame this long: the stream is stalled")
    verticals: list[Annotated[list[float], Field(min_length=3, max_length=3)]] = Field(
        default_factory=list,
        description="The true vertical measured at a few image points: [x, y, angle_deg] with x, y normalised 0..1 "
                    "and the angle + towards image right; posture rules interpolate between them")

    @model_validator(mode="after")
    def verify_camera(self) -> CameraConfig:
        seen: set[str] = set()
        for post in self.posts:
            if post.id in seen:
                raise ValueError(f"camera {self.id!r}: post id {post.id!r} appears twice")
            seen.add(post.id)
        for field_name in ("waiting", "staff_area"):
            for i, poly in enumerate(getattr(self, field_name)):
                check_polygon(poly, f"field '{field_name}[{i}]'")
        for i, (x, y, ang) in enumerate(self.verticals):
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0) or not -60.0 <= ang <= 60.0:
                raise ValueError(f"camera {self.id!r} field 'verticals[{i}]': [{x}, {y}, {ang}] needs x, y in 0..1 "
                                 "and an angle within ±60 degrees")
        return self


class OpeningHours(StrictModel):
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: list(DAYS[:5]), description="Weekdays these hours apply to"
    )
    start: str = Field("08:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field("17:30", pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")


class StaffMember(StrictModel):
    id: str = Field(min_length=1)
    name: str = ""
    post: str | None = Field(None, description="Home post id")
    shift: TimeWindow | None = Field(None, description="Shift; default: opening hours")


class DutyRole(StrictModel):
    staff: str = Field(description="Staff id")
    post: str = Field(description="Home post id of this role")


class Duty(StrictModel):
    id: str = Field(min_length=1)
    name: str = ""
    a: DutyRole
    b: DutyRole


class Leave(StrictModel):
    staff: str
    date: dt.date
    until: dt.date | None = Field(None, description="Last day of leave (inclusive); default: same day")


class RosterConfig(StrictModel):
    staff: list[StaffMember] = Field(default_factory=list)
    duties: list[Duty] = Field(default_factory=list)
    leave: list[Leave] = Field(default_factory=list)

    def on_leave(self, staff_id: str, day: dt.date) -> bool:
        return any(lv.staff == staff_id and lv.date <= day <= (lv.until or lv.date) for lv in self.leave)


# Detector and pose backends own their config: each plugin file in pipeline/detectors declares a
# model with a `type: Literal[...]` discriminator and only the fields its backend reads;
# pipeline.settings makes these sections the discriminated unions of those models (a field a backend
# would ignore is an error). A section that names no type gets the default backend's.
DEFAULT_DETECTOR = "yolo_onnx"
DEFAULT_POSE = "yolo_pose"


def with_default_type(value: Any, default: str) -> Any:
    return {"type": default, **value} if isinstance(value, dict) and "type" not in value else value


class PhoneCascadeConfig(StrictModel):
    enabled: bool = Field(True, description="Second detector pass on each staff person's upper-body crop")
    model: str | None = Field("counterwatch_phone.onnx", description="Detector for the crops (the project's phone "
                              "model in models/); null: the main detector")
    conf_threshold: float = Field(0.05, ge=0, le=1, description="Keep crop detections from this score up (the rule's "
                                  "weak_phone_conf; its min_phone_conf decides): see models/counterwatch_phone.md")


class ModelsConfig(StrictModel):
    # the backend sections; pipeline.settings.ModelsConfig types them as the plugins' unions
    detector: BackendConfig = Field(default_factory=lambda: BackendConfig(type=DEFAULT_DETECTOR))
    pose: BackendConfig = Field(default_factory=lambda: BackendConfig(type=DEFAULT_POSE))
    phone_cascade: PhoneCascadeConfig = Field(default_factory=PhoneCascadeConfig)
    post_crops: bool = Field(True, description="Second person/pose pass on a crop around each post (small staff in wide CCTV)")
    post_crops_model: str | None = Field(
        None, description="YOLO-pose file for the post crops, all crops of a frame in one batch when its batch axis "
                          "is dynamic (e.g. yolo11n-pose_fp32_320_dyn.onnx); null: the pose model")

    @field_validator("detector", mode="before")
    @classmethod
    def default_detector_type(cls, value: Any) -> Any:
        return with_default_type(value, DEFAULT_DETECTOR)

    @field_validator("pose", mode="before")
    @classmethod
    def default_pose_type(cls, value: Any) -> Any:
        return with_default_type(value, DEFAULT_POSE)


class GatingConfig(StrictModel):
    """Motion gating per post region: a post where nothing moved reuses its last persons, skeletons and findings."""

    enabled: bool = Field(True, description="Off: every model runs on every analysed frame")
    width: int = Field(160, ge=32, le=1920, description="Width of the small grey copy the frame difference runs on")
    pixel_delta: int = Field(18, ge=1, le=255, description="Grey-level change that counts as a changed pixel")
    min_area: float = Field(0.004, ge=0, le=1, description="Changed fraction of a post region that counts as motion")
    refresh_s: float = Field(5.0, gt=0, le=600, description="A reused result is never older than this")
    moving_every_s: float = Field(
        1.0, ge=0, le=60, description="A region that keeps moving is analysed again at most this often "
                                      "(0: on every analysed frame it moves); a drop in its persons is "
                                      "re-checked at once")


class CadenceConfig(StrictModel):
    """How often each model runs per track, in seconds (0: every analysed frame)."""

    pose_s: float = Field(1.0, ge=0, le=600, description="Pose of a tracked staff member that did not move")
    move_iou: float = Field(0.8, ge=0, le=1, description="A track moved when its box overlaps its box at the last "
                                                         "pose by less than this (IoU)")
    phone_s: float = Field(1.0, ge=0, le=600, description="Phone step per staff track")
    desk_s: float = Field(3.0, ge=0, le=600, description="Body crop of the phone step per staff track: the desk "
                                                         "items it finds are static by nature, so between its runs "
                                                         "the phone step looks at the wrists only and keeps the "
                                                         "items the last body crop found")
    phone_needs_hands: bool = Field(True, description="Phone step only on staff with a visible wrist or elbow")


class AnalysisConfig(StrictModel):
    fps: float = Field(2.0, gt=0, le=60, description="Analysed frames per second")
    pre_roll_s: float = Field(5.0, ge=0, le=120)
    post_roll_s: float = Field(5.0, ge=0, le=120)
    max_clip_s: float = Field(60.0, ge=5, le=3600, description="A clip of a long event is cut after this long")
    clip_fps: float = Field(10.0, gt=0, le=60, description="Frame rate of evidence clips")
    clip_max_width: int = Field(960, ge=160, le=3840, description="Evidence clips are scaled down to this width")
    presence_window_s: float = Field(
        5.0, ge=0, le=120, description="Post presence is the majority vote of the frames over this window "
                                       "(a clerk missed now and then, or a coat on a chair seen now and then)")
    track_lost_s: float = Field(3.0, gt=0, le=120, description="A track unseen this long is dropped")
    blur_customers: bool = Field(True, description="Blur customers' faces in exported evidence")
    gating: GatingConfig = Field(default_factory=GatingConfig)
    cadence: CadenceConfig = Field(default_factory=CadenceConfig)


class SiteInfo(StrictModel):
    id: str = Field("default", pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = ""
    opening_hours: list[OpeningHours] = Field(default_factory=lambda: [OpeningHours()])
    breaks: list[TimeWindow] = Field(default_factory=list)
    closing_grace_s: float = Field(900.0, ge=0, description="How long after closing service.closing_leave watches")
    timezone: str | None = Field(None, max_length=64, description="IANA time zone of the hall, e.g. Asia/Shanghai "
                                 "(opening hours, schedules and displayed times); default: the machine's zone")

    @field_validator("timezone")
    @classmethod
    def verify_timezone(cls, name: str | None) -> str | None:
        return None if name is None else check_timezone(name)


def rule_params(rules: StrictModel, rule_id: str) -> RuleParams:
    return getattr(rules, rule_id.replace(".", "__"))


class WebhookConfig(StrictModel):
    """One alert receiver. Every (webhook, event, state) is delivered exactly once, via the DB outbox."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="Webhook id (outbox key)")
    kind: Literal["generic", "wecom", "dingtalk"] = Field(
        "generic", description="generic JSON POST, WeCom robot markdown or DingTalk robot markdown")
    url: str = Field(pattern=r"^https?://", description="Receiver URL (http:// or https://)")
    secret: str | None = Field(None, description="generic: HMAC-SHA256 key of X-Counterwatch-Signature; "
                                                 "dingtalk: the robot's SEC... signing secret")
    min_severity: Severity = Field("info", description="Lowest severity sent")
    rules: list[str] = Field(default_factory=list, description="Only these rule ids (empty: all)")
    cameras: list[str] = Field(default_factory=list, description="Only these camera ids (empty: all)")
    states: list[Literal["start", "update", "end"]] = Field(
        default_factory=lambda: ["start", "end"], min_length=1, description="Event states sent")
    timeout_s: float = Field(5.0, gt=0, le=60, description="HTTP timeout per delivery attempt")


class MqttConfig(StrictModel):
    """Optional MQTT publishing (needs the extra: pip install counterwatch[mqtt])."""

    host: str = Field(min_length=1)
    port: int = Field(1883, ge=1, le=65535)
    topic: str = Field("counterwatch/{site_id}/{camera_id}/{rule_id}", description="Topic template")
    username: str | None = None
    password: str | None = None
    qos: int = Field(1, ge=0, le=2)


class AlertsConfig(StrictModel):
    public_url: str | None = Field(None, pattern=r"^https?://",
                                   description="Base URL of the web app, for snapshot/clip links in webhooks")
    webhooks: list[WebhookConfig] = Field(default_factory=list)
    mqtt: MqttConfig | None = None
    retry_initial_s: float = Field(1.0, gt=0, le=600, description="First webhook retry delay (doubles each try)")
    retry_max_s: float = Field(300.0, gt=0, le=86400, description="Longest webhook retry delay")
    retry_max_attempts: int = Field(10, ge=1, le=1000, description="Attempts per alert before it is a dead letter "
                                                                  "(kept in the outbox, shown in /metrics)")

    @model_validator(mode="after")
    def verify_webhooks(self) -> AlertsConfig:
        ids = [w.id for w in self.webhooks]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"alerts.webhooks: id(s) {dup} appear more than once")
        return self


class ZoneEditorConfig(StrictModel):
    backups: int = Field(10, ge=0, le=1000, description="Backups of the config file kept by zone-editor saves "
                                                        "(<file>.bak-YYYYmmdd-HHMMSS; the oldest are removed; 0: none)")
class RetentionConfig(StrictModel):
    """How long evidence (clips, snapshots) is kept, by the event's current verdict.

    Events, reviews and the database itself are never purged: only the evidence files.
    """

    confirmed_days: float = Field(365.0, gt=0, le=36500, description="Evidence of confirmed events")
    dismissed_days: float = Field(30.0, gt=0, le=36500, description="Evidence of dismissed events")
    unreviewed_days: float = Field(90.0, gt=0, le=36500, description="Evidence of events nobody reviewed")
    min_free_percent: float = Field(5.0, ge=0, le=90, description="Below this much free disk, the oldest "
                                                                  "unreviewed evidence is purged first")

    @model_validator(mode="after")
    def verify_order(self) -> RetentionConfig:
        if self.confirmed_days < max(self.dismissed_days, self.unreviewed_days):
            raise ValueError("retention: confirmed_days must be at least dismissed_days and unreviewed_days "
                             "(confirmed evidence is kept longest)")
        return self


class SiteConfigBase(StrictModel):
    """The site config but for the rules' parameters, which the rule registry supplies:
    `pipeline.settings.SiteConfig` is this with `rules` (and rule-id checks) composed in."""

    version: int = Field(1, ge=1, le=1, description="Config format version")
    site: SiteInfo = Field(default_factory=SiteInfo)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    cameras: list[CameraConfig] = Field(default_factory=list)
    roster: RosterConfig = Field(default_factory=RosterConfig)
    rules: StrictModel = Field(default_factory=StrictModel, description="Parameters of each rule, by rule id")
    alerts: AlertsConfig = Field(default_factory=AlertsConfig, description="Live alert receivers")
    zone_editor: ZoneEditorConfig = Field(default_factory=ZoneEditorConfig, description="Web zone editor")
    retention: RetentionConfig = Field(default_factory=RetentionConfig, description="Evidence retention")

    @field_validator("cameras")
    @classmethod
    def verify_unique_cameras(cls, cams: list[CameraConfig]) -> list[CameraConfig]:
        ids = [c.id for c in cams]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"camera id(s) {sorted(dup)} appear more than once")
        posts = [p.id for c in cams for p in c.posts]
        dupp = {i for i in posts if posts.count(i) > 1}
        if dupp:
            raise ValueError(f"post id(s) {sorted(dupp)} appear on more than one camera")
        return cams

    @model_validator(mode="after")
    def verify_roster(self) -> SiteConfigBase:
        post_ids = {p.id for c in self.cameras for p in c.posts}
        staff_ids = {s.id for s in self.roster.staff}
        for d in self.roster.duties:
            for role in ("a", "b"):
                r = getattr(d, role)
                if post_ids and r.post not in post_ids:
                    raise ValueError(f"roster duty {d.id!r} field {role}.post: unknown post {r.post!r} "
                                     f"(posts: {', '.join(sorted(post_ids))})")
                if staff_ids and r.staff not in staff_ids:
                    raise ValueError(f"roster duty {d.id!r} field {role}.staff: unknown staff {r.staff!r}")
        return self

    def camera(self, camera_id: str) -> CameraConfig:
        for c in self.cameras:
            if c.id == camera_id:
                return c
        raise KeyError(f"no camera {camera_id!r} in config (cameras: {', '.join(c.id for c in self.cameras)})")

    def post_home(self) -> dict[str, str]:
        """post id -> camera id"""
        return {p.id: c.id for c in self.cameras for p in c.posts}
