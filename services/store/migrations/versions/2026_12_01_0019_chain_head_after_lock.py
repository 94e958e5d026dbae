"""chain head after lock: the audit trail's head as it is now, not as the statement began

A plain recording is one statement (`queries.append_at_once`): it takes the agreement's
advisory lock and writes its rows only if the chain's head is still the one they follow. A
statement reads under the snapshot taken when it began — before its lock was granted — so a
writer that held the lock and committed in between would be missed, and the rows could
follow a head it superseded. A VOLATILE function takes a fresh snapshot for each query it
runs (READ COMMITTED): called once the lock is held, it reads the head every writer left.

Revision ID: 2026_12_01_0019
Revises: 2026_12_01_0018
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "2026_12_01_0019"
down_revision: str | Sequence[str] | None = "2026_12_01_0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION agreement_chain_head(agreement text) RETURNS text
        LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS $$
        BEGIN
            RETURN (SELECT hash FROM agreement_events WHERE agreement_id = agreement ORDER BY seq DESC LIMIT 1);
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION agreement_chain_head(text)")
