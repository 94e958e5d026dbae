"""organisation days off: a region's own days without service (beyond the national ones)

Revision ID: 2026_12_01_0009
Revises: 2026_12_01_0008
Create Date: 2026-12-01 17:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2026_12_01_0009"
down_revision: str | Sequence[str] | None = "2026_12_01_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("organisation_settings", sa.Column("days_off", postgresql.ARRAY(sa.Date()), nullable=True))


def downgrade() -> None:
    op.drop_column("organisation_settings", "days_off")
