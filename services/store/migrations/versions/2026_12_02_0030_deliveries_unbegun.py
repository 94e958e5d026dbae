"""deliveries unbegun: how many times in a row a delivery was released as never begun

A mail that waited for a connection to a slow mail server past its time (or whose envelope
was late only for what came before it) never reached the server: the dispatcher gives its
claim's attempt back (`outbox.release_unbegun`) and the mail is due again. It was due again
at once every time, so a server slow on every try got a new try on every poll until the
give-up hours passed — nothing lost or sent twice, but a hot loop against a struggling
server. `unbegun` counts those releases since the last try that began: the first keeps the
mail due at once (it only queued behind others), each one after waits longer, as
`retry_later`'s backoff does, and a try that began (`retry_later`) sets it back to 0.

Existing databases: `ADD COLUMN ... NOT NULL DEFAULT 0` writes no row (a constant default
is kept in the catalog since PostgreSQL 11); it holds the table's ACCESS EXCLUSIVE lock for
the catalog change only. The column is in no index, so the claims' and releases' updates
stay HOT where they were. Dispatchers of the previous release neither read nor write it:
their releases do not count, and a try of theirs that began does not set it back, so a new
dispatcher's next release of that mail may wait longer than it would have — within the
backoff's maximum and the give-up time, as any. The
downgrade drops the column.

Revision ID: 2026_12_02_0030
Revises: 2026_12_02_0029
Create Date: 2026-12-02 22:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_02_0030"
down_revision: str | Sequence[str] | None = "2026_12_02_0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("unbegun", sa.Integer(), server_default=sa.text("0"), nullable=False))


def downgrade() -> None:
    op.drop_column("deliveries", "unbegun")
