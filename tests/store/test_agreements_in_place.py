"""A transition rewrites its agreement's row in place (migrations 2026_12_02_0022 and 0023):
`agreements` indexes no column a transition changes and leaves room on its pages, so the
update is HOT — the new version on the old one's page, no index entry written. What orders
by time (the inbox's open agreements) or by deadline (the daily digest) reads the summaries'
copy of it instead.

Against the real (embedded, migrated) PostgreSQL; `pageinspect` reads the row's own tuple
header (HEAP_ONLY_TUPLE: a version no index points to, reached through the page).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from services.store.db import session_scope
from services.store.notifications import open_agreements
from services.store.portfolio import digest_states
from tests.builders import NOW, party, proposal, run, staff
from tests.store.test_store import create, record, submitted, token
from tests.store.test_summaries_follow import write
from workflows import messages as m
from workflows.portfolio.digest import UPCOMING_DAYS

HEAP_ONLY_TUPLE = 0x8000  # t_infomask2: a version written by a HOT update


async def pruning_may_reach_the_versions_written_so_far(sessionmaker) -> None:
    """Wait until every transaction running now, in any database, has ended.

    A transition's update is HOT only if its new version finds room on its row's page; a
    twenty-party row (≈ 2 KB a version) has room for two or three, so the next one needs
    the page pruned of the dead ones first. While a transaction older than them ran, even in
    another database, none was pruned: the fixtures' `CREATE DATABASE` and `DROP DATABASE` (in
    the maintenance database, 0.1–0.4 s each, in the background after a worker test) kept
    them, and a third version in a row found no room and went to another page (the first
    store tests after `tests/worker`). Waiting for such transactions to end leaves the update
    HOT or not by what it changes alone."""
    async with session_scope(sessionmaker) as session:
        # A transaction id of our own, taken after the versions so far were committed.
        ours = (await session.execute(text("SELECT pg_current_xact_id()::text::bigint"))).scalar_one()
    async with asyncio.timeout(30):  # a transaction that long is another test's bug: fail
        while True:
            async with sessionmaker() as session:
                oldest = (
                    await session.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"))
                ).scalar_one()
            if oldest > ours:
                return
            await asyncio.sleep(0.05)


async def written_in_place(sessionmaker, agreement_id: str) -> bool:
    """Whether the agreement's current row version came from a HOT update."""
    async with session_scope(sessionmaker) as session:
        await session.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        flags = (
            await session.execute(
                text(
                    "SELECT i.t_infomask2 FROM agreements a,"
                    " heap_page_items(get_raw_page('agreements', (a.ctid::text::point)[0]::int)) i"
                    " WHERE a.id = :id AND i.lp = (a.ctid::text::point)[1]::int"
                ),
                {"id": agreement_id},
            )
        ).scalar_one()
    return bool(flags & HEAP_ONLY_TUPLE)


async def test_a_recorded_transition_rewrites_the_agreements_row_without_touching_an_index(sessionmaker):
    lead = f"a{token()}"
    state, _ = await submitted(sessionmaker, lead, f"b{token()}")
    # An hour later: the version, the time and the state move; the deadline stays.
    later = NOW + timedelta(hours=1)
    after, events = run(state, staff(lead), m.Comment(text="a transition"), later)
    assert after.deadlines == state.deadlines
    await record(sessionmaker, after, events)
    assert await written_in_place(sessionmaker, state.id)


async def test_a_transition_that_moves_the_deadline_also_rewrites_the_row_in_place(sessionmaker):
    lead = f"a{token()}"
    state, _ = await submitted(sessionmaker, lead, f"b{token()}")
    after, events = run(state, staff(lead), m.ExtendDeadline(days=1, reason="Menunggu data."), NOW)
    assert after.deadlines["step"] > state.deadlines["step"]
    await record(sessionmaker, after, events)
    assert await written_in_place(sessionmaker, state.id)


async def test_the_inbox_reads_open_agreements_newest_first_and_leaves_out_the_finished(sessionmaker):
    lead, other = f"a{token()}", f"b{token()}"
    older, _ = await submitted(sessionmaker, lead, other)
    newer, _ = await submitted(sessionmaker, lead, other)
    finished, _ = await submitted(sessionmaker, lead, other)
    await write(sessionmaker, older.id, "updated_at = now() - interval '1 hour'")
    await write(sessionmaker, newer.id, "updated_at = now()")
    await write(sessionmaker, finished.id, "stage = 'withdrawn', updated_at = now() + interval '1 hour'")
    async with sessionmaker() as session:
        for_the_lead = await open_agreements(session, viewer_org=lead, ministry=False)
        for_a_stranger = await open_agreements(session, viewer_org=f"z{token()}", ministry=False)
    assert [s.id for s in for_the_lead] == [newer.id, older.id]
    assert for_a_stranger == []


