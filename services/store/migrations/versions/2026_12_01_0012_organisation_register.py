"""organisation register: who an organisation is, where it is, who oversees it

Revision ID: 2026_12_01_0012
Revises: 2026_12_01_0011
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_01_0012"
down_revision: str | Sequence[str] | None = "2026_12_01_0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = (
    "province",
    "regency",
    "city",
    "ministry",
    "agency",
    "foreign_government",
    "business",
    "academia",
    "community",
    "media",
)


def upgrade() -> None:
    levels = ", ".join(f"'{level}'" for level in LEVELS)
    op.create_table(
        "organisations",
        sa.Column("org", sa.Text(), nullable=False),
        sa.Column("name_id", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("foreign", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("province_code", sa.Text(), nullable=True),
        sa.Column("overseer", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("website", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("updated_by", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("org", name=op.f("pk_organisations")),
        sa.CheckConstraint(f"level IN ({levels})", name=op.f("ck_organisations_level")),
        # A regional government is always in a province; a foreign body never is.
        sa.CheckConstraint(
            "level NOT IN ('province', 'regency', 'city') OR province_code IS NOT NULL",
            name=op.f("ck_organisations_regional_province"),
        ),
        sa.CheckConstraint("NOT (\"foreign\" AND province_code IS NOT NULL)", name=op.f("ck_organisations_foreign")),
        sa.CheckConstraint("overseer IS NULL OR overseer <> org", name=op.f("ck_organisations_not_own_overseer")),
    )
    op.create_index("ix_organisations_province_code_level", "organisations", ["province_code", "level"])
    op.create_index("ix_organisations_overseer", "organisations", ["overseer"])
    op.create_index(
        "uq_organisations_province_government",
        "organisations",
        ["province_code"],
        unique=True,
        postgresql_where=sa.text("level = 'province'"),
    )


def downgrade() -> None:
    op.drop_table("organisations")
