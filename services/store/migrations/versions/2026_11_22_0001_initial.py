"""initial: agreements read model, append-only audit trail, documents

Revision ID: 2026_11_22_0001
Revises:
Create Date: 2026-11-22 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2026_11_22_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)

# The audit trail is evidence: once written, no role using the application's SQL may change
# or remove it. (A superuser can still disable the trigger; the hash chain shows that.)
APPEND_ONLY_FUNCTION = """
CREATE FUNCTION agreement_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'agreement_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "agreements",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("step_key", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("procedure_key", sa.Text(), nullable=False),
        sa.Column("procedure_version", sa.Text(), nullable=False),
        sa.Column("initiator_org", sa.Text(), nullable=False),
        sa.Column("orgs", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("sector", sa.Text(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("value", sa.BigInteger(), nullable=True),
        sa.Column("next_deadline_at", TZ, nullable=True),
        sa.Column("ministry_visible", sa.Boolean(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.CHAR(64), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("state", postgresql.JSONB(), nullable=False),
        sa.Column("search", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agreements"),
    )
    op.create_index("ix_agreements_stage", "agreements", ["stage"])
    op.create_index("ix_agreements_kind", "agreements", ["kind"])
    # Keyset pagination walks (updated_at desc, id desc).
    op.create_index("ix_agreements_updated_at_id", "agreements",
                    [sa.text("updated_at DESC"), sa.text("id DESC")])
    op.create_index("ix_agreements_orgs", "agreements", ["orgs"], postgresql_using="gin")
    op.create_index("ix_agreements_next_deadline_at", "agreements", ["next_deadline_at"])
    op.create_index("ix_agreements_end_date", "agreements", ["end_date"])
    op.create_index("ix_agreements_ministry_visible", "agreements", ["ministry_visible"],
                    postgresql_where=sa.text("ministry_visible"))
    _create_search_index()

    op.create_table(
        "agreement_events",
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
        sa.Column("recorded_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agreement_events"),
        # Idempotency of record_events, and the index for reading one agreement's trail.
        sa.UniqueConstraint("agreement_id", "seq", name="uq_agreement_events_agreement_id_seq"),
    )
    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(
        "CREATE TRIGGER agreement_events_append_only BEFORE UPDATE OR DELETE ON agreement_events "
        "FOR EACH ROW EXECUTE FUNCTION agreement_events_append_only()"
    )
    # Row triggers do not fire on TRUNCATE; a statement trigger does.
    op.execute(
        "CREATE TRIGGER agreement_events_no_truncate BEFORE TRUNCATE ON agreement_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION agreement_events_append_only()"
    )

    op.create_table(
        "documents",
        sa.Column("sha256", sa.CHAR(64), nullable=False),
        sa.Column("media_type", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.Text(), nullable=False),
        sa.Column("org", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_documents"),
    )


def _create_search_index() -> None:
    """A trigram index makes `q` (ILIKE '%word%') fast; it needs the pg_trgm extension,
    which ships with PostgreSQL's contrib (and the embedded server) but may be missing or
    not allowed on a managed server. Without it `q` still works, as a scan."""
    bind = op.get_bind()
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ).scalar()
    if not available:
        return
    try:
        with bind.begin_nested():  # a savepoint: a refused CREATE EXTENSION must not abort the migration
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        return
    op.create_index("ix_agreements_search_trgm", "agreements", ["search"],
                    postgresql_using="gin", postgresql_ops={"search": "gin_trgm_ops"})


def downgrade() -> None:
    op.drop_table("documents")
    op.execute("DROP TRIGGER IF EXISTS agreement_events_no_truncate ON agreement_events")
    op.execute("DROP TRIGGER IF EXISTS agreement_events_append_only ON agreement_events")
    op.execute("DROP FUNCTION IF EXISTS agreement_events_append_only()")
    op.drop_table("agreement_events")
    # drop_table takes the indexes with it, the trigram one included. The pg_trgm extension
    # stays: other schemas in the database may use it.
    op.drop_table("agreements")
