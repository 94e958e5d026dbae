"""The summaries row follows every write of `agreements` (migration 2026_12_01_0021): a
transition sets what it changed, a changed search text or party list rewrites the words
and the parties, and a row gone missing is written again by the next write; the
summary's rows by organisation (migration 2026_12_02_0024) follow it the same way.

Against the real (embedded, migrated) PostgreSQL; each test makes its own agreement.
"""

from __future__ import annotations

from sqlalchemy import text

from services.store.db import session_scope
from tests.store.test_lost_tasks import as_the_application  # noqa: F401 (a fixture)
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


# The summary's rows by organisation (migration 2026_12_02_0024), which the staff lists walk.
async def by_organisation(sessionmaker, agreement_id: str):
    async with sessionmaker() as session:
        rows = await session.execute(
            text(
                "SELECT org, stage, kind, updated_at FROM agreement_summary_orgs WHERE agreement_id = :id ORDER BY org"
            ),
            {"id": agreement_id},
        )
        return [tuple(row) for row in rows]


async def expected_by_organisation(sessionmaker, agreement_id: str):
    """One row per organisation of the agreement's `orgs`, with its stage, kind and time."""
    row = await copied(sessionmaker, "agreements", agreement_id)
    return sorted((org, row.stage, row.kind, row.updated_at) for org in set(row.orgs))


async def test_an_agreement_has_a_row_per_organisation_with_its_stage_kind_and_time(sessionmaker):
    state, _ = await submitted(sessionmaker, f"a{token()}", f"b{token()}")
    rows = await by_organisation(sessionmaker, state.id)
    assert len(rows) == 2 and rows == await expected_by_organisation(sessionmaker, state.id)


async def test_a_transition_moves_the_organisations_rows_stage_and_time(sessionmaker):
    state, _ = await submitted(sessionmaker, f"a{token()}", f"b{token()}")
    before = await by_organisation(sessionmaker, state.id)
    await write(sessionmaker, state.id, "stage = 'review', version = version + 1, updated_at = now()")
    after = await by_organisation(sessionmaker, state.id)
    assert after == await expected_by_organisation(sessionmaker, state.id)
    assert {r[1] for r in after} == {"review"} and after != before


async def test_changed_organisations_rewrite_their_rows_once_each(sessionmaker):
    a, b, c = f"a{token()}", f"b{token()}", f"c{token()}"
    state, _ = await submitted(sessionmaker, a, b)
    await write(sessionmaker, state.id, f"orgs = ARRAY['{a}', '{c}', '{c}'], updated_at = now()")
    assert [r[0] for r in await by_organisation(sessionmaker, state.id)] == sorted([a, c])
    assert await by_organisation(sessionmaker, state.id) == await expected_by_organisation(sessionmaker, state.id)


async def test_organisations_rows_gone_missing_are_written_again_by_the_next_write(sessionmaker):
    state, _ = await submitted(sessionmaker, f"a{token()}", f"b{token()}")
    async with session_scope(sessionmaker) as session:
        await session.execute(text("DELETE FROM agreement_summary_orgs WHERE agreement_id = :id"), {"id": state.id})
    await write(sessionmaker, state.id, "version = version + 1")
    assert await by_organisation(sessionmaker, state.id) == await expected_by_organisation(sessionmaker, state.id)


async def test_a_deleted_agreement_takes_its_organisations_rows_along(sessionmaker):
    state, _ = await submitted(sessionmaker, f"a{token()}", f"b{token()}")
    async with session_scope(sessionmaker) as session:
        await session.execute(text("DELETE FROM agreements WHERE id = :id"), {"id": state.id})
    assert await by_organisation(sessionmaker, state.id) == []


async def test_the_application_role_writes_the_organisations_rows_as_it_records(as_the_application):  # noqa: F811
    """The trigger runs as the writer: the worker's role, which may rewrite the rows (a
    creation, changed organisations) — not the owner the other tests connect as."""
    state, _ = await submitted(as_the_application, f"a{token()}", f"b{token()}")
    await write(as_the_application, state.id, f"orgs = orgs || ARRAY['c{token()}'], updated_at = now()")
    rows = await by_organisation(as_the_application, state.id)
    assert len(rows) == 3 and rows == await expected_by_organisation(as_the_application, state.id)
