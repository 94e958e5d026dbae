"""published agreements: publishing is a per-agreement decision in the audit trail

A party's `publish` decision (an `agreement_published` event) replaces the
organisation-level opt-in of 0008: `agreements.published` says whether at least one party
publishes the agreement (the read model derives it from the state), and
`published_organisations` goes — an opt-in outside the audit trail would be a second,
unrecorded rule for the same question. Organisations that had opted in publish each
agreement again from its page; nothing was shown that was not re-decided.

Revision ID: 2026_12_01_0011
Revises: 2026_12_01_0010
Create Date: 2026-12-01 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_01_0011"
down_revision: str | Sequence[str] | None = "2026_12_01_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No agreement had a publish decision before this revision: false is the truth for all.
    op.add_column("agreements", sa.Column("published", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    op.create_index("ix_agreements_published", "agreements", ["published"], postgresql_where=sa.text("published"))
    op.drop_table("published_organisations")


def downgrade() -> None:
    op.create_table(
        "published_organisations",
        sa.Column("org", sa.Text(), nullable=False),
        sa.Column("published_by", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("org", name=op.f("pk_published_organisations")),
    )
    op.drop_index("ix_agreements_published", table_name="agreements")
    op.drop_column("agreements", "published")
