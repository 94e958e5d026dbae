"""The store against the real (embedded, migrated) PostgreSQL: recording events into the
hash chain and the projection, the append-only guard, lists, documents.

Every test makes its own agreement ids and organisations, so tests share one database
without seeing each other's rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from services.store import queries
from services.store.audit import GENESIS, chain_hash, event_body
from services.store.db import Base, driver_connection, session_scope
from tests.builders import NOW, advance, happy_step, party, proposal, replay, run, staff
from tests.readmodel import events_of
from tests.readmodel import row as agreement
from workflows import lifecycle as L
from workflows import messages as m
from workflows.contracts.records import Recorder
from workflows.timeline import Calendar, edition_at

WIB = timezone(timedelta(hours=7))


def token() -> str:
    return uuid.uuid4().hex[:10]


def ksdd(lead: str, other: str, **overrides) -> m.Proposal:
    return proposal([party(lead, "initiator"), party(other)], "ksdd", **overrides)


def create(prop: m.Proposal, now: datetime = NOW) -> tuple[m.AgreementState, list[m.Event]]:
    lead = next(p.org for p in prop.parties if p.role == "initiator")
    events = L.create(prop, staff(lead), now, f"agr-{uuid.uuid4()}")
    return replay(events), events


async def record(sessionmaker, state: m.AgreementState, events: list[m.Event]):
    async with session_scope(sessionmaker) as session:
        return await queries.append_events(session, state=state, events=events)


async def verify(sessionmaker, agreement_id: str) -> queries.ChainVerification:
    async with sessionmaker() as session:
        return await queries.verify_chain(session, agreement_id=agreement_id)


async def submitted(sessionmaker, lead: str = "jabar", other: str = "jateng"):
    """A ksdd recorded as the workflow would: creation, then the submit's batch."""
    state, created = create(ksdd(lead, other))
    await record(sessionmaker, state, created)
    after, submit = run(state, staff(lead), m.Submit())
    await record(sessionmaker, after, submit)
    return after, created + submit


# ---------------------------------------------------------------- recording


async def test_events_are_chained_and_projected(sessionmaker):
    state, created = create(ksdd("jabar", "jateng"))
    first = await record(sessionmaker, state, created)
    assert first.inserted == 1
    after, submit = run(state, staff("jabar"), m.Submit())
    second = await record(sessionmaker, after, submit)
    assert second.inserted == len(submit) >= 2

    rows = await events_of(sessionmaker, state.id)
    assert [r.seq for r in rows] == list(range(1, after.seq + 1))
    assert [r.to_event() for r in rows] == created + submit
    prev = GENESIS
    for row, event in zip(rows, created + submit, strict=True):
        assert row.prev_hash == prev
        assert row.hash == chain_hash(prev, event_body(event))
        prev = row.hash
    assert rows[0].hash == first.head and rows[-1].hash == second.head

    record_ = await agreement(sessionmaker, state.id)
    assert record_ is not None
    assert record_.state == after
    assert (record_.stage, record_.step_key, record_.kind) == ("review", "persiapan", "ksdd")
    assert (record_.version, record_.last_seq, record_.head_hash) == (after.version, after.seq, second.head)
    assert (record_.initiator_org, record_.orgs) == ("jabar", ["jabar", "jateng"])
    assert (record_.procedure_key, record_.procedure_version) == ("ksdd", "2026.1")
    # A gate is due at 16:00 WIB on its 10th day of service (issue #10; 5 January 2027 is a holiday).
    assert (
        record_.next_deadline_at
        == after.deadlines["step"]
        == Calendar("Asia/Jakarta", edition=edition_at(NOW)).due_after(NOW, 10)
    )
    assert after.deadlines["step"] == datetime(2027, 1, 19, 9, 0, tzinfo=UTC)
    assert record_.ministry_visible is False
    assert record_.value == 1_500_000_000 and record_.end_date is None
    assert (record_.created_by, record_.created_at, record_.updated_at) == ("staff@jabar", NOW, NOW)

    assert await verify(sessionmaker, state.id) == {
        "valid": True,
        "count": after.seq,
        "head": second.head,
        "broken_at": None,
        "superseded": 0,
    }


