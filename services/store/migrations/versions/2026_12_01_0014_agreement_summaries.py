"""agreement summaries: the list columns of agreements in a narrow table, kept by a trigger

Lists (`GET /agreements`, the web lists, CSV, dashboard) filter, search and order by a
handful of columns, but `agreements` rows carry the state inline (about 1.5 KB compressed,
under PostgreSQL's 2 KB TOAST threshold): a page scanned four rows per 8 KB block, and a
search through a common word read a block per row. `agreement_summaries` holds the same
list columns without the state (about 200 bytes a row), with the indexes every filter and
the order need; a trigger writes it whenever `agreements` is written, so every writer (the
recorder, the reconcile sweep) keeps it without knowing of it. Backfilled from the rows
there are. The indexes on `agreements` that only lists used (kind, end date, text search)
are dropped: every record of a command paid for them.

Revision ID: 2026_12_01_0014
Revises: 2026_12_01_0013
Create Date: 2026-12-01 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2026_12_01_0014"
down_revision: str | Sequence[str] | None = "2026_12_01_0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "id, title, kind, stage, step_key, version, initiator_org, orgs, sector, start_date, end_date, "
    "next_deadline_at, ministry_visible, updated_at, search, health"
)
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agreement_summaries",
        sa.Column("id", sa.Text(), sa.ForeignKey("agreements.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("step_key", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("initiator_org", sa.Text(), nullable=False),
        sa.Column("orgs", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("sector", sa.Text(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("next_deadline_at", TZ, nullable=True),
        sa.Column("ministry_visible", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("search", sa.Text(), nullable=False),
        sa.Column("health", sa.Text(), nullable=True),
    )
    op.execute(f"INSERT INTO agreement_summaries ({COLUMNS}) SELECT {COLUMNS} FROM agreements")
    op.execute(
        f"""
        CREATE FUNCTION agreement_summaries_follow() RETURNS trigger AS $$
        BEGIN
            INSERT INTO agreement_summaries ({COLUMNS})
            VALUES (NEW.id, NEW.title, NEW.kind, NEW.stage, NEW.step_key, NEW.version, NEW.initiator_org,
                    NEW.orgs, NEW.sector, NEW.start_date, NEW.end_date, NEW.next_deadline_at,
                    NEW.ministry_visible, NEW.updated_at, NEW.search, NEW.health)
            ON CONFLICT (id) DO UPDATE SET ({COLUMNS}) = ROW(EXCLUDED.*);
            RETURN NULL;
        END
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER agreement_summaries_follow AFTER INSERT OR UPDATE ON agreements "
        "FOR EACH ROW EXECUTE FUNCTION agreement_summaries_follow()"
    )
    table = "agreement_summaries"
    op.create_index("ix_agreement_summaries_updated_at_id", table, [sa.text("updated_at DESC"), sa.text("id DESC")])
    op.create_index("ix_agreement_summaries_orgs", table, ["orgs"], postgresql_using="gin")
    op.create_index(
        "ix_agreement_summaries_stage_updated_at", table, ["stage", sa.text("updated_at DESC"), sa.text("id DESC")]
    )
    op.create_index(
        "ix_agreement_summaries_kind_updated_at", table, ["kind", sa.text("updated_at DESC"), sa.text("id DESC")]
    )
    op.create_index("ix_agreement_summaries_next_deadline_at", table, ["next_deadline_at"])
    op.create_index("ix_agreement_summaries_end_date", table, ["end_date"])
    op.create_index(
        "ix_agreement_summaries_ministry_visible",
        table,
        ["ministry_visible"],
        postgresql_where=sa.text("ministry_visible"),
    )
    op.create_index("ix_agreement_summaries_health", table, ["health"], postgresql_where=sa.text("health IS NOT NULL"))
    # As for agreements (migration 0001): only where the pg_trgm extension is installed.
    if op.get_bind().execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).scalar():
        op.create_index(
            "ix_agreement_summaries_search_trgm",
            table,
            ["search"],
            postgresql_using="gin",
            postgresql_ops={"search": "gin_trgm_ops"},
        )
    op.execute("ANALYZE agreement_summaries")  # plans fit the backfilled rows from the start
    # Indexes only lists used: every record of a command paid for them.
    op.drop_index("ix_agreements_kind", table_name="agreements")
    op.drop_index("ix_agreements_end_date", table_name="agreements")
    op.drop_index("ix_agreements_health", table_name="agreements")
    op.execute("DROP INDEX IF EXISTS ix_agreements_search_trgm")


def downgrade() -> None:
    op.create_index("ix_agreements_kind", "agreements", ["kind"])
    op.create_index("ix_agreements_end_date", "agreements", ["end_date"])
    op.create_index("ix_agreements_health", "agreements", ["health"], postgresql_where=sa.text("health IS NOT NULL"))
    if op.get_bind().execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).scalar():
        op.create_index(
            "ix_agreements_search_trgm",
            "agreements",
            ["search"],
            postgresql_using="gin",
            postgresql_ops={"search": "gin_trgm_ops"},
        )
    op.execute("DROP TRIGGER IF EXISTS agreement_summaries_follow ON agreements")
    op.execute("DROP FUNCTION IF EXISTS agreement_summaries_follow()")
    op.drop_table("agreement_summaries")
