"""The audit trail checked against a witness outside the database: the agreement's workflow.

Recomputing the hash chain from the database proves nothing to someone who can write to
it: they can edit an event and recompute every later hash and the stored head. Temporal's
history is an independent witness. The workflow answers, from its history, the state it
holds (with its `seq`) and the trail's hash after each batch it recorded; a closed
workflow still answers from its last history. `/events/verify` compares:

- the trail's hash at each batch end the workflow recorded with the database's row at
  that seq (an edited event shows in the first batch at or after it);
- the trail's length with the workflow's `seq`;
- every column of the read-model row with the projection of the workflow's state (an
  organisation added to `orgs` by hand shows as `orgs`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError

from services.store import queries
from workflows import messages as m
from workflows.agreement import AgreementWorkflow, workflow_id

# Columns the projection derives from more than the state.
NOT_COMPARED = frozenset({"head_hash", "search"})
IN_FLIGHT_RETRY_SECONDS = 0.5


class Disagreement(BaseModel):
    field: str
    read_model: Any = None
    workflow: Any = None


class Witness(BaseModel):
    """What the workflow says, from Temporal's history."""

    state: m.AgreementState | None
    heads: dict[int, str]


async def witness(client: Client, agreement_id: str) -> Witness | None:
    """The workflow's state and recorded heads; None when there is no workflow to ask."""
    handle = client.get_workflow_handle(workflow_id(agreement_id))
    try:
        state = await handle.query(AgreementWorkflow.state)
    except RPCError:
        return None
    try:
        heads = await handle.query(AgreementWorkflow.heads)
    except RPCError:  # a worker from before heads were kept: state only
        heads = {}
    return Witness(state=state, heads={int(k): v for k, v in heads.items()})


async def compare(session: AsyncSession, agreement_id: str, seen: Witness) -> tuple[int | None, list[Disagreement]]:
    """The first seq where the database and the workflow disagree (None: none), and every
    field that does."""
    disagreements: list[Disagreement] = []
    broken: list[int] = []
    if seen.state is None:
        return None, [Disagreement(field="state", read_model="recorded", workflow=None)]
    hashes = await queries.chain_hashes(session, agreement_id=agreement_id)
    last = max(hashes, default=0)
    previous_end = 0
    for end in sorted(seen.heads):
        if hashes.get(end) != seen.heads[end]:
            stored = hashes.get(end)
            disagreements.append(Disagreement(field=f"hash@{end}", read_model=stored, workflow=seen.heads[end]))
            broken.append(previous_end + 1)
            break
        previous_end = end
    if last != seen.state.seq:
        disagreements.append(Disagreement(field="seq", read_model=last, workflow=seen.state.seq))
        broken.append(min(last, seen.state.seq) + 1)

    table = queries.AGREEMENTS
    row = (await session.execute(select(table).where(table.c.id == agreement_id))).mappings().first()
    expected = queries.projection(seen.state, "")
    if row is None:
        disagreements.append(Disagreement(field="row", read_model=None, workflow=seen.state.seq))
    else:
        for name, value in expected.items():
            if name in NOT_COMPARED:
                continue
            if name == "state":
                disagreements += _state_fields(row["state"], value)
            elif row[name] != value:
                disagreements.append(Disagreement(field=name, read_model=row[name], workflow=value))
    return (min(broken) if broken else None), disagreements


def _state_fields(stored: dict[str, Any], expected: dict[str, Any]) -> list[Disagreement]:
    names = sorted(set(stored) | set(expected))
    return [
        Disagreement(field=f"state.{name}", read_model=stored.get(name), workflow=expected.get(name))
        for name in names
        if stored.get(name) != expected.get(name)
    ]


async def check(
    session: AsyncSession, client: Client, agreement_id: str
) -> tuple[bool, int | None, list[Disagreement]]:
    """Whether the workflow answered, the first disagreeing seq and the disagreements. A
    command being recorded right now shows for a moment (the row is written before the
    workflow's task completes): one second look after a pause settles it."""
    for attempt in range(2):
        seen = await witness(client, agreement_id)
        if seen is None:
            return False, None, []
        broken_at, disagreements = await compare(session, agreement_id, seen)
        if not disagreements or attempt == 1:
            return True, broken_at, disagreements
        await session.rollback()  # a fresh snapshot of the database for the second look
        await asyncio.sleep(IN_FLIGHT_RETRY_SECONDS)
    raise AssertionError("unreachable")