async def test_recording_twice_inserts_nothing(sessionmaker):
    state, events = await submitted(sessionmaker)
    before = await verify(sessionmaker, state.id)

    again = await record(sessionmaker, state, events)  # a retried activity: the whole history
    assert (again.inserted, again.head) == (0, before["head"])
    assert await verify(sessionmaker, state.id) == before

    # A retry overlapping what is stored inserts only the tail, continuing the chain.
    later, comment = run(state, staff("jabar"), m.Comment(text="Mohon ditinjau"))
    result = await record(sessionmaker, later, events[-1:] + comment)
    assert result.inserted == len(comment)
    check = await verify(sessionmaker, state.id)
    assert check == {"valid": True, "count": later.seq, "head": result.head, "broken_at": None, "superseded": 0}


async def test_concurrent_retries_record_once(sessionmaker):
    state, created = create(ksdd("jabar", "jateng"))
    after, submit = run(state, staff("jabar"), m.Submit())
    await record(sessionmaker, state, created)
    results = await asyncio.gather(*(record(sessionmaker, after, submit) for _ in range(4)))
    assert sorted(r.inserted for r in results) == [0, 0, 0, len(submit)]
    assert len({r.head for r in results}) == 1
    assert (await verify(sessionmaker, state.id))["valid"]


async def test_a_head_that_moved_before_the_lock_is_read_again_and_nothing_is_recorded_twice(sessionmaker):
    # The head read with the lock comes from a snapshot taken just before the lock was
    # granted: a writer holding it may have committed in between. The rows written after
    # that head are then not written (nor the read model); the head is read again, current
    # now, and the batch is found recorded.
    state, created = create(ksdd("jabar", "jateng"))
    after, submit = run(state, staff("jabar"), m.Submit())
    first = await record(sessionmaker, state, created)
    done = await record(sessionmaker, after, submit)  # the writer that committed first
    async with session_scope(sessionmaker) as session:
        driver = await driver_connection(session, in_transaction=True)
        assert await queries._append(session, driver, after, submit, None, len(created), first.head) is None
        seen = (True, len(created), first.head)  # the lock taken, the head before the submission
        again = await queries._append_seen(session, driver, after, submit, None, seen)
    assert (again.inserted, again.head) == (0, done.head)
    assert await verify(sessionmaker, state.id) == {
        "valid": True,
        "count": after.seq,
        "head": done.head,
        "broken_at": None,
        "superseded": 0,
    }


async def test_a_batch_after_rows_the_lock_statement_did_not_see_is_recorded_not_refused_as_a_gap(sessionmaker):
    state, created = create(ksdd("jabar", "jateng"))
    after, submit = run(state, staff("jabar"), m.Submit())
    later, comment = run(after, staff("jabar"), m.Comment(text="Mohon ditinjau"))
    first = await record(sessionmaker, state, created)
    await record(sessionmaker, after, submit)  # committed between the snapshot and the lock
    async with session_scope(sessionmaker) as session:
        driver = await driver_connection(session, in_transaction=True)
        seen = (True, len(created), first.head)
        result = await queries._append_seen(session, driver, later, comment, None, seen)
    assert result.inserted == len(comment)
    check = await verify(sessionmaker, state.id)
    assert check == {"valid": True, "count": later.seq, "head": result.head, "broken_at": None, "superseded": 0}


async def test_a_recording_rolled_back_leaves_no_row_and_no_read_model(sessionmaker):
    # The recording's statements run on the driver's connection, in the session's transaction.
    state, created = create(ksdd("jabar", "jateng"))

    async def record_then_fail() -> None:
        async with session_scope(sessionmaker) as session:
            await queries.append_events(session, state=state, events=created)
            raise LookupError("the activity failed after recording")

    with pytest.raises(LookupError):
        await record_then_fail()
    assert await verify(sessionmaker, state.id) == {
        "valid": True,
        "count": 0,
        "head": GENESIS,
        "broken_at": None,
        "superseded": 0,
    }
    assert await agreement(sessionmaker, state.id) is None
    assert (await record(sessionmaker, state, created)).inserted == len(created)


