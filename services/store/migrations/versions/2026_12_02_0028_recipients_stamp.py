"""recipients stamp: the recipients' version never comes back to a value it had

Migration 2026_12_02_0027 counted the changes to contacts and webhook endpoints, and a
worker keeps the recipients it read while the count is the one they were read at. A count
comes back to its values: a database restored from a backup (or migrated down past 0027 and
up again, which starts it at 0; or another database behind the same address) goes on
counting from where it was, and after as many changes as the worker saw since, the count is
the one it kept — with other recipients behind it, and its plans mailed contacts who are no
longer there (`tests/worker/test_kept_recipients.py`).

Each change now draws a new random 64-bit stamp (from `gen_random_uuid()`, the strong
generator, which `setseed` does not touch) in place of the count, and this migration draws
the first one: the recipients read at a stamp are the recipients while it is still there,
whatever the database went through. Workers compare versions for equality only.

Existing rows: the one row gets a stamp. Workers that kept a count (0027's) find it gone and
read the recipients afresh. The downgrade counts again, from the stamp there.

Revision ID: 2026_12_02_0028
Revises: 2026_12_02_0027
Create Date: 2026-12-02 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "2026_12_02_0028"
down_revision: str | Sequence[str] | None = "2026_12_02_0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 64 random bits as a bigint: the first 16 hex digits of a version 4 UUID.
_STAMP = "('x' || left(replace(gen_random_uuid()::text, '-', ''), 16))::bit(64)::bigint"


def _changed_sets(version: str) -> None:
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION notification_recipients_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE notification_recipients_version SET version = {version};
            RETURN NULL;
        END
        $$
        """
    )


def upgrade() -> None:
    _changed_sets(_STAMP)
    op.execute(f"UPDATE notification_recipients_version SET version = {_STAMP}")


def downgrade() -> None:
    _changed_sets("version + 1")
