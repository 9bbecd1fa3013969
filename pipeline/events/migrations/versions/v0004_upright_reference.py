"""Learned per-post upright references (upright_reference).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("upright_reference"):
        return
    op.create_table(
        "upright_reference",
        sa.Column("site_id", sa.String(64), primary_key=True),
        sa.Column("camera_id", sa.String(64), primary_key=True),
        sa.Column("post_id", sa.String(64), primary_key=True),
        sa.Column("angle_deg", sa.Float, nullable=True),
        sa.Column("n_samples", sa.Integer, nullable=False),
        sa.Column("samples", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
