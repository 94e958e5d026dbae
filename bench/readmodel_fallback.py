"""Rows for the read model, loaded directly (COPY), so `GET /agreements` can be measured
over 100,000 agreements without driving them all through Temporal.

A stop-gap until `bench/readmodel.py` (`load_agreements`, branch `speed`) lands on main:
`bench.reads.load` is the one call to switch. Each row is the projection Pakta itself would
write (`services.store.queries.projection`) of a real state from the decider — the KSDD
procedure at one of several points (draft, review, signing, implementation) — cloned under
a new id and title over `regions` regions.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.decider import states
from bench.procedure import pairs
from services.store.queries import projection

# After how many of the procedure's actions a template is taken: created, submitted,
# KSB drafted, KSB signed, in implementation.
STAGES_AFTER = (0, 1, 4, 9, 15)
COLUMNS = [
    *("id", "title", "kind", "stage", "step_key", "version", "procedure_key", "procedure_version"),
    *("initiator_org", "orgs", "sector", "start_date", "end_date", "value", "next_deadline_at"),
    *("ministry_visible", "last_seq", "head_hash", "created_by", "created_at", "updated_at", "state", "search"),
]


def _templates(regions: int) -> list[dict[str, Any]]:
    found = []
    for pair in pairs(max(1, regions // 2)):
        history = list(states(pair, f"template-{pair.initiator}"))
        found.extend(projection(history[n], "0" * 64) for n in STAGES_AFTER)
    return found


async def load_agreements(dsn: str, count: int, *, regions: int = 100, batch: int = 5000) -> list[tuple[str, str]]:
    """Insert `count` agreements; returns (id, initiating region) of each."""
    templates = _templates(regions)
    newest = datetime.now(UTC)
    loaded: list[tuple[str, str]] = []
    connection = await asyncpg.connect(dsn)
    try:
        for start in range(0, count, batch):
            records = []
            for k in range(start, min(count, start + batch)):
                row = dict(templates[k % len(templates)])
                agreement_id = str(uuid.UUID(int=k + 1, version=4))
                title = f"Kerja sama bench {k}"
                state = {**row["state"], "id": agreement_id, "title": title}
                updated = newest - timedelta(seconds=k)
                row.update(
                    id=agreement_id,
                    title=title,
                    updated_at=updated,
                    created_at=updated,
                    state=json.dumps(state),
                    search=f"{title.lower()} {row['search']}",
                )
                records.append(tuple(row[c] for c in COLUMNS))
                loaded.append((agreement_id, str(row["initiator_org"])))
            await connection.copy_records_to_table("agreements", records=records, columns=COLUMNS)
    finally:
        await connection.close()
    return loaded
