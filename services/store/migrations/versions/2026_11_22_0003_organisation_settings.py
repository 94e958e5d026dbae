"""organisation settings: time zone and expiry reminder days per organisation

Revision ID: 2026_11_22_0003
Revises: 2026_11_22_0002
Create Date: 2026-11-22 23:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2026_11_22_0003"
down_revision: str | Sequence[str] | None = "2026_11_22_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organisation_settings",
        sa.Column("org", sa.Text(), nullable=False),
        sa.Column("time_zone", sa.Text(), nullable=True),
        sa.Column("expiry_reminder_days", postgresql.ARRAY(sa.Integer()), nullable=True),
        sa.Column("updated_by", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("org", name=op.f("pk_organisation_settings")),
    )


def downgrade() -> None:
    op.drop_table("organisation_settings")