async def test_a_gap_is_refused_and_nothing_is_written(sessionmaker):
    state, created = create(ksdd("jabar", "jateng"))
    await record(sessionmaker, state, created)
    after, _submit = run(state, staff("jabar"), m.Submit())
    later, comment = run(after, staff("jabar"), m.Comment(text="Tanpa submit tercatat"))
    with pytest.raises(queries.ChainGap):
        await record(sessionmaker, later, comment)
    assert len(await events_of(sessionmaker, state.id)) == 1
    assert (await agreement(sessionmaker, state.id)).last_seq == 1


async def test_a_different_history_under_a_recorded_seq_is_refused(sessionmaker):
    state, events = await submitted(sessionmaker)
    # The same command an hour later: same seqs and ids, different content.
    _, replayed = run(replay(events[:1]), staff("jabar"), m.Submit(), NOW + timedelta(hours=1))
    with pytest.raises(queries.ChainConflict):
        await record(sessionmaker, state, replayed)


def by(run_id: str, history_length: int, continued_from: str | None = None) -> Recorder:
    return Recorder(run_id=run_id, history_length=history_length, continued_run_id=continued_from)


async def record_as(sessionmaker, recorder: Recorder, state: m.AgreementState, events: list[m.Event]):
    async with session_scope(sessionmaker) as session:
        return await queries.append_events(session, state=state, events=events, recorder=recorder)


async def lost_comment_then_submit(sessionmaker, first: Recorder):
    """A comment recorded by a task that never completed, then — history having never held
    it — a submit decided under the same seq."""
    state, created = create(ksdd("jabar", "jateng"))
    await record_as(sessionmaker, by("run-a", 3), state, created)
    lost_state, lost = run(state, staff("jabar"), m.Comment(text="Tercatat, lalu pekerja mati"))
    await record_as(sessionmaker, first, lost_state, lost)
    truth_state, truth = run(state, staff("jabar"), m.Submit(), NOW + timedelta(minutes=5))
    return state, (lost_state, lost), (truth_state, truth)


async def test_rows_of_a_task_that_never_completed_give_way_to_history(sessionmaker):
    state, (_, lost), (truth_state, truth) = await lost_comment_then_submit(sessionmaker, by("run-a", 9))
    result = await record_as(sessionmaker, by("run-a", 14), truth_state, truth)
    assert result.superseded == 1 and result.inserted == len(truth)
    trail = await events_of(sessionmaker, state.id)
    assert [e.type for e in trail] == ["agreement_created", *[e.type for e in truth]]
    check = await verify(sessionmaker, state.id)
    assert check["valid"] and check["count"] == truth_state.seq and check["superseded"] == 1
    assert (await agreement(sessionmaker, state.id)).stage == "review"  # the projection follows history
    async with sessionmaker() as session:
        apart = await queries.list_superseded(session, agreement_id=state.id)
    assert [(r["seq"], r["type"], r["run_id"], r["history_length"]) for r in apart] == [
        (2, "comment_added", "run-a", 9)
    ]
    assert apart[0]["superseded_by_run_id"] == "run-a" and "never completed" in apart[0]["reason"]
    assert apart[0]["hash"] == chain_hash(apart[0]["prev_hash"], event_body(lost[0]))  # kept whole


async def test_a_stale_task_writing_late_never_displaces_what_a_newer_task_recorded(sessionmaker):
    state, (lost_state, lost), (truth_state, truth) = await lost_comment_then_submit(sessionmaker, by("run-a", 9))
    await record_as(sessionmaker, by("run-a", 14), truth_state, truth)
    with pytest.raises(queries.ChainConflict, match="newer task"):
        await record_as(sessionmaker, by("run-a", 9), lost_state, lost)
    assert [e.type for e in await events_of(sessionmaker, state.id)][1] == truth[0].type
    assert (await verify(sessionmaker, state.id))["superseded"] == 1


async def test_the_run_that_continued_from_another_supersedes_its_unfinished_rows_not_the_reverse(sessionmaker):
    state, _, (truth_state, truth) = await lost_comment_then_submit(sessionmaker, by("run-a", 40))
    with pytest.raises(queries.ChainConflict):  # an unrelated run cannot
        await record_as(sessionmaker, by("run-x", 99), truth_state, truth)
    result = await record_as(sessionmaker, by("run-b", 5, continued_from="run-a"), truth_state, truth)
    assert result.superseded == 1
    other_state, other = run(state, staff("jabar"), m.Comment(text="Tugas basi dari run-a"))
    with pytest.raises(queries.ChainConflict):
        await record_as(sessionmaker, by("run-a", 41), other_state, other)


