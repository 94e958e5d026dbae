"""`bench.readmodel.load_agreements`: the synthetic read model the benchmarks measure reads
against is one the API reads like its own — lists find the rows by their filters and their
words, and each row's state reads back as the agreement its columns describe."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import text

from bench.readmodel import load_agreements
from services.store import queries


async def test_loaded_agreements_are_listed_by_their_filters_and_read_back(sessionmaker, orgs):
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    now = datetime(2027, 6, 1, tzinfo=UTC)
    loaded = await load_agreements(sessionmaker, 40, list(orgs), id_prefix=prefix, now=now)
    ids = [a.id for a in loaded]
    assert len(ids) == len(set(ids)) == 40 and all(i.startswith(prefix) for i in ids)
    assert [a.initiator for a in loaded[:3]] == [orgs[0], orgs[1], orgs[0]]  # in turn
    async with sessionmaker() as session:
        listed, cursor = await queries.list_agreements(session, viewer_orgs=[orgs[0]], limit=50)
        assert [r.id for r in listed] == ids and cursor is None  # every one is between the two, newest first
        assert listed[0].updated_at == now
        stages = {r.stage for r in listed}
        assert {"draft", "signing", "implementation"} <= stages and len(stages) >= 4
        in_force, _ = await queries.list_agreements(session, viewer_orgs=[orgs[1]], stage="implementation")
        assert in_force and {r.stage for r in in_force} == {"implementation"}
        found, _ = await queries.list_agreements(session, viewer_orgs=None, q=f"{orgs[0]} kerja sama 12")
        # the staff lists' rows by organisation (its trigger writes them with the summaries)
        by_org = await session.execute(
            text("SELECT count(*) FROM agreement_summary_orgs WHERE agreement_id = ANY(:ids)"), {"ids": ids}
        )
        assert by_org.scalar_one() == 40 * 2
        states = await queries.agreement_states(session, ids=ids)
        record = await queries.get_agreement(session, agreement_id=ids[11])
    assert [r.id for r in found] == [ids[11]]  # "Kerja sama … 12", its organisations' words
    assert record is not None and record.state == states[ids[11]]
    assert (record.title, record.initiator_org, record.stage) == (
        record.state.title,
        record.state.parties[0].org,
        record.state.stage,
    )
    assert all({p.org for p in s.parties} == set(orgs) and s.id == i for i, s in states.items())
