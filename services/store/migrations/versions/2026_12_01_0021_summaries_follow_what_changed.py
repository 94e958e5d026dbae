"""summaries follow what changed: a transition's write no longer recomputes the words and parties

Every write of `agreements` (every recorded transition) upserted the whole summaries row:
the parties' organisations recomputed from the 4 KB state with `jsonb_path_query`, and,
since `search` was among the columns set, the generated `search_words` vector recomputed
with `to_tsvector` (0.42–0.51 ms of the recording's 2.2–2.8 ms of server time, `perf-pg2`).
A transition changes the stage, step, version, deadline and time; the search text and the
parties change rarely. On an update whose `search` and recorded parties are what they were,
the trigger now sets the other columns only: PostgreSQL recomputes a generated column only
when a column it is made from is set, and `party_orgs` is kept. Anything else (an insert,
a changed search or parties, a summaries row that is missing) writes the whole row as
before, so the summaries say what they said, written from the same write's recorded state.

No backfill: the rows are the same; only the function is replaced.

Revision ID: 2026_12_01_0021
Revises: 2026_12_01_0020
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "2026_12_01_0021"
down_revision: str | Sequence[str] | None = "2026_12_01_0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What a transition may change, set without touching `search` (so not `search_words`) or
# `party_orgs`.
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
# Every column the trigger writes, in migration 0018's order (`party_orgs` computed after).
ALL = (
    "id", "title", "kind", "stage", "step_key", "version", "initiator_org", "orgs", "sector", "start_date",
    "end_date", "next_deadline_at", "ministry_visible", "updated_at", "search", "health",
)  # fmt: skip
ALL_VALUES = ", ".join(f"NEW.{name}" for name in ALL)
ALL_EXCLUDED = ", ".join(f"EXCLUDED.{name}" for name in ALL)


def upgrade() -> None:
    cheap = ", ".join(CHEAP)
    cheap_values = ", ".join(f"NEW.{name}" for name in CHEAP)
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION agreement_summaries_follow() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'UPDATE'
               AND NEW.search IS NOT DISTINCT FROM OLD.search
               AND NEW.state -> 'parties' IS NOT DISTINCT FROM OLD.state -> 'parties' THEN
                UPDATE agreement_summaries SET ({cheap}) = ROW({cheap_values}) WHERE id = NEW.id;
                IF FOUND THEN
                    RETURN NULL;
                END IF;
            END IF;
            INSERT INTO agreement_summaries ({", ".join(ALL)}, party_orgs) VALUES ({ALL_VALUES}, {PARTIES})
            ON CONFLICT (id) DO UPDATE SET ({", ".join(ALL)}, party_orgs) = ROW({ALL_EXCLUDED}, EXCLUDED.party_orgs);
            RETURN NULL;
        END
        $$ LANGUAGE plpgsql
        """
    )


def downgrade() -> None:
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION agreement_summaries_follow() RETURNS trigger AS $$
        BEGIN
            INSERT INTO agreement_summaries ({", ".join(ALL)}, party_orgs) VALUES ({ALL_VALUES}, {PARTIES})
            ON CONFLICT (id) DO UPDATE SET ({", ".join(ALL)}, party_orgs) = ROW({ALL_EXCLUDED}, EXCLUDED.party_orgs);
            RETURN NULL;
        END
        $$ LANGUAGE plpgsql
        """
    )