async def test_a_row_leaves_the_trail_only_once_it_stands_among_the_superseded(sessionmaker):
    state, _ = await submitted(sessionmaker)
    with pytest.raises(Exception, match="append-only"):
        async with session_scope(sessionmaker) as session:
            await session.execute(
                text("DELETE FROM agreement_events WHERE agreement_id = :id AND seq = 2"), {"id": state.id}
            )
    with pytest.raises(Exception, match="append-only"):
        async with session_scope(sessionmaker) as session:
            await session.execute(text("DELETE FROM superseded_events"))


@pytest.mark.parametrize("mangle", ["other_agreement", "not_consecutive", "state_behind"])
async def test_malformed_batches_are_refused(sessionmaker, mangle):
    state, created = create(ksdd("jabar", "jateng"))
    after, submit = run(state, staff("jabar"), m.Submit())
    events = created + submit
    if mangle == "other_agreement":
        events[1] = events[1].model_copy(update={"agreement_id": "agr-other"})
    elif mangle == "not_consecutive":
        del events[1]
    else:
        after = state
    with pytest.raises(queries.InvalidBatch):
        await record(sessionmaker, after, events)


async def test_an_older_state_never_rolls_the_projection_back(sessionmaker):
    state, events = await submitted(sessionmaker)
    first = replay(events[:1])
    await record(sessionmaker, first, events[:1])  # a late retry of the creation
    record_ = await agreement(sessionmaker, state.id)
    assert (record_.stage, record_.last_seq) == ("review", state.seq)


async def test_the_round_trip_through_postgres_reproduces_the_hashed_body(sessionmaker):
    # An odd instant in another zone, a float JSONB gives back as an int, and non-ASCII text.
    now = datetime(2027, 3, 1, 8, 30, 15, 123457, tzinfo=WIB)
    prop = ksdd(
        "jabar",
        "jateng",
        title="Kerja sama – air bersih ✓",
        indicators=[
            {"name": "Sambungan rumah", "target": 1e16, "unit": "rumah"},
            {"name": "Cakupan", "target": 0.125, "unit": "rasio"},
        ],
    )
    state, created = create(prop, now)
    await record(sessionmaker, state, created)
    [row] = await events_of(sessionmaker, state.id)
    assert queries.stored_body(row) == event_body(created[0])
    assert row.at == now and row.at.tzinfo is not None
    assert (await verify(sessionmaker, state.id))["valid"]


async def test_a_whole_procedure_verifies(sessionmaker):
    state, events = create(ksdd("jabar", "jateng"))
    await record(sessionmaker, state, events)
    while state.stage != "implementation":
        state, batch = happy_step(state)
        await record(sessionmaker, state, batch)
    check = await verify(sessionmaker, state.id)
    assert check["valid"] and check["count"] == state.seq
    record_ = await agreement(sessionmaker, state.id)
    assert (record_.stage, record_.step_key, record_.next_deadline_at) == ("implementation", None, None)
    assert record_.end_date == state.end_date is not None


# ---------------------------------------------------------------- append-only, tampering


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE agreement_events SET data = '{}' WHERE agreement_id = :id",
        "DELETE FROM agreement_events WHERE agreement_id = :id",
        "TRUNCATE agreement_events",
    ],
)
async def test_the_trail_cannot_be_changed_through_sql(sessionmaker, statement):
    state, _ = await submitted(sessionmaker)
    async with sessionmaker() as session:
        with pytest.raises(IntegrityError, match="append-only"):
            await session.execute(text(statement), {"id": state.id})
        await session.rollback()
    assert (await verify(sessionmaker, state.id))["count"] == state.seq


async def _tamper(sessionmaker, statement: str, **params) -> None:
    """What someone with the table owner's rights could do: switch the guard off, change the
    trail, switch it on again (all in one transaction, so no other session sees it off)."""
    async with session_scope(sessionmaker) as session:
        await session.execute(text("ALTER TABLE agreement_events DISABLE TRIGGER agreement_events_append_only"))
        await session.execute(text(statement), params)
        await session.execute(text("ALTER TABLE agreement_events ENABLE TRIGGER agreement_events_append_only"))


