"""documents per organisation: a document is (org, sha256); attachments say where it is shared

A document used to be keyed by its SHA-256 alone and readable by anyone who could see any
agreement whose stored JSON held the hash: mentioning a hash, or submitting another
organisation's hash as one's own draft, leaked the document, and existence was an oracle.
Now a document belongs to the organisation that uploaded it — the same bytes uploaded by
two organisations are two documents, each with its own media type — and it is shared with
an agreement's parties only where it is attached: `document_attachments` rows, written by
the projection when the events that attach it are recorded (a draft version, a
signature's evidence, an import's signed text). Existing attachments are backfilled from
the recorded events.

Revision ID: 2026_12_01_0005
Revises: 2026_12_01_0004
Create Date: 2026-12-01 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_01_0005"
down_revision: str | Sequence[str] | None = "2026_12_01_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)

# The owner of an attached document: the organisation whose member attached it (only an
# organisation's own uploads can be attached). Mirrors `queries.attachments`.
BACKFILL = """
INSERT INTO document_attachments (agreement_id, seq, sha256, kind, org)
SELECT agreement_id, seq, data->>'document', 'draft', data->>'org'
  FROM agreement_events WHERE type = 'draft_submitted' AND data->>'document' IS NOT NULL
UNION ALL
SELECT agreement_id, seq, data->>'evidence', 'evidence', data->>'org'
  FROM agreement_events WHERE type = 'document_signed' AND data->>'evidence' IS NOT NULL
UNION ALL
SELECT agreement_id, seq, data->>'document', 'signed_text', actor->>'org'
  FROM agreement_events WHERE type = 'agreement_imported' AND data->>'document' IS NOT NULL
ON CONFLICT DO NOTHING
"""


def upgrade() -> None:
    op.drop_constraint("pk_documents", "documents", type_="primary")
    op.create_primary_key("pk_documents", "documents", ["org", "sha256"])
    op.create_table(
        "document_attachments",
        sa.Column("agreement_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.CHAR(64), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("org", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("agreement_id", "seq", "sha256", "kind", name=op.f("pk_document_attachments")),
    )
    op.create_index("ix_document_attachments_sha256", "document_attachments", ["sha256"])
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_index("ix_document_attachments_sha256", table_name="document_attachments")
    op.drop_table("document_attachments")
    # Keeps the first upload of each hash, as the single-owner schema did.
    op.execute(
        "DELETE FROM documents d USING documents e "
        "WHERE d.sha256 = e.sha256 AND (d.created_at, d.org) > (e.created_at, e.org)"
    )
    op.drop_constraint("pk_documents", "documents", type_="primary")
    op.create_primary_key("pk_documents", "documents", ["sha256"])
