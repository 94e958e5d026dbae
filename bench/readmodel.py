"""A read model at scale: `load_agreements` writes N agreements straight into the
`agreements` table (by COPY; its trigger keeps `agreement_summaries`), without Temporal
and without an audit trail, for measuring the reads (`GET /agreements`,
`GET /agreements/{id}`) as they answer with that many rows.

Each row is the projection Pakta writes (`services.store.queries.projection`) of a state
the decider really reached: the bench's KSDD procedure (`bench.procedure`, the one the HTTP
leg drives) after each of its actions, from the draft to implementation, is a template, and
each agreement is a template with its own id, title and pair of organisations written into
its state and columns as text — no decider or validation per row, so 100,000 load in
seconds. The rows' times spread back from `now`; a state keeps its template's times.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.decider import states
from bench.procedure import Pair
from services.store.db import driver_dsn
from services.store.queries import projection

# What the templates are written with; each row puts its own in their place.
_INITIATOR, _COUNTERPARTY, _ID = "tpl-initiator", "tpl-counterparty", "tpl-agreement"
_TITLE = "tpltitle"
_WORDS = ("kesehatan", "pendidikan", "pariwisata", "air bersih", "transportasi", "pertanian", "digital")
_BATCH = 5000


class Loaded(NamedTuple):
    id: str
    initiator: str


async def load_agreements(
    sessionmaker_or_dsn: async_sessionmaker[AsyncSession] | str,
    n: int,
    orgs: Sequence[str],
    *,
    id_prefix: str = "bench",
    now: datetime | None = None,
) -> list[Loaded]:
    """Insert `n` agreements among `orgs` (each between two of them, the initiator first
    in turn) into the read model of `sessionmaker_or_dsn` (a sessionmaker, or a database
    URL, `postgresql://` or as `PAKTA_DATABASE_URL` takes it); their ids are
    `<id_prefix>-000001`…, updated five minutes apart before `now` (default: the current
    time), the most recent first. Returns each one's id and initiating organisation."""
    if len(orgs) < 2:
        raise ValueError("agreements are between at least two organisations")
    if not isinstance(sessionmaker_or_dsn, str):
        async with sessionmaker_or_dsn() as session, session.begin():
            raw = await (await session.connection()).get_raw_connection()
            return await _load(raw.driver_connection, n, orgs, id_prefix, now)
    connection = await asyncpg.connect(driver_dsn(sessionmaker_or_dsn))
    try:
        async with connection.transaction():
            return await _load(connection, n, orgs, id_prefix, now)
    finally:
        await connection.close()


async def _load(
    connection: asyncpg.Connection, n: int, orgs: Sequence[str], id_prefix: str, now: datetime | None
) -> list[Loaded]:
    templates = _templates()
    columns = list(templates[0][0])
    newest = now or datetime.now(UTC)
    loaded: list[Loaded] = []
    records: list[tuple[Any, ...]] = []
    for i in range(n):
        # Every organisation meets every stage: i alone would pair an initiator with the
        # templates i ≡ its turn (mod the greatest common divisor of the two counts).
        row, state = templates[(i + i // len(orgs)) % len(templates)]
        agreement_id = f"{id_prefix}-{i + 1:06d}"
        initiator = orgs[i % len(orgs)]
        counterparty = orgs[(i // len(orgs) + 1 + i) % len(orgs)]
        if counterparty == initiator:
            counterparty = orgs[(orgs.index(initiator) + 1) % len(orgs)]
        title = f"Kerja sama {_WORDS[i % len(_WORDS)]} {i + 1}"
        names = {_INITIATOR: initiator, _COUNTERPARTY: counterparty, _ID: agreement_id, _TITLE: title}
        # Five minutes apart, most recent first (100,000 span a year); a deadline moves too.
        updated = newest - timedelta(minutes=5 * i)
        shift = updated - row["updated_at"]
        own = {
            "id": agreement_id,
            "title": title,
            "initiator_org": initiator,
            "orgs": [names[o] for o in row["orgs"]],
            "search": _named(row["search"], {k: v.lower() for k, v in names.items()}),
            "state": _named(state, {k: json.dumps(v)[1:-1] for k, v in names.items()}),
            "created_at": updated,
            "updated_at": updated,
            "next_deadline_at": row["next_deadline_at"] + shift if row["next_deadline_at"] else None,
        }
        records.append(tuple(own[c] if c in own else row[c] for c in columns))
        loaded.append(Loaded(agreement_id, initiator))
        if len(records) == _BATCH:
            await connection.copy_records_to_table("agreements", records=records, columns=columns)
            records = []
    if records:
        await connection.copy_records_to_table("agreements", records=records, columns=columns)
    return loaded


def _named(text: str, names: dict[str, str]) -> str:
    for placeholder, name in names.items():
        text = text.replace(placeholder, name)
    return text


def _templates() -> list[tuple[dict[str, Any], str]]:
    """The projection of each state of the procedure, and its state as JSON text."""
    found = []
    for state in states(Pair(_INITIATOR, _COUNTERPARTY), _ID):
        row = projection(state.model_copy(update={"title": _TITLE}), "0" * 64)
        found.append((row, json.dumps(row["state"])))
    return found
