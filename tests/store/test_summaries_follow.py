"""The summaries row follows every write of `agreements` (migration 2026_12_01_0021): a
transition sets what it changed, a changed search text or party list rewrites the words
and the parties, and a row gone missing is written again by the next write.

Against the real (embedded, migrated) PostgreSQL; each test makes its own agreement.
"""

from __future__ import annotations

from sqlalchemy import text

from services.store.db import session_scope
from tests.store.test_store import submitted, token
from workflows import lifecycle as L

# The columns the summaries copy from `agreements`, as they read in both tables.
COPIED = (
    "title, kind, stage, step_key, version, initiator_org, orgs, sector, start_date, end_date, "
    "next_deadline_at, ministry_visible, updated_at, search, health"
)


async def copied(sessionmaker, table: str, agreement_id: str):
    async with sessionmaker() as session:
        return (await session.execute(text(f"SELECT {COPIED} FROM {table} WHERE id = :id"), {"id": agreement_id})).one()


async def summary(sessionmaker, agreement_id: str):
    async with sessionmaker() as session:
        return (
            await session.execute(
                text("SELECT party_orgs, search_words::text AS words FROM agreement_summaries WHERE id = :id"),
                {"id": agreement_id},
            )
        ).one()


async def write(sessionmaker, agreement_id: str, assignment: str) -> None:
    """A write of `agreements` by another writer than the recorder (the sweeps, an operator)."""
    async with session_scope(sessionmaker) as session:
        await session.execute(text(f"UPDATE agreements SET {assignment} WHERE id = :id"), {"id": agreement_id})


async def test_a_recorded_transition_leaves_the_summary_equal_to_the_agreement(sessionmaker):
    state, _ = await submitted(sessionmaker, f"a{token()}", f"b{token()}")
    assert await copied(sessionmaker, "agreement_summaries", state.id) == await copied(
        sessionmaker, "agreements", state.id
    )
    row = await summary(sessionmaker, state.id)
    assert row.party_orgs == L.party_orgs(state)


async def test_a_write_that_keeps_search_and_parties_keeps_the_words_and_parties_and_moves_the_rest(sessionmaker):
    state, _ = await submitted(sessionmaker, f"a{token()}", f"b{token()}")
    before = await summary(sessionmaker, state.id)
    await write(sessionmaker, state.id, "stage = 'review', version = version + 1, updated_at = now()")
    assert await copied(sessionmaker, "agreement_summaries", state.id) == await copied(
        sessionmaker, "agreements", state.id
    )
    assert await summary(sessionmaker, state.id) == before


async def test_a_changed_search_text_rewrites_the_words(sessionmaker):
    state, _ = await submitted(sessionmaker, f"a{token()}", f"b{token()}")
    word = f"w{token()}"
    await write(sessionmaker, state.id, f"search = search || ' {word}'")
    assert word in (await summary(sessionmaker, state.id)).words
    assert (await copied(sessionmaker, "agreement_summaries", state.id)).search.endswith(word)


async def test_a_changed_party_in_the_recorded_state_rewrites_who_may_see_the_row(sessionmaker):
    state, _ = await submitted(sessionmaker, f"a{token()}", f"b{token()}")
    newcomer = f"c{token()}"
    await write(sessionmaker, state.id, f"""state = jsonb_set(state, '{{parties,1,org}}', '"{newcomer}"')""")
    assert (await summary(sessionmaker, state.id)).party_orgs == [L.party_orgs(state)[0], newcomer]


async def test_a_summary_gone_missing_is_written_again_by_the_next_write(sessionmaker):
    state, _ = await submitted(sessionmaker, f"a{token()}", f"b{token()}")
    async with session_scope(sessionmaker) as session:
        await session.execute(text("DELETE FROM agreement_summaries WHERE id = :id"), {"id": state.id})
    await write(sessionmaker, state.id, "version = version + 1")
    assert await copied(sessionmaker, "agreement_summaries", state.id) == await copied(
        sessionmaker, "agreements", state.id
    )
    assert (await summary(sessionmaker, state.id)).party_orgs == L.party_orgs(state)
