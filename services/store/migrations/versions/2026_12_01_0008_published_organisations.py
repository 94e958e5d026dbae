"""published organisations and public feedback: whose agreements the public portal shows,
and what citizens say about them (moderated)

Revision ID: 2026_12_01_0008
Revises: 2026_12_01_0007
Create Date: 2026-12-01 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_01_0008"
down_revision: str | Sequence[str] | None = "2026_12_01_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "published_organisations",
        sa.Column("org", sa.Text(), nullable=False),
        sa.Column("published_by", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("org", name=op.f("pk_published_organisations")),
    )
    op.create_table(
        "public_feedback",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("agreement_id", sa.Text(), nullable=False),
        sa.Column("org", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("client", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("moderated_by", sa.Text(), nullable=True),
        sa.Column("moderated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_public_feedback")),
    )
    op.create_index("ix_public_feedback_agreement_status", "public_feedback", ["agreement_id", "status"])
    op.create_index("ix_public_feedback_client_created_at", "public_feedback", ["client", "created_at"])


def downgrade() -> None:
    op.drop_table("public_feedback")
    op.drop_table("published_organisations")
