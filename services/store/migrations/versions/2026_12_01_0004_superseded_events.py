"""superseded events: rows recorded by a workflow task that never completed

A command's events are written by a local activity inside the workflow task that decides
them. If that task never completes (the worker or the whole stack is killed after the
write), Temporal's history does not hold the command, and the workflow may decide other
events under the same seq. History is the truth: such rows are moved, whole, to
`superseded_events` (append-only, with when and why), and the chain goes on from the last
row history confirms. Each row now says which run and history position recorded it, so a
late write from a stale task can never displace what a newer task recorded.

Revision ID: 2026_12_01_0004
Revises: 2026_11_22_0003
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2026_12_01_0004"
down_revision: str | Sequence[str] | None = "2026_11_22_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)

# The trail stays append-only, with one exception: a row may leave it only once a copy of
# it stands in `superseded_events`. UPDATE and TRUNCATE stay refused.
APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION agreement_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM superseded_events s WHERE s.id = OLD.id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'agreement_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$
"""

ORIGINAL_FUNCTION = """
CREATE OR REPLACE FUNCTION agreement_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'agreement_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$
"""

SUPERSEDED_APPEND_ONLY = """
CREATE FUNCTION superseded_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'superseded_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$
"""


def upgrade() -> None:
    op.add_column("agreement_events", sa.Column("run_id", sa.Text(), nullable=True))
    op.add_column("agreement_events", sa.Column("history_length", sa.Integer(), nullable=True))
    op.create_table(
        "superseded_events",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("agreement_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("actor", postgresql.JSONB(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("data", postgresql.JSONB(), nullable=False),
        sa.Column("prev_hash", sa.CHAR(64), nullable=False),
        sa.Column("hash", sa.CHAR(64), nullable=False),
        sa.Column("recorded_at", TZ, nullable=False),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.Column("history_length", sa.Integer(), nullable=True),
        sa.Column("superseded_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("superseded_by_run_id", sa.Text(), nullable=True),
        sa.Column("superseded_by_history_length", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_superseded_events")),
    )
    op.create_index("ix_superseded_events_agreement_id_seq", "superseded_events", ["agreement_id", "seq"])
    op.execute(SUPERSEDED_APPEND_ONLY)
    op.execute(
        "CREATE TRIGGER superseded_events_append_only BEFORE UPDATE OR DELETE ON superseded_events "
        "FOR EACH ROW EXECUTE FUNCTION superseded_events_append_only()"
    )
    op.execute(
        "CREATE TRIGGER superseded_events_no_truncate BEFORE TRUNCATE ON superseded_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION superseded_events_append_only()"
    )
    op.execute(APPEND_ONLY_FUNCTION)


def downgrade() -> None:
    op.execute(ORIGINAL_FUNCTION)
    op.execute("DROP TRIGGER IF EXISTS superseded_events_no_truncate ON superseded_events")
    op.execute("DROP TRIGGER IF EXISTS superseded_events_append_only ON superseded_events")
    op.drop_table("superseded_events")
    op.execute("DROP FUNCTION IF EXISTS superseded_events_append_only()")
    op.drop_column("agreement_events", "history_length")
    op.drop_column("agreement_events", "run_id")
