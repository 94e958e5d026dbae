"""inbox unique by id: one unique index for a notification, not two

A recording stores its in-app notifications (≈ 2.9 per transition under the bench) with
`ON CONFLICT DO NOTHING`, so a retried recording keeps each one once. The conflict was
found in `uq_notifications_event_id_audience_key`, beside the primary key on `id` — but a
notification's `id` is the UUID of its event and audience (`notifications.inbox_id`, so
since the inbox's first migration): two rows of one pair would share an id. The second
unique index held nothing the first did not, cost every notification an entry (2.9 b-tree
leaf inserts, ≈ 0.3–0.4 KB of WAL per transition with its page splits) and a uniqueness
check, and no query reads it (the inbox is read by audience and by id). The recording's
conflict is now found by `id`; this drops the pair's index.

The release's order: this release's code finds the conflict by `id`, which works before
and after this migration; the previous release's names the pair, which PostgreSQL cannot
match once its index is gone ("no unique or exclusion constraint matching the ON CONFLICT
specification"). A worker of the previous release still running after `pakta db upgrade`
fails the recordings whose plan has an inbox notification: the statement writes nothing
and the activity is retried with backoff (not a refusal) until this release's worker takes
the task — nothing is lost, the agreement waits. To have no such pause, start this
release's workers before the upgrade, or stop the old ones for it.

Existing rows need nothing: each already has the id of its pair (no writer ever stored
another). Locks: `DROP CONSTRAINT` takes `notifications`' ACCESS EXCLUSIVE lock for
milliseconds (a catalog change and the index's files unlinked), whatever the number of
rows; a recording waiting on it goes on after. The downgrade builds the index again (a
scan of the table under its lock, as the inbox's first migration did).

Revision ID: 2026_12_02_0026
Revises: 2026_12_02_0025
Create Date: 2026-12-02 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "2026_12_02_0026"
down_revision: str | Sequence[str] | None = "2026_12_02_0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("uq_notifications_event_id_audience_key", "notifications", type_="unique")


def downgrade() -> None:
    op.create_unique_constraint(
        "uq_notifications_event_id_audience_key", "notifications", ["event_id", "audience_key"]
    )
