"""The base schema, as the store first created it: events, clips, reviews, presence, outages,
camera state, analyses, users and the webhook outbox.

Revision ID: 0001
Revises: -
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _table(name: str, *columns: sa.Column | sa.Constraint, indexes: tuple[tuple[str, list[str]], ...] = ()) -> None:
    """Create a table and its indexes unless it is there (a database made by create_all has them)."""
    if sa.inspect(op.get_bind()).has_table(name):
        return
    op.create_table(name, *columns)
    for index, cols in indexes:
        op.create_index(index, name, cols)


def upgrade() -> None:
    _table(
        "events",
        sa.Column("event_id", sa.String(32), primary_key=True),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("post_id", sa.String(64), nullable=True),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("article", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("start_s", sa.Float, nullable=False),
        sa.Column("end_s", sa.Float, nullable=True),
        sa.Column("wall_start", sa.DateTime, nullable=True),
        sa.Column("wall_end", sa.DateTime, nullable=True),
        sa.Column("track_ids", sa.JSON, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("recording", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        indexes=(("ix_events_site_id", ["site_id"]), ("ix_events_camera_id", ["camera_id"]),
                 ("ix_events_post_id", ["post_id"]), ("ix_events_rule_id", ["rule_id"]),
                 ("ix_events_wall_start", ["wall_start"])),
    )
    _table(
        "clips",
        sa.Column("event_id", sa.String(32), sa.ForeignKey("events.event_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("clip_path", sa.Text, nullable=True),
        sa.Column("snapshot_path", sa.Text, nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    _table(
        "reviews",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(32), sa.ForeignKey("events.event_id", ondelete="CASCADE"), nullable=False),
        sa.Column("verdict", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        indexes=(("ix_reviews_event_id", ["event_id"]),),
    )
    _table(
        "presence",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("post_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("start_s", sa.Float, nullable=False),
        sa.Column("end_s", sa.Float, nullable=False),
        sa.Column("wall_start", sa.DateTime, nullable=True),
        sa.Column("wall_end", sa.DateTime, nullable=True),
        sa.Column("recording", sa.Text, nullable=True),
        indexes=(("ix_presence_post_time", ["post_id", "wall_start"]),),
    )
    _table(
        "outages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("start", sa.DateTime, nullable=False),
        sa.Column("end", sa.DateTime, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        indexes=(("ix_outages_camera_id", ["camera_id"]),),
    )
    _table(
        "camera_state",
        sa.Column("camera_id", sa.String(64), primary_key=True),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("fps", sa.Float, nullable=False),
        sa.Column("drop_rate", sa.Float, nullable=False),
        sa.Column("latency_s", sa.Float, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    _table(
        "analyses",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("config_version", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("video_s", sa.Float, nullable=False),
        sa.Column("wall_s", sa.Float, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        indexes=(("ix_analyses_sha256", ["sha256"]),),
    )
    _table(
        "users",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.String(12), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    _table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sink", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", sa.DateTime, nullable=False),
        sa.Column("delivered_at", sa.DateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=False),
        indexes=(("ix_outbox_sink", ["sink"]), ("ix_outbox_pending", ["delivered_at", "next_at"])),
    )
