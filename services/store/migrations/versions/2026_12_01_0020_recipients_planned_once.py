"""recipients planned once: the plan's read keeps one generic plan per connection

A recording reads the contacts its plan reaches and the parties' webhook endpoints in one
statement (`notifications.recipients`), outside any transaction. PostgreSQL planned it
afresh at every recording: its estimate for arrays of unknown length is higher than for the
few audiences and parties a recording gives, so it kept choosing a custom plan
(pg_stat_statements under the bench: 1.19 plans per call, ≈ 0.4 ms of planning each on the
loaded machine, three times its execution). The recording's own statement sets
`plan_cache_mode` for its transaction, which the read is no longer part of; setting it on
the worker's connections would change the plans of every other query they run.

The read is now this SQL function, whose `SET plan_cache_mode = force_generic_plan` holds
while it runs only: from PostgreSQL 18 on a SQL function's statements are kept in the plan
cache, so each connection plans the read once (before 18 it is planned at every call, as
before). Its rows are the columns of `ContactRecord` and `EndpointRecord`, in their order.

Revision ID: 2026_12_01_0020
Revises: 2026_12_01_0019
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "2026_12_01_0020"
down_revision: str | Sequence[str] | None = "2026_12_01_0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The fields of ContactRecord and EndpointRecord as they are at this revision (a later change
# of either replaces the function in a migration of its own).
CONTACT_COLUMNS = "c.id, c.org, c.sub, c.name, c.email, c.language, c.roles, c.gates, c.opt_out, c.time_zone, c.created_by, c.created_at"
ENDPOINT_COLUMNS = (
    "e.id, e.org, e.url, e.events, e.secret, e.previous_secret, e.previous_secret_expires_at, e.enabled, "
    "e.failing_since, e.disabled_at, e.disabled_reason, e.created_by, e.created_at"
)


def upgrade() -> None:
    # The contacts any of the audiences (orgs, roles, gates, side by side; a NULL org or
    # gate: any) reaches by email, and the enabled endpoints of `parties`. No audience: the
    # contacts are not scanned (a one-time filter on the array's length).
    op.execute(
        f"""
        CREATE FUNCTION notification_recipients(
            audience_orgs text[], audience_roles text[], audience_gates text[], parties text[],
            OUT contacts record[], OUT endpoints record[]
        )
        LANGUAGE sql STABLE PARALLEL SAFE SET plan_cache_mode = force_generic_plan AS $$
        SELECT ARRAY(
            SELECT ROW({CONTACT_COLUMNS})
            FROM contacts AS c
            WHERE cardinality(audience_roles) > 0
              AND NOT c.opt_out @> ARRAY['email']
              AND EXISTS (
                SELECT FROM unnest(audience_orgs, audience_roles, audience_gates) AS a(org, role, gate)
                WHERE a.role = ANY(c.roles) AND (a.org IS NULL OR c.org = a.org)
                  AND (a.gate IS NULL OR a.gate = ANY(c.gates))
              )
            ORDER BY c.email, c.org
        ),
        ARRAY(
            SELECT ROW({ENDPOINT_COLUMNS})
            FROM webhook_endpoints AS e WHERE e.org = ANY(parties) AND e.enabled
            ORDER BY e.created_at, e.id
        )
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION notification_recipients(text[], text[], text[], text[])")
