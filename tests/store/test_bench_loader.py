"""`bench.readmodel.load_agreements`: the synthetic read model the benchmarks measure reads
against is one the API reads like its own — lists find the rows by their filters, and each
row's state reads back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from bench.readmodel import load_agreements
from services.store import queries


async def test_loaded_agreements_are_listed_by_their_filters_and_read_back(sessionmaker, orgs):
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    ids = await load_agreements(sessionmaker, 40, list(orgs), id_prefix=prefix, now=datetime(2027, 6, 1, tzinfo=UTC))
    assert len(ids) == len(set(ids)) == 40 and all(i.startswith(prefix) for i in ids)
    async with sessionmaker() as session:
        listed, cursor = await queries.list_agreements(session, viewer_orgs=[orgs[0]], limit=50)
        assert {r.id for r in listed} == set(ids) and cursor is None  # every one is between the two
        stages = {r.stage for r in listed}
        assert {"draft", "implementation"} <= stages and len(stages) >= 4
        in_force, _ = await queries.list_agreements(session, viewer_orgs=[orgs[1]], stage="implementation")
        assert in_force and {r.stage for r in in_force} == {"implementation"}
        states = await queries.agreement_states(session, ids=ids)
        record = await queries.get_agreement(session, agreement_id=ids[0])
    assert record is not None and record.state == states[ids[0]]
    assert all({p.org for p in s.parties} == set(orgs) for s in states.values())
