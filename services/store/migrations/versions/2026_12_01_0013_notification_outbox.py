"""notification outbox: the deliveries log also holds what is still to be sent

The recording of a command's events now writes its email and webhook deliveries in the same
transaction, as rows of `deliveries` in the new status 'pending', carrying what to send
(`payload`) and when it may go (`due_at`: office hours, then the retry backoff). The
worker's dispatcher sends them. Rows written by NotifyWorkflow's activities keep `payload`
NULL and are left to them.

Revision ID: 2026_12_01_0013
Revises: 2026_12_01_0012
Create Date: 2026-12-01 17:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2026_12_01_0013"
down_revision: str | Sequence[str] | None = "2026_12_01_0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("payload", postgresql.JSONB(), nullable=True))
    op.add_column("deliveries", sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_constraint("ck_deliveries_status", "deliveries", type_="check")
    op.create_check_constraint("ck_deliveries_status", "deliveries", "status IN ('pending', 'sending', 'sent', 'failed')")
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["due_at"],
        postgresql_where=sa.text("payload IS NOT NULL AND status IN ('pending', 'sending')"),
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    op.execute("UPDATE deliveries SET status = 'failed', last_error = 'outbox removed' WHERE status = 'pending'")
    op.drop_constraint("ck_deliveries_status", "deliveries", type_="check")
    op.create_check_constraint("ck_deliveries_status", "deliveries", "status IN ('sending', 'sent', 'failed')")
    op.drop_column("deliveries", "due_at")
    op.drop_column("deliveries", "payload")
