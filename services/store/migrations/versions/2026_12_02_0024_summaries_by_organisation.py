"""summaries by organisation: a staff list's page from one index walk

A region's staff list their organisation's agreements, newest first, perhaps in a stage or
of a kind. `agreement_summaries` found them through GIN indexes over `orgs` and
`(orgs, stage)`: the region's ≈ 750 rows in review exactly, but on ≈ 730 heap pages read to
sort them for the top 50; with no filter, a walk of the whole keyset order through
≈ 2,500 rows to find the region's 50.

`agreement_summary_orgs` holds one row per organisation of a summary's `orgs` with what a
staff list filters and orders by (stage, kind, updated_at), indexed as the list walks it:
`(org, updated_at, agreement_id)` and `(org, stage, updated_at, agreement_id)`. The
summaries' trigger writes it with every write of `agreements`, in the same transaction: a
transition sets the rows' stage, kind and time; an insert, or changed parties or search,
writes them again from `orgs`. A deleted summary takes its rows along (foreign key).

The two GIN indexes go: the lists were their only readers (the digest and the inbox test
`org = ANY(orgs)`, which they cannot serve), and every update of a summary wrote an entry
per organisation into each.

Backfill: one `INSERT … SELECT` from the summaries, the indexes built after it, with
`agreements` locked against writes (reads go on) so no write slips between the backfill and
the trigger that keeps the rows from then on. A recording that waits is retried as an
activity; nothing is lost. Measured on this (loaded, two-core) machine, rows and both
indexes: 100,000 summaries of two organisations each (200,000 rows) 1.4 s; 1,000,000 (2
million rows) 59 s, writes waiting that long — at that size run it in a quiet hour.

Revision ID: 2026_12_02_0024
Revises: 2026_12_02_0023
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_02_0024"
down_revision: str | Sequence[str] | None = "2026_12_02_0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migration 0021's columns, as its trigger writes them.
CHEAP = (
    "title",
    "kind",
    "stage",
    "step_key",
    "version",
    "initiator_org",
    "orgs",
    "sector",
    "start_date",
    "end_date",
    "next_deadline_at",
    "ministry_visible",
    "updated_at",
    "health",
)
PARTIES = "ARRAY(SELECT jsonb_path_query(NEW.state, '$.parties[*].org'::jsonpath) #>> '{}')"
ALL = (
    "id", "title", "kind", "stage", "step_key", "version", "initiator_org", "orgs", "sector", "start_date",
    "end_date", "next_deadline_at", "ministry_visible", "updated_at", "search", "health",
)  # fmt: skip
UPSERT = (
    f"INSERT INTO agreement_summaries ({', '.join(ALL)}, party_orgs)"
    f" VALUES ({', '.join(f'NEW.{name}' for name in ALL)}, {PARTIES})"
    f" ON CONFLICT (id) DO UPDATE SET ({', '.join(ALL)}, party_orgs)"
    f" = ROW({', '.join(f'EXCLUDED.{name}' for name in ALL)}, EXCLUDED.party_orgs);"
)
CHEAP_UPDATE = (
    f"UPDATE agreement_summaries SET ({', '.join(CHEAP)}) = ROW({', '.join(f'NEW.{name}' for name in CHEAP)})"
    " WHERE id = NEW.id;"
)
# An organisation named twice is one row; a NULL in `orgs` names no one.
ORGS_WRITTEN = """
    DELETE FROM agreement_summary_orgs WHERE agreement_id = NEW.id;
    INSERT INTO agreement_summary_orgs (agreement_id, org, stage, kind, updated_at)
    SELECT DISTINCT NEW.id, org, NEW.stage, NEW.kind, NEW.updated_at FROM unnest(NEW.orgs) AS org
    WHERE org IS NOT NULL;
"""


def upgrade() -> None:
    op.create_table(
        "agreement_summary_orgs",
        sa.Column(
            "agreement_id",
            sa.Text(),
            sa.ForeignKey("agreement_summaries.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("org", sa.Text(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agreement_id", "org"),
    )
    op.execute("LOCK TABLE agreements IN SHARE ROW EXCLUSIVE MODE")
    op.execute(
        "INSERT INTO agreement_summary_orgs (agreement_id, org, stage, kind, updated_at)"
        " SELECT DISTINCT s.id, org, s.stage, s.kind, s.updated_at"
        " FROM agreement_summaries s, unnest(s.orgs) AS org WHERE org IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX ix_agreement_summary_orgs_org_updated_at"
        " ON agreement_summary_orgs (org, updated_at DESC, agreement_id DESC)"
    )
    op.execute(
        "CREATE INDEX ix_agreement_summary_orgs_org_stage_updated_at"
        " ON agreement_summary_orgs (org, stage, updated_at DESC, agreement_id DESC)"
    )
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION agreement_summaries_follow() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'UPDATE'
               AND NEW.search IS NOT DISTINCT FROM OLD.search
               AND NEW.state -> 'parties' IS NOT DISTINCT FROM OLD.state -> 'parties' THEN
                {CHEAP_UPDATE}
                IF FOUND THEN
                    IF NEW.orgs IS NOT DISTINCT FROM OLD.orgs THEN
                        UPDATE agreement_summary_orgs SET (stage, kind, updated_at)
                            = ROW(NEW.stage, NEW.kind, NEW.updated_at) WHERE agreement_id = NEW.id;
                        IF FOUND THEN
                            RETURN NULL;
                        END IF;
                    END IF;
                    -- Other organisations, or their rows missing: written again.
                    {ORGS_WRITTEN}
                    RETURN NULL;
                END IF;
            END IF;
            {UPSERT}
            {ORGS_WRITTEN}
            RETURN NULL;
        END
        $$ LANGUAGE plpgsql
        """
    )
    op.execute("DROP INDEX IF EXISTS ix_agreement_summaries_orgs_stage")
    op.drop_index("ix_agreement_summaries_orgs", table_name="agreement_summaries")
    op.execute("ANALYZE agreement_summary_orgs")


def downgrade() -> None:
    op.create_index("ix_agreement_summaries_orgs", "agreement_summaries", ["orgs"], postgresql_using="gin")
    if op.get_bind().execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'btree_gin'")).scalar():
        op.create_index(
            "ix_agreement_summaries_orgs_stage", "agreement_summaries", ["orgs", "stage"], postgresql_using="gin"
        )
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION agreement_summaries_follow() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'UPDATE'
               AND NEW.search IS NOT DISTINCT FROM OLD.search
               AND NEW.state -> 'parties' IS NOT DISTINCT FROM OLD.state -> 'parties' THEN
                {CHEAP_UPDATE}
                IF FOUND THEN
                    RETURN NULL;
                END IF;
            END IF;
            {UPSERT}
            RETURN NULL;
        END
        $$ LANGUAGE plpgsql
        """
    )
    op.drop_table("agreement_summary_orgs")
