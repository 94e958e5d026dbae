"""agreement health: the implementation's health as of the last recorded event (#13)

Lists filter on it (`GET /agreements?health=at_risk`); the daily digest names the
agreements at risk. Rows from before hold no plan, so NULL is their health until their
next recorded event re-projects them.

Revision ID: 2026_12_01_0010
Revises: 2026_12_01_0009
Create Date: 2026-12-01 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_01_0010"
down_revision: str | Sequence[str] | None = "2026_12_01_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("agreements", sa.Column("health", sa.Text(), nullable=True))
    op.create_index("ix_agreements_health", "agreements", ["health"], postgresql_where=sa.text("health IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_agreements_health", table_name="agreements")
    op.drop_column("agreements", "health")