async def test_the_digest_reads_an_organisations_open_agreements_by_their_deadline(sessionmaker):
    lead, other = f"a{token()}", f"b{token()}"
    overdue, _ = await submitted(sessionmaker, lead, other)
    soon, _ = await submitted(sessionmaker, lead, other)
    later, _ = await submitted(sessionmaker, lead, other)
    finished, _ = await submitted(sessionmaker, lead, other)
    await write(sessionmaker, overdue.id, "next_deadline_at = now() - interval '1 day'")
    await write(sessionmaker, soon.id, "next_deadline_at = now() + interval '2 days'")
    await write(sessionmaker, later.id, f"next_deadline_at = now() + interval '{max(UPCOMING_DAYS) + 1} days'")
    await write(sessionmaker, finished.id, "stage = 'withdrawn', next_deadline_at = now() - interval '2 days'")
    now, today = datetime.now(UTC), datetime.now(UTC).date()
    async with sessionmaker() as session:
        for_the_lead = await digest_states(session, org=lead, now=now, today=today)
        for_the_partner = await digest_states(session, org=other, now=now, today=today, limit=1)
        for_a_stranger = await digest_states(session, org=f"z{token()}", now=now, today=today)
    assert [s.id for s in for_the_lead] == [overdue.id, soon.id]
    assert [s.id for s in for_the_partner] == [overdue.id]
    assert for_a_stranger == []


async def test_an_agreement_whose_row_is_toasted_keeps_its_transitions_in_place(sessionmaker):
    # Parties whose names repeat (`pemerintah-kabupaten-…`) and a state grown past a row's
    # share of its page: toasting the row compressed every large column in turn, `orgs`
    # included, and the next update found the stored `orgs` unlike the new one, byte for
    # byte — not HOT, though the parties stayed (migration 2026_12_02_0025).
    shared = f"pemerintah-kabupaten-{token()}"
    lead = f"{shared}-satu"
    state, _ = await submitted(sessionmaker, lead, f"{shared}-dua")
    await three_long_comments_each_written_in_place(sessionmaker, state, staff(lead))
    size, compression = await stored_size_and_orgs_compression(sessionmaker, state.id, "state")
    assert size > 1500 and compression is None


async def test_an_agreement_of_twenty_parties_with_the_longest_names_keeps_its_transitions_in_place(sessionmaker):
    # The most `orgs` can hold (20 parties, 64-character ids: ≈ 1.3 KB) beside a title at
    # its longest: `STORAGE EXTERNAL` may still move `orgs` out of line when the row cannot
    # fit otherwise, and an update writing it back plain would then never be HOT.
    shared = f"pemerintah-kabupaten-{token()}"
    orgs = [f"{shared}-{n:02d}".ljust(64, "x") for n in range(20)]
    prop = proposal([party(orgs[0], "initiator"), *(party(org) for org in orgs[1:])], "ksdd", title="T" * 200)
    state, created = create(prop)
    await record(sessionmaker, state, created)
    state, events = run(state, staff(orgs[0]), m.Submit())
    await record(sessionmaker, state, events)
    await three_long_comments_each_written_in_place(sessionmaker, state, staff(orgs[0]))
    size, compression = await stored_size_and_orgs_compression(sessionmaker, state.id, "orgs")
    assert size > 1300 and compression is None


async def three_long_comments_each_written_in_place(sessionmaker, state: m.AgreementState, author: m.Actor) -> None:
    """Three transitions of a comment long enough to keep the row toasted, each HOT."""
    for minute in range(1, 4):
        notes = " ".join(f"rapat koordinasi {minute}-{n}" for n in range(60))
        state, events = run(state, author, m.Comment(text=notes), NOW + timedelta(minutes=minute))
        await pruning_may_reach_the_versions_written_so_far(sessionmaker)
        await record(sessionmaker, state, events)
        assert await written_in_place(sessionmaker, state.id), f"transition {minute}"


async def stored_size_and_orgs_compression(sessionmaker, agreement_id: str, column: str) -> tuple[int, str | None]:
    """The stored size of `column` (`state` or `orgs`) and how `orgs` is compressed (None: not)."""
    async with session_scope(sessionmaker) as session:
        stored = await session.execute(
            text(f"SELECT pg_column_size({column}), pg_column_compression(orgs) FROM agreements WHERE id = :id"),
            {"id": agreement_id},
        )
    size, compression = stored.one()
    return size, compression