async def test_a_changed_row_breaks_the_chain_where_it_was_changed(sessionmaker):
    state, _ = await submitted(sessionmaker)
    await _tamper(
        sessionmaker,
        "UPDATE agreement_events SET data = data || '{\"gates\": []}' WHERE agreement_id = :id AND seq = 2",
        id=state.id,
    )
    check = await verify(sessionmaker, state.id)
    assert (check["valid"], check["broken_at"], check["count"]) == (False, 2, state.seq)


async def test_a_rehashed_row_still_breaks_the_next_link(sessionmaker):
    state, _ = await submitted(sessionmaker)
    await _tamper(
        sessionmaker,
        "UPDATE agreement_events SET hash = repeat('a', 64) WHERE agreement_id = :id AND seq = 1",
        id=state.id,
    )
    assert (await verify(sessionmaker, state.id))["broken_at"] == 1


async def test_a_trail_cut_short_is_noticed(sessionmaker):
    state, _ = await submitted(sessionmaker)
    await _tamper(
        sessionmaker, "DELETE FROM agreement_events WHERE agreement_id = :id AND seq = :seq", id=state.id, seq=state.seq
    )
    check = await verify(sessionmaker, state.id)
    assert (check["valid"], check["count"], check["broken_at"]) == (False, state.seq - 1, state.seq)


async def test_an_unknown_agreement_has_an_empty_valid_trail(sessionmaker):
    assert await verify(sessionmaker, "agr-none") == {
        "valid": True,
        "count": 0,
        "head": GENESIS,
        "broken_at": None,
        "superseded": 0,
    }


# ---------------------------------------------------------------- lists


async def test_list_filters_visibility_and_pagination(sessionmaker):
    tag = token()
    o1, o2, o3, o4 = (f"{name}-{tag}" for name in ("jabar", "jateng", "jatim", "bandung"))
    words = dict(objectives=f"Program {tag} bersama")

    draft, events = create(ksdd(o1, o2, **words), NOW)
    await record(sessionmaker, draft, events)

    review, events = create(ksdd(o1, o3, **words), NOW)
    await record(sessionmaker, review, events)
    review, events = run(review, staff(o1), m.Submit(), NOW + timedelta(hours=1))
    await record(sessionmaker, review, events)

    foreign = proposal(
        [party(o1, "initiator"), party(f"perth-{tag}", foreign=True)], "ksdpl", title="Kota kembar Perth", **words
    )
    created, events = create(foreign, NOW)
    minister = advance(created, "persetujuan_menteri", NOW + timedelta(hours=2))
    await _record_rest(sessionmaker, minister, events)

    other, events = create(ksdd(o4, o2, title="Pariwisata 100% halal", **words), NOW + timedelta(hours=2))
    await record(sessionmaker, other, events)

    async def ids(**filters) -> list[str]:
        async with sessionmaker() as session:
            rows, _ = await queries.list_agreements(
                session, **{"viewer_orgs": None, "include_ministry_visible": False, "q": tag, **filters}
            )
        return [r.id for r in rows]

    # Most recently updated first; equal times by id, descending.
    newest = sorted([minister, other], key=lambda s: s.id, reverse=True)
    assert await ids() == [s.id for s in newest] + [review.id, draft.id]
    assert set(await ids(viewer_orgs=[o2])) == {draft.id, other.id}
    assert set(await ids(viewer_orgs=[o1])) == {draft.id, review.id, minister.id}
    assert await ids(viewer_orgs=["kemendagri"]) == []
    assert await ids(viewer_orgs=["kemendagri"], include_ministry_visible=True) == [minister.id]
    assert set(await ids(viewer_orgs=[o3], include_ministry_visible=True)) == {review.id, minister.id}
    assert await ids(stage="review") == [review.id]
    assert set(await ids(stage=["draft", "approval"])) == {draft.id, other.id, minister.id}
    assert await ids(kind="ksdpl") == [minister.id]
    assert await ids(org=o3) == [review.id]
    assert await ids(q=f"{tag} PERTH") == [minister.id]  # every word, any case
    assert await ids(q=f"{tag} 100%") == [other.id]  # % is a character, not a wildcard
    assert await ids(q=f"{tag} 1_0") == []  # and so is _
    assert await ids(q=f"{tag} {o4}") == [other.id]  # parties are searchable
    assert set(await ids(deadline_before=NOW + timedelta(days=30))) == {review.id, minister.id}

    seen, cursor = [], None
    for _ in range(10):
        async with sessionmaker() as session:
            rows, cursor = await queries.list_agreements(
                session, viewer_orgs=None, include_ministry_visible=False, q=tag, limit=1, cursor=cursor
            )
        seen += [r.id for r in rows]
        if cursor is None:
            break
    assert seen == await ids()

    async with sessionmaker() as session:
        rows, cursor = await queries.list_agreements(
            session, viewer_orgs=[o1], include_ministry_visible=False, q=tag, limit=2
        )
        assert len(rows) == 2 and cursor is not None
        rest, end = await queries.list_agreements(
            session, viewer_orgs=[o1], include_ministry_visible=False, q=tag, limit=2, cursor=cursor
        )
        assert len(rest) == 1 and end is None
        # a list item is the state's projection, read from the columns alone
        (state,) = (await queries.agreement_states(session, ids=[rows[0].id])).values()
        assert (rows[0].stage, rows[0].version, rows[0].orgs) == (state.stage, state.version, L.party_orgs(state))
        assert rows[0].party_orgs == L.party_orgs(state)  # written by the trigger from the recorded state


