"""agreements' deadline unindexed: every transition's update of `agreements` can be HOT

Migration 2026_12_02_0022 left one index on a column transitions change:
`ix_agreements_next_deadline_at`. Most transitions move the agreement's next deadline (a
step's time limit starts or ends), so 365 of 420 updates in the bench still wrote an entry
into every index of the table (the `orgs` GIN, the primary key and this one) instead of
staying on the row's page. Its one reader, the daily digest (`portfolio.digest_states`),
now filters and orders by the summaries' copy of the columns (`agreement_summaries`, written
by the trigger with every write of `agreements`, with its own
`ix_agreement_summaries_next_deadline_at`), and reads only the state from `agreements`.

The remaining indexes of `agreements` (the primary key, the `orgs` GIN, the partial
`ministry_visible` and `published`) index columns an ordinary transition leaves as they are.

A catalog change: no backfill, no rewrite (the drop takes the table's lock briefly).

Revision ID: 2026_12_02_0023
Revises: 2026_12_02_0022
Create Date: 2026-12-05 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "2026_12_02_0023"
down_revision: str | Sequence[str] | None = "2026_12_02_0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_agreements_next_deadline_at", table_name="agreements")


def downgrade() -> None:
    op.create_index("ix_agreements_next_deadline_at", "agreements", ["next_deadline_at"])
