"""deliveries room for leases: the outbox's rows leave half of each page free

The dispatcher's claim leases a delivery by updating its row (attempts, `claimed_until`) and
no longer changes its status, so the update touches no indexed column and can be HOT — the
new version on the same page, no new entry in the primary key or the due index — if the
page has room for it. A recording writes its ≈ 6.5 deliveries (≈ 800 bytes each) together,
onto the same page, and one claim leases them together: their new versions need about as
much room again. With `fillfactor = 50` inserts leave that half free; the dead versions the
claims and the outcomes leave are pruned and the room reused, so the table does not keep
growing by half. Only pages written from now on are filled to half; nothing is rewritten.

Revision ID: 2026_12_01_0017
Revises: 2026_12_01_0016
Create Date: 2026-12-02 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "2026_12_01_0017"
down_revision: str | Sequence[str] | None = "2026_12_01_0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE deliveries SET (fillfactor = 50)")


def downgrade() -> None:
    op.execute("ALTER TABLE deliveries RESET (fillfactor)")