async def test_an_organisations_list_pages_through_its_own_agreements_once_each_newest_first(sessionmaker):
    """The lists that walk an organisation's rows (migration 2026_12_02_0024): the viewer's,
    several viewers' and an auditor's `org` give each agreement once, in the keyset order."""
    tag = token()
    o1, o2, o3 = (f"{name}-{tag}" for name in ("jabar", "jateng", "jatim"))
    made = []
    for hour, other in enumerate([o2, o3, o2, o3, o2]):
        state, events = create(ksdd(o1, other, objectives=f"Program {tag}"), NOW + timedelta(hours=hour))
        await record(sessionmaker, state, events)
        if hour % 2:
            state, events = run(state, staff(o1), m.Submit(), NOW + timedelta(hours=hour, minutes=30))
            await record(sessionmaker, state, events)
        made.append(state)
    newest = [s.id for s in sorted(made, key=lambda s: (s.updated_at, s.id), reverse=True)]

    async def pages(**filters) -> list[str]:
        seen, cursor = [], None
        async with sessionmaker() as session:
            for _ in range(10):
                rows, cursor = await queries.list_agreements(session, limit=2, cursor=cursor, **filters)
                seen += [r.id for r in rows]
                if cursor is None:
                    return seen
        raise AssertionError("more pages than agreements")

    assert await pages(viewer_orgs=[o1]) == newest
    assert await pages(viewer_orgs=[o1, o2]) == newest  # an agreement of both once
    assert await pages(viewer_orgs=[o1], stage="review") == [i for i in newest if made[1].id == i or made[3].id == i]
    assert await pages(viewer_orgs=[o1], kind="ksdd", org=o3) == [made[3].id, made[1].id]
    assert await pages(viewer_orgs=None, org=o2) == [made[4].id, made[2].id, made[0].id]
    assert await pages(viewer_orgs=[o2], org=o3) == []
    assert await pages(viewer_orgs=[o2, o3], org=o3, stage="review") == [made[3].id, made[1].id]


