"""recipients version: a count of the changes to whom a plan reaches

A plain recording read its plan's recipients (the audiences' contacts, the parties' webhook
endpoints) in a round trip of its own before its one statement: on one client's action
≈ 0.7 ms of the path's ≈ 21 ms, and ≈ 0.2 ms of PostgreSQL's execution each time, for
rows that change when someone edits a contact or an endpoint. A worker now keeps what it
read (`services.worker.recipients`) with this count as it was in the same snapshot, and the
recording's statement writes only while the count is still that one — so a plan is never
made from recipients older than the statement's snapshot, exactly as when it read them
just before (docs/performance-log.md, `perf-onepath11`).

`notification_recipients_version` holds one row. Every statement changing `contacts` (any
column: the function `notification_recipients` reads them all), adding or deleting a webhook
endpoint, or changing an endpoint's organisation, events or switch bumps it in its own
transaction (triggers; a delivery's bookkeeping on the endpoint — its failure times, its
secret — does not). A count, not a sequence: a sequence's next value is seen before its
transaction commits, and a plan could be read from the old rows with the new count.

Existing databases: the row starts at 0; workers of the previous release neither read nor
bump it (their recordings read the recipients as before). The app role's grants cover the
table (`roles.grant_application_role`, which `pakta dev` and the deployment run after every
migration): the triggers run as the role that changes the contact. Locks: a new table, and
`CREATE TRIGGER` takes `contacts`' and `webhook_endpoints`' SHARE ROW EXCLUSIVE lock for
milliseconds. The downgrade drops the triggers, their function and the table.

Revision ID: 2026_12_02_0027
Revises: 2026_12_02_0026
Create Date: 2026-12-02 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_02_0027"
down_revision: str | Sequence[str] | None = "2026_12_02_0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What an endpoint's plan rows depend on: whose it is, what it hears, and whether it is on.
_ENDPOINT_REACH = "OLD.org, OLD.events, OLD.enabled) IS DISTINCT FROM (NEW.org, NEW.events, NEW.enabled"


def upgrade() -> None:
    op.create_table(
        "notification_recipients_version",
        sa.Column("one", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("one", name=op.f("ck_notification_recipients_version_one_row")),
        sa.PrimaryKeyConstraint("one", name=op.f("pk_notification_recipients_version")),
    )
    op.execute("INSERT INTO notification_recipients_version DEFAULT VALUES")
    op.execute(
        """
        CREATE FUNCTION notification_recipients_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE notification_recipients_version SET version = version + 1;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER notification_recipients_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON contacts "
        "FOR EACH STATEMENT EXECUTE FUNCTION notification_recipients_changed()"
    )
    op.execute(
        "CREATE TRIGGER notification_recipients_changed AFTER INSERT OR DELETE OR TRUNCATE ON webhook_endpoints "
        "FOR EACH STATEMENT EXECUTE FUNCTION notification_recipients_changed()"
    )
    op.execute(
        "CREATE TRIGGER notification_recipients_reach_changed AFTER UPDATE ON webhook_endpoints "
        f"FOR EACH ROW WHEN (({_ENDPOINT_REACH})) EXECUTE FUNCTION notification_recipients_changed()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS notification_recipients_reach_changed ON webhook_endpoints")
    op.execute("DROP TRIGGER IF EXISTS notification_recipients_changed ON webhook_endpoints")
    op.execute("DROP TRIGGER IF EXISTS notification_recipients_changed ON contacts")
    op.execute("DROP FUNCTION IF EXISTS notification_recipients_changed()")
    op.drop_table("notification_recipients_version")
