"""summaries' recorded parties: the list reads who may see a row from the row itself

A list page for a caller who does not see every agreement read, for each of its rows, the
parties' organisations its recorded state names — a subquery into `agreements` per row
(the state is 1.5 KB of jsonb: four to seven buffers a row, 0.3–0.5 ms of a page's 0.7–0.9
ms over 100,000 rows). `agreement_summaries.party_orgs` now holds them beside the row,
written by the same trigger from the same write's recorded state (`NEW.state`), never from
the projected `orgs` column: a row whose `orgs` is edited by hand still shows no one else
the agreement, as before (`orgs` selects, the recorded state decides). Backfilled from the
rows there are.

Revision ID: 2026_12_01_0018
Revises: 2026_12_01_0017
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2026_12_01_0018"
down_revision: str | Sequence[str] | None = "2026_12_01_0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "id, title, kind, stage, step_key, version, initiator_org, orgs, sector, start_date, end_date, "
    "next_deadline_at, ministry_visible, updated_at, search, health"
)
VALUES = (
    "NEW.id, NEW.title, NEW.kind, NEW.stage, NEW.step_key, NEW.version, NEW.initiator_org, NEW.orgs, NEW.sector, "
    "NEW.start_date, NEW.end_date, NEW.next_deadline_at, NEW.ministry_visible, NEW.updated_at, NEW.search, NEW.health"
)


def _recorded_parties(state: str) -> str:
    """The parties' organisations as the recorded `state` names them, in their order."""
    return f"ARRAY(SELECT jsonb_path_query({state}, '$.parties[*].org'::jsonpath) #>> '{{}}')"


def _follow(columns: str, values: str) -> None:
    excluded = ", ".join(f"EXCLUDED.{name.strip()}" for name in columns.split(","))
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION agreement_summaries_follow() RETURNS trigger AS $$
        BEGIN
            INSERT INTO agreement_summaries ({columns}) VALUES ({values})
            ON CONFLICT (id) DO UPDATE SET ({columns}) = ROW({excluded});
            RETURN NULL;
        END
        $$ LANGUAGE plpgsql
        """
    )


def upgrade() -> None:
    op.add_column("agreement_summaries", sa.Column("party_orgs", postgresql.ARRAY(sa.Text()), nullable=True))
    op.execute(
        f"UPDATE agreement_summaries s SET party_orgs = {_recorded_parties('a.state')} FROM agreements a WHERE a.id = s.id"
    )
    op.alter_column("agreement_summaries", "party_orgs", nullable=False)
    _follow(f"{COLUMNS}, party_orgs", f"{VALUES}, {_recorded_parties('NEW.state')}")


def downgrade() -> None:
    _follow(COLUMNS, VALUES)
    op.drop_column("agreement_summaries", "party_orgs")