async def test_text_search_finds_each_word_whole_and_the_last_by_its_start_whatever_the_text_holds(sessionmaker):
    tag = token()
    o1, o2 = f"kab-garut-{tag}", f"pt-{tag}"
    words = dict(objectives=f"Program {tag} bersama")
    numbered = {}
    for number in ("12", "120", "312"):
        state, events = create(ksdd(o1, f"kota-{number}-{tag}", title=f"Kerja sama nomor {number}", **words))
        await record(sessionmaker, state, events)
        numbered[number] = state.id
    named, events = create(
        proposal(
            [
                party(o1, "initiator"),
                m.Party(org=o2, role="counterparty", sector="industry", name="Bank Jabar Banten", signatory="Direktur"),
            ],
            "ksdpk",
            title="Pembiayaan UMKM O'Brien",
            **words,
        )
    )
    await record(sessionmaker, named, events)

    async def ids(q: str) -> set[str]:
        async with sessionmaker() as session:
            rows, _ = await queries.list_agreements(session, viewer_orgs=[o1], q=f"{tag} {q}")
        return {r.id for r in rows}

    assert await ids("12") == {numbered["12"], numbered["120"]}  # a number starts a word: not 312
    assert await ids("nomor 31") == {numbered["312"]}
    assert await ids("kerja sa") == set(numbered.values())  # the last word as far as it is typed
    assert await ids("kerj sama") == set()  # a word before it is a whole word
    assert await ids("umkm") == await ids("umk") == {named.id}
    assert await ids("KERJA SAMA") == set(numbered.values())  # any case
    assert await ids("jabar") == await ids("bank") == {named.id}  # a partner's name
    assert await ids(o2) == {named.id}  # a partner's organisation, parts in their order
    assert await ids(f"kota-120-{tag}") == {numbered["120"]}
    assert await ids(f"kota-12-{tag}") == {numbered["12"], numbered["120"]}  # each part a word's start
    assert await ids("o'brien") == await ids("umkm o'b") == {named.id}  # a quote is only a quote
    assert await ids("ank") == set()  # inside a word: not a word's start
    # Text-search syntax is only text: no negation, no alternatives, nothing refused.
    assert await ids("!kerja") == await ids("nomor:*") == set(numbered.values())
    assert await ids("(12") == {numbered["12"], numbered["120"]}
    for hostile in ("12 | 120", "nomor & x", "\\", "~", "<->"):
        assert await ids(hostile) == set(), hostile
    assert await ids("'") == {named.id}  # the quote of O'Brien, as written
    assert await ids("-") == {*numbered.values(), named.id}  # punctuation beside a word: as written (kab-garut)

    async def alone(q: str) -> list[str]:
        async with sessionmaker() as session:
            rows, _ = await queries.list_agreements(session, viewer_orgs=[o1], q=q)
        return [r.id for r in rows]

    # Marks alone are no search (no index serves them): the list as without q.
    assert await alone("-") == await alone("' ~ ...") == await alone("") == await alone(None)


async def _record_rest(sessionmaker, final: m.AgreementState, created: list[m.Event]) -> None:
    """Replays the happy path to `final` as the workflow would record it, batch by batch."""
    state = replay(created)
    await record(sessionmaker, state, created)
    while state.seq < final.seq:
        state, batch = happy_step(state, NOW + timedelta(hours=2))
        await record(sessionmaker, state, batch)
    assert state == final


async def test_a_cursor_not_from_us_is_refused(sessionmaker):
    async with sessionmaker() as session:
        for bad in ("nonsense", "bm90IGpzb24", queries.encode_cursor(NOW, "x")[:-3]):
            with pytest.raises(queries.InvalidCursor):
                await queries.list_agreements(session, viewer_orgs=None, include_ministry_visible=False, cursor=bad)


# ---------------------------------------------------------------- documents


async def test_a_document_is_its_organisations_and_the_same_bytes_are_two_documents(sessionmaker):
    content = f"# PKS {token()}\n\nPasal 1 …\n".encode()
    sha = hashlib.sha256(content).hexdigest()
    async with session_scope(sessionmaker) as session:
        first = await queries.put_document(
            session, content=content, media_type="text/markdown", uploaded_by="staff@jabar", org="jabar"
        )
    async with session_scope(sessionmaker) as session:
        again = await queries.put_document(
            session, content=content, media_type="text/plain", uploaded_by="other@jabar", org="jabar"
        )
        theirs = await queries.put_document(
            session, content=content, media_type="text/plain", uploaded_by="partner@jateng", org="jateng"
        )
    assert first == again  # the organisation's first upload stands
    assert (first.sha256, first.size, first.content, first.org) == (sha, len(content), content, "jabar")
    assert (theirs.org, theirs.media_type, theirs.uploaded_by) == ("jateng", "text/plain", "partner@jateng")

    async with sessionmaker() as session:
        assert await queries.get_document(session, org="jabar", sha256=sha) == first
        assert await queries.get_document(session, org="jateng", sha256=sha) == theirs
        assert await queries.get_document(session, org="jatim", sha256=sha) is None
        assert await queries.documents_uploaded(session, org="jabar", hashes=[sha, "0" * 64, sha]) == {sha}
        assert await queries.documents_uploaded(session, org="jatim", hashes=[sha]) == set()
        assert await queries.documents_uploaded(session, org="jabar", hashes=[]) == set()


