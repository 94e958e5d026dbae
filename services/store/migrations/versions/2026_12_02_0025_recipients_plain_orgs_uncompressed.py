"""recipients in plain rows, and `agreements`' indexed columns never compressed

**The plan's recipients.** `notification_recipients` (migration 2026_12_01_0020) returns
the contacts and the endpoints a recording's plan reaches as two arrays of anonymous rows
(`record[]`). asyncpg knows the codecs of `text[]` and `oid[]` only; for `record[]` it first
queries PostgreSQL's catalog, once on every new connection of the worker's pool (the bench:
one per connection, 9–160 ms of PostgreSQL's CPU each, nearly all of it planning the look-up
query).

`notification_recipient_rows` reads the same contacts and endpoints, in the same order, as
rows of plain columns (`text`, `text[]`, `boolean`, `timestamptz`: types asyncpg decodes
without asking): a contact's row has `endpoint` false and its endpoint columns NULL, an
endpoint's the other way round; the columns both have (`id`, `org`, `created_by`,
`created_at`) come first. Like the function it follows it keeps one generic plan per
connection (`SET plan_cache_mode = force_generic_plan`, PostgreSQL 18 keeps a SQL function's
plans). `notification_recipients` stays: workers of the previous release call it until they
stop.

**`agreements`' `orgs` and `id` are stored uncompressed** (`STORAGE EXTERNAL`: out of line
only if a row could not fit otherwise, never compressed). A row whose state is too large for
the page's share (≈ 2 KB) is toasted: PostgreSQL compresses its largest columns in turn, and
while the row is still too large goes on to the smaller ones — `orgs` included when the
parties' names repeat (`kabupaten-…`, `bench-kab-…`). The next update compares the stored,
compressed `orgs` with the new, plain one byte by byte to decide whether an indexed column
changed: they differ, so the update is not HOT and writes an entry into every index of the
table, though the parties did not change. In the bench that was 288 of 420 updates
(pageinspect during the legs: the new version on the old one's page, every indexed column
equal once decompressed, the old `orgs` compressed). Uncompressed, the bytes compare equal.

Locks: `ALTER COLUMN … SET STORAGE` is a catalog change that takes `agreements`' ACCESS
EXCLUSIVE lock for milliseconds, whatever the number of rows (no rewrite, no scan; at
1,000,000 agreements as at 100). Rows keep their compressed `orgs` until their next update,
which writes it plain (that one update is not HOT); no backfill.

Revision ID: 2026_12_02_0025
Revises: 2026_12_02_0024
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "2026_12_02_0025"
down_revision: str | Sequence[str] | None = "2026_12_02_0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The contacts any of the audiences (orgs, roles, gates, side by side; a NULL org or
    # gate: any) reaches by email, ordered by email and org, then the enabled endpoints of
    # `parties` by creation. No audience: the contacts are not scanned (a one-time filter on
    # the array's length).
    op.execute(
        """
        CREATE FUNCTION notification_recipient_rows(
            audience_orgs text[], audience_roles text[], audience_gates text[], parties text[]
        )
        RETURNS TABLE (
            endpoint boolean, id text, org text, created_by text, created_at timestamptz,
            sub text, name text, email text, language text, roles text[], gates text[], opt_out text[],
            time_zone text,
            url text, events text[], secret text, previous_secret text, previous_secret_expires_at timestamptz,
            enabled boolean, failing_since timestamptz, disabled_at timestamptz, disabled_reason text
        )
        LANGUAGE sql STABLE PARALLEL SAFE SET plan_cache_mode = force_generic_plan AS $$
        SELECT * FROM (
            SELECT false AS endpoint, c.id, c.org, c.created_by, c.created_at, c.sub, c.name, c.email, c.language, c.roles,
                c.gates, c.opt_out, c.time_zone, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
            FROM contacts AS c
            WHERE cardinality(audience_roles) > 0
              AND NOT c.opt_out @> ARRAY['email']
              AND EXISTS (
                SELECT FROM unnest(audience_orgs, audience_roles, audience_gates) AS a(org, role, gate)
                WHERE a.role = ANY(c.roles) AND (a.org IS NULL OR c.org = a.org)
                  AND (a.gate IS NULL OR a.gate = ANY(c.gates))
              )
            UNION ALL
            SELECT true, e.id, e.org, e.created_by, e.created_at, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                e.url, e.events, e.secret, e.previous_secret, e.previous_secret_expires_at, e.enabled,
                e.failing_since, e.disabled_at, e.disabled_reason
            FROM webhook_endpoints AS e WHERE e.org = ANY(parties) AND e.enabled
        ) AS recipient
        -- Contacts by email and organisation (unique together), then endpoints (no email) by
        -- creation: one sort of the union's few rows.
        ORDER BY endpoint, email, CASE WHEN NOT endpoint THEN org END, created_at, id
        $$
        """
    )
    # The columns `agreements`' indexes hold that a toasted row could have compressed (the
    # partial indexes' `ministry_visible` and `published` are booleans): stored as they come,
    # so an update that leaves them as they were compares them equal and can be HOT.
    op.execute("ALTER TABLE agreements ALTER COLUMN orgs SET STORAGE EXTERNAL, ALTER COLUMN id SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("ALTER TABLE agreements ALTER COLUMN orgs SET STORAGE EXTENDED, ALTER COLUMN id SET STORAGE EXTENDED")
    op.execute("DROP FUNCTION notification_recipient_rows(text[], text[], text[], text[])")
