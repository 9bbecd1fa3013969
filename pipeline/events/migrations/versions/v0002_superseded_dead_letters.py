"""Re-analysis reconciles instead of deleting: events.superseded_at, and a review keeps its event
(reviews.event_id ON DELETE RESTRICT, was CASCADE); webhook dead letters: outbox.dead_at.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def _reviews_restrict() -> None:
    """reviews.event_id ON DELETE RESTRICT, unless it is already."""
    fks = [fk for fk in sa.inspect(op.get_bind()).get_foreign_keys("reviews") if fk["constrained_columns"] == ["event_id"]]
    if fks and (fks[0].get("options") or {}).get("ondelete", "").upper() == "RESTRICT":
        return
    if op.get_bind().dialect.name == "sqlite":  # SQLite changes a constraint by copying the table
        reviews = sa.Table(
            "reviews", sa.MetaData(),
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("event_id", sa.String(32), sa.ForeignKey("events.event_id", ondelete="RESTRICT"), nullable=False),
            sa.Column("verdict", sa.String(12), nullable=False),
            sa.Column("reason", sa.String(32), nullable=False),
            sa.Column("reviewer", sa.String(64), nullable=False),
            sa.Column("note", sa.Text, nullable=False),
            sa.Column("at", sa.DateTime, nullable=False),
            sa.Index("ix_reviews_event_id", "event_id"),
        )
        with op.batch_alter_table("reviews", recreate="always", copy_from=reviews):
            pass
        return
    for fk in fks:
        op.drop_constraint(fk["name"], "reviews", type_="foreignkey")
    op.create_foreign_key("reviews_event_id_fkey", "reviews", "events", ["event_id"], ["event_id"], ondelete="RESTRICT")


def upgrade() -> None:
    if "superseded_at" not in _columns("events"):
        op.add_column("events", sa.Column("superseded_at", sa.DateTime, nullable=True))
    if "dead_at" not in _columns("outbox"):
        op.add_column("outbox", sa.Column("dead_at", sa.DateTime, nullable=True))
    _reviews_restrict()
