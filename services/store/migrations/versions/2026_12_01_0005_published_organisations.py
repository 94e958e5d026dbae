"""published organisations: whose agreements the public portal shows

Revision ID: 2026_12_01_0005
Revises: 2026_12_01_0004
Create Date: 2026-12-01 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_01_0005"
down_revision: str | Sequence[str] | None = "2026_12_01_0004"
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


def downgrade() -> None:
    op.drop_table("published_organisations")