async def test_recording_attaches_drafts_and_evidence_to_the_agreement_and_superseding_detaches(sessionmaker):
    lead, other = f"prov-{token()}", f"kab-{token()}"
    state, events = create(ksdd(lead, other))
    await record(sessionmaker, state, events)
    attached: list[m.Event] = []
    while not any(e.type == "draft_submitted" for e in attached):
        state, events = happy_step(state, label=token())
        await record(sessionmaker, state, events)
        attached += events
    draft = next(e for e in attached if e.type == "draft_submitted")
    async with sessionmaker() as session:
        found = await queries.attachments_of(session, sha256=draft.data["document"])
    assert [(a.agreement_id, a.seq, a.kind, a.org) for a in found] == [(state.id, draft.seq, "draft", lead)]
    assert found[0].state.id == state.id

    signed = {"org": other, "version": 1, "kind": draft.data["kind"], "document": draft.data["document"]}
    signed |= {"signed_by": "Bupati", "method": "electronic", "evidence": "e" * 64}
    evidence = draft.model_copy(update={"type": "document_signed", "data": signed})
    day = "2026-01-01"
    paper = {"ref": "PKS/1", "signed_on": day, "document": "f" * 64, "method": "wet_ink"}
    paper |= {"effective_date": day, "end_date": day, "next_evaluation_on": day}
    imported = draft.model_copy(update={"type": "agreement_imported", "data": paper})
    assert [(a["kind"], a["sha256"], a["org"]) for a in queries.attachments(evidence)] == [
        ("evidence", "e" * 64, other)
    ]
    delegated = evidence.model_copy(
        update={"data": {**signed, "delegation": {"official": "Sekretaris Daerah", "letter": "d" * 64}}}
    )
    assert [(a["kind"], a["sha256"]) for a in queries.attachments(delegated)] == [
        ("evidence", "e" * 64),
        ("letter_of_authority", "d" * 64),
    ]
    assert [(a["kind"], a["org"]) for a in queries.attachments(imported)] == [("signed_text", draft.actor.org)]
    assert queries.attachments(draft.model_copy(update={"type": "comment_added"})) == []


# ---------------------------------------------------------------- schema


async def test_the_migration_matches_the_models(sessionmaker):
    async with sessionmaker() as session:
        connection = await session.connection()
        diff = await connection.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata))
    assert diff == []


# ---------------------------------------------------------------- the activity


async def test_record_events_activity_records_counts_and_refuses_a_gap(sessionmaker):
    from prometheus_client import REGISTRY
    from temporalio.exceptions import ApplicationError
    from temporalio.testing import ActivityEnvironment

    from services.worker.activities.records import RecordActivities
    from workflows.contracts.records import RecordEventsInput

    activities, env = RecordActivities(sessionmaker), ActivityEnvironment()
    state, created = create(ksdd("jabar", "jateng"))
    after, submit = run(state, staff("jabar"), m.Submit())

    def recorded(type_: str) -> float:
        return REGISTRY.get_sample_value("pakta_events_recorded_total", {"type": type_}) or 0.0

    before = recorded("agreement_submitted")
    result = await env.run(activities.record_events, RecordEventsInput(state=after, events=created + submit))
    again = await env.run(activities.record_events, RecordEventsInput(state=after, events=submit))
    assert (result.inserted, again.inserted, again.head) == (len(created + submit), 0, result.head)
    assert recorded("agreement_submitted") == before + 1  # the retry counted nothing

    later, comment = run(after, staff("jabar"), m.Comment(text="x"))
    gap = comment[0].model_copy(update={"seq": later.seq + 1})
    with pytest.raises(ApplicationError) as refused:
        await env.run(
            activities.record_events,
            RecordEventsInput(state=later.model_copy(update={"seq": later.seq + 1}), events=[gap]),
        )
    assert refused.value.non_retryable and refused.value.type == "ChainGap"
