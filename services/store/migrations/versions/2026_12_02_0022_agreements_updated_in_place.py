"""agreements updated in place: no index on what a transition changes, pages with room

Every recorded transition updates its `agreements` row (stage, step, version, time, state).
`ix_agreements_stage` and `ix_agreements_updated_at_id` indexed two of those columns, so no
update could be HOT (heap-only: the new version on the old one's page, no index touched):
each wrote an entry into all seven indexes of the table, the GIN on `orgs` included. Neither
earned it: the stage filters (`NOT IN` the terminal stages, the portfolio's pages in id
order, a party's signed agreements by `orgs`) do not use a stage index, and the one reader
of the time order, the inbox's open agreements, now orders by the summaries' copy of it
(`ix_agreement_summaries_updated_at_id`, kept for the lists).

A row is 0.5–2 KB (the state, 2–5 KB of JSON, compressed inline, or kept in the TOAST table
once it is larger); at the default fill a page can be full, with no room for a new version.
`fillfactor = 70` keeps 30 % of each new page for the next versions of its rows (a 2 KB row
finds room; a 0.5 KB row several times). It applies to pages written from now on; existing
rows move to such pages as they are updated (or at once with `VACUUM FULL agreements` /
pg_repack, the operator's choice: a rewrite, not needed for correctness). The migration
itself only drops two indexes and sets a storage parameter: no backfill, no table rewrite,
milliseconds at 100,000 or 1,000,000 rows (the drop takes the table's lock briefly).

Revision ID: 2026_12_02_0022
Revises: 2026_12_01_0021
Create Date: 2026-12-04 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_02_0022"
down_revision: str | Sequence[str] | None = "2026_12_01_0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_agreements_stage", table_name="agreements")
    op.drop_index("ix_agreements_updated_at_id", table_name="agreements")
    op.execute("ALTER TABLE agreements SET (fillfactor = 70)")


def downgrade() -> None:
    op.execute("ALTER TABLE agreements RESET (fillfactor)")
    op.create_index("ix_agreements_updated_at_id", "agreements", [sa.text("updated_at DESC"), sa.text("id DESC")])
    op.create_index("ix_agreements_stage", "agreements", ["stage"])
