"""Server-side web sessions (web_sessions) and users.disabled.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    insp = sa.inspect(op.get_bind())
    if not insp.has_table("web_sessions"):
        op.create_table(
            "web_sessions",
            sa.Column("token_hash", sa.String(64), primary_key=True),
            sa.Column("username", sa.String(64), sa.ForeignKey("users.username", ondelete="CASCADE"), nullable=False),
            sa.Column("csrf", sa.String(64), nullable=False),
            sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Column("last_seen", sa.DateTime, nullable=False),
            sa.Column("client", sa.String(64), nullable=False),
        )
        op.create_index("ix_web_sessions_username", "web_sessions", ["username"])
    if "disabled" not in {c["name"] for c in insp.get_columns("users")}:
        op.add_column("users", sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()))
