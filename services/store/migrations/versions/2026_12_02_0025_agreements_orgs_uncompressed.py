"""agreements' orgs uncompressed: a toasted row's transitions stay HOT

`agreements` indexes `id` (primary key), `orgs` (GIN) and, in partial indexes' predicates,
the booleans `ministry_visible` and `published`; a transition changes none of them, so its
update can stay on the row's page without an index entry (HOT, migrations 0022 and 0023).
Yet 288 of 420 updates in the bench were not HOT. pageinspect during the legs: the new
version on the old one's page, every indexed column equal — but the stored `orgs`
compressed. A row larger than its share of a page (≈ 2 KB: a state of 2–4 KB) is toasted:
PostgreSQL compresses its largest columns in turn and, while the row is still too large,
goes on to the smaller ones, `orgs` among them when the parties' names repeat
(`kabupaten-…`, `bench-kab-…`). The next update compares the stored `orgs`, compressed, with
its new value, plain, byte by byte: unequal, so it writes an entry into every index, and
the new row's `orgs` is plain until toasting compresses it again.

`orgs` and `id` are now `STORAGE EXTERNAL`: never compressed (out of line only if a row
could not fit otherwise, which a few organisations' names never need), so they compare
equal when they did not change.

Locks: `ALTER COLUMN … SET STORAGE` is a catalog change — `agreements`' ACCESS EXCLUSIVE lock
for milliseconds, whatever the number of rows (no rewrite, no scan: at 1,000,000 agreements
as at 100). Rows keep a compressed `orgs` until their next update writes it plain (that one
update is not HOT); no backfill.

Revision ID: 2026_12_02_0025
Revises: 2026_12_02_0024
Create Date: 2026-12-02 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "2026_12_02_0025"
down_revision: str | Sequence[str] | None = "2026_12_02_0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE agreements ALTER COLUMN orgs SET STORAGE EXTERNAL, ALTER COLUMN id SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("ALTER TABLE agreements ALTER COLUMN orgs SET STORAGE EXTENDED, ALTER COLUMN id SET STORAGE EXTENDED")
