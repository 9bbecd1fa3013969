"""Database tables (SQLAlchemy 2). Events, clips, reviews and presence are separate tables.

The same schema serves SQLite (default, WAL) and PostgreSQL (by URL). A change here needs a new
revision in pipeline/events/migrations/versions/; tests/events/test_migrations.py checks that the
revisions build exactly these tables.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class EventRow(Base):
    __tablename__ = "events"
    event_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64), default="default", index=True)
    source: Mapped[str] = mapped_column(String(8), default="live")  # live | batch
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    post_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    rule_id: Mapped[str] = mapped_column(String(64), index=True)
    article: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(8))  # start | update | end (last seen)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    wall_start: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True, index=True)  # local time
    wall_end: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    track_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    score: Mapped[float] = mapped_column(Float, default=1.0)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    recording: Mapped[str | None] = mapped_column(Text, nullable=True)  # source file of a recorded clip
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    # set when a re-analysis of the recording no longer finds the event (kept with its reviews, hidden by default)
    superseded_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class ClipRow(Base):
    __tablename__ = "clips"
    event_id: Mapped[str] = mapped_column(ForeignKey("events.event_id", ondelete="CASCADE"), primary_key=True)
    clip_path: Mapped[str | None] = mapped_column(Text, nullable=True)  # relative to the data dir
    snapshot_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | ready | partial | failed
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class ReviewRow(Base):
    """Every verdict is kept (audit log); the latest one per event is the current verdict."""

    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # RESTRICT: a review is the audit trail; the database refuses to delete an event that has one
    event_id: Mapped[str] = mapped_column(ForeignKey("events.event_id", ondelete="RESTRICT"), index=True)
    verdict: Mapped[str] = mapped_column(String(12))  # confirmed | dismissed | withdrawn (undone)
    reason: Mapped[str] = mapped_column(String(32), default="")
    reviewer: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class PresenceRow(Base):
    """Per-post presence intervals: present | absent | unknown (camera outage)."""

    __tablename__ = "presence"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(String(64), default="default")
    source: Mapped[str] = mapped_column(String(8), default="live")
    camera_id: Mapped[str] = mapped_column(String(64))
    post_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(8))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    wall_start: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    wall_end: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    recording: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_presence_post_time", "post_id", "wall_start"),)


class OutageRow(Base):
    __tablename__ = "outages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(String(64), default="default")
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    start: Mapped[dt.datetime] = mapped_column(DateTime)
    end: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")


class CameraStateRow(Base):
    __tablename__ = "camera_state"
    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64), default="default")
    state: Mapped[str] = mapped_column(String(16))  # online | reconnecting | offline
    fps: Mapped[float] = mapped_column(Float, default=0.0)
    drop_rate: Mapped[float] = mapped_column(Float, default=0.0)
    latency_s: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class AnalysisRow(Base):
    """A recording analysed by the batch: content hash + config version make it idempotent."""

    __tablename__ = "analyses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    config_version: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))  # running | done | failed
    error: Mapped[str] = mapped_column(Text, default="")
    video_s: Mapped[float] = mapped_column(Float, default=0.0)
    wall_s: Mapped[float] = mapped_column(Float, default=0.0)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class UserRow(Base):
    __tablename__ = "users"
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(12))  # admin | supervisor | viewer
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # revision 0003


class SessionRow(Base):
    """A web login (revision 0003). The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "web_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(ForeignKey("users.username", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    client: Mapped[str] = mapped_column(String(64), default="")


class OutboxRow(Base):
    """Persistent webhook outbox: an alert stays here until its receiver took it."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sink: Mapped[str] = mapped_column(String(64), index=True)
    event_id: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(8))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    dead_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)  # attempt limit reached

    __table_args__ = (Index("ix_outbox_pending", "delivered_at", "next_at"),)


class UprightRefRow(Base):
    """A post's learned upright posture axis (posture rules measure the change from it)."""

    __tablename__ = "upright_reference"
    site_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    post_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    angle_deg: Mapped[float | None] = mapped_column(Float, nullable=True)
    n_samples: Mapped[int] = mapped_column(Integer, default=0)
    samples: Mapped[list[float]] = mapped_column(JSON, default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
