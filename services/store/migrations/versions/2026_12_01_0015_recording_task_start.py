"""recording task start, and answers that name what they showed

A row of the audit trail notes when the workflow task that recorded it started
(`task_started_at`): two tasks of one run can see the same history length — an Update's
speculative task lost with the Temporal server and its retry — and the later one is the one
that may complete, so its rows supersede the earlier's. `superseded_events` keeps both.

A stored Idempotency-Key success names the agreement and the version it showed, so the
transaction that supersedes that version's recording forgets the answer with it.

Revision ID: 2026_12_01_0015
Revises: 2026_12_01_0014
Create Date: 2026-12-01 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_01_0015"
down_revision: str | Sequence[str] | None = "2026_12_01_0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("agreement_events", sa.Column("task_started_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("superseded_events", sa.Column("task_started_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "superseded_events", sa.Column("superseded_by_task_started_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("idempotency_keys", sa.Column("agreement_id", sa.Text(), nullable=True))
    op.add_column("idempotency_keys", sa.Column("version", sa.Integer(), nullable=True))
    op.create_index("ix_idempotency_keys_agreement_id_version", "idempotency_keys", ["agreement_id", "version"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_agreement_id_version", table_name="idempotency_keys")
    op.drop_column("idempotency_keys", "version")
    op.drop_column("idempotency_keys", "agreement_id")
    op.drop_column("superseded_events", "superseded_by_task_started_at")
    op.drop_column("superseded_events", "task_started_at")
    op.drop_column("agreement_events", "task_started_at")
