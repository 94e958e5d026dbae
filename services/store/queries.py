"""Keyword-only data functions over an `AsyncSession`.

None of them commits: the caller owns the unit of work (the API request, or the activity's
`session_scope`), so several calls compose into one transaction. Reads select table
columns rather than ORM entities, so a session that already holds an object never hands
back its stale copy, and every function returns plain frozen records.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

import asyncpg
import structlog
from sqlalchemy import Column, RowMapping, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from services.store import idempotency, notifications, outbox
from services.store.audit import GENESIS, chain_hash, event_body, event_hash, iso_utc
from services.store.db import Unit, driver_connection, json_text
from services.store.models import (
    Agreement,
    AgreementEvent,
    AgreementSummary,
    Document,
    DocumentAttachment,
    SupersededEvent,
)
from workflows.contracts.records import Recorder, RecordEventsResult
from workflows.lifecycle import current_step, initiator, ministry_can_see, party_orgs
from workflows.lifecycle import events as events_
from workflows.lifecycle import health as implementation_health
from workflows.lifecycle.events import payload_as
from workflows.messages import TERMINAL_STAGES, Actor, AgreementState, Event
from workflows.notify.rules import Notification

AGREEMENTS = Agreement.__table__
SUMMARIES = AgreementSummary.__table__
EVENTS = AgreementEvent.__table__
SUPERSEDED = SupersededEvent.__table__
SUPERSEDED_LOG = structlog.get_logger("pakta.audit")
DOCUMENTS = Document.__table__
ATTACHMENTS = DocumentAttachment.__table__
MAX_PAGE = 500


# ---------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class AgreementRecord:
    id: str
    title: str
    kind: str
    stage: str
    step_key: str | None
    version: int
    procedure_key: str
    procedure_version: str
    initiator_org: str
    orgs: list[str]
    sector: str
    start_date: date
    end_date: date | None
    value: int | None
    next_deadline_at: datetime | None
    ministry_visible: bool
    last_seq: int
    head_hash: str
    published: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    state: AgreementState
    health: str | None = None  # (#13)


@dataclass(frozen=True, slots=True)
class AgreementListing:
    """An agreement as a list shows it: its row of `agreement_summaries`, the list columns
    of the read model (`projection`) without the state."""

    id: str
    title: str
    kind: str
    stage: str
    step_key: str | None
    version: int
    initiator_org: str
    orgs: list[str]
    sector: str
    start_date: date
    end_date: date | None
    next_deadline_at: datetime | None
    updated_at: datetime
    health: str | None  # the implementation's health as of the last event (#13)
    # The parties' organisations as the recorded state names them (`orgs` above is the
    # projection's copy, which selects; this one decides who sees the row). Not read for a
    # viewer who sees every agreement (`viewer_orgs=None`): None.
    party_orgs: list[str] | None


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: str
    agreement_id: str
    seq: int
    version: int
    type: str
    actor: dict[str, Any]
    at: datetime
    data: dict[str, Any]
    prev_hash: str
    hash: str
    recorded_at: datetime
    run_id: str | None = None
    history_length: int | None = None
    task_started_at: datetime | None = None

    def to_event(self) -> Event:
        return Event(
            id=self.id,
            agreement_id=self.agreement_id,
            seq=self.seq,
            version=self.version,
            type=self.type,
            at=self.at,
            actor=Actor.model_validate(self.actor),
            data=self.data,
        )


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    sha256: str
    media_type: str
    size: int
    content: bytes
    uploaded_by: str
    org: str
    created_at: datetime


class ChainVerification(TypedDict):
    valid: bool
    count: int
    head: str  # hash of the last stored row ("0"*64 when there is none)
    broken_at: int | None  # seq of the first row that does not verify
    superseded: int  # rows of tasks that never completed, kept apart from the chain


# ---------------------------------------------------------------- errors


class RecordError(Exception):
    """Events that cannot be recorded as given; retrying the same input cannot help."""


class InvalidBatch(RecordError):
    pass


class ChainGap(RecordError):
    pass


class SupersedeInSession(Exception):
    """A recording on a driver's connection met rows to supersede, which is written for a
    session (`append_events`): nothing was written; record the batch again in a session."""


class ChainConflict(RecordError):
    """A seq already recorded with different content (e.g. a workflow reset that replayed
    history differently): the trail keeps what it has and refuses to fork."""


class InvalidCursor(ValueError):
    pass


# ---------------------------------------------------------------- recording


async def append_events(
    unit: Unit, *, state: AgreementState, events: Sequence[Event], recorder: Recorder | None = None
) -> RecordEventsResult:
    """Append `events` to the agreement's hash chain and project `state` (the state after
    them). Idempotent: events already recorded are skipped, so a retried activity inserts
    nothing twice.

    Temporal's history is the truth. Rows under the batch's seqs with other content were
    written by a workflow task that never completed (its command is not in history, so the
    workflow decided anew): they are superseded — moved whole to `superseded_events` — if
    `recorder` is newer than whoever wrote them; otherwise the batch itself is the stale
    one and is refused (ChainConflict).

    A plain append is two statements on the driver's connection, in the unit's transaction
    (a session's, or a `driver_transaction`'s): the lock and the head together; the rows, the
    documents they attach and the read model's row together. Superseding is written for a
    session: on a driver's connection, rows to supersede raise `SupersedeInSession` and
    nothing is written — the caller records the batch again in a session."""
    _check_batch(state, events)
    driver = await driver_connection(unit, in_transaction=True)
    session = unit if isinstance(unit, AsyncSession) else None
    return await _append_seen(session, driver, state, events, recorder, await _lock_and_head(driver, state.id))


@dataclass(frozen=True, slots=True)
class RecordedAtOnce:
    """What `append_at_once` wrote: the recording, and how many inbox rows and outbox
    deliveries of its plan were new."""

    result: RecordEventsResult
    inbox: int
    outbox: int


async def append_at_once(
    driver: Any,
    *,
    state: AgreementState,
    events: Sequence[Event],
    recorder: Recorder | None,
    follows: str,
    inbox: Sequence[Notification] = (),
    outgoing: Sequence[outbox.Outgoing] = (),
    recipients_version: int | None = None,
) -> RecordedAtOnce | None:
    """A plain append — `events` right after the head `follows`, which the workflow holds
    from its last recording — with the read model and the plan (`inbox`, `outgoing`), in one
    statement on an asyncpg connection outside any transaction: one round trip where
    `append_events` and the plan take five. None, and nothing written, if it is not that
    plain: the lock busy, or the chain's head not `follows` (a retry finding its rows, a
    lost task's rows to supersede, another writer first) — the caller then records as
    `append_events` does, which settles each of those. A value PostgreSQL refuses fails the
    one statement, so nothing is written either. `recipients_version`: the version of the
    recipients the plan was made of (`notifications.recipients_read`); a contact or an
    endpoint changed since, and nothing is written either (the careful path reads them
    again)."""
    _check_batch(state, events)
    if not events:
        raise InvalidBatch("A recording at once appends at least one event.")
    recording, head = _recording(state, events, recorder, follows=follows, superseded=False)
    try:
        row = await driver.fetchrow(
            _RECORD_AT_ONCE, *recording, *notifications.plan_arguments(inbox, outgoing), recipients_version
        )
    except asyncpg.UniqueViolationError:
        # A row under one of these seqs after all: cannot happen while every writer takes
        # the lock first and the head is read after it; if it does, the careful path decides.
        # So for a plan's row already there (its inserts here take none as there: they are
        # the new events'), or one the plan holds twice: the careful path leaves it as it is.
        return None
    if not row["current"]:
        return None
    return RecordedAtOnce(
        RecordEventsResult(inserted=len(events), head=head, superseded=0), row["inbox"], row["outbox"]
    )


async def _append_seen(
    session: AsyncSession | None,
    driver: Any,
    state: AgreementState,
    events: Sequence[Event],
    recorder: Recorder | None,
    seen: tuple[bool, int, str],
) -> RecordEventsResult:
    """`append_events` once `_lock_and_head` has `seen` (whether it took the lock, the head).

    One writer per chain at a time: concurrent appends would read the same head. The head
    comes with the lock, in one statement — so from a snapshot taken just before the lock was
    granted, and a writer that held the lock may have committed in between. It is trusted
    only for a plain append (the batch starts right after it), and the statement writing the
    rows checks that the chain's head is still the one they follow."""
    locked, last_seq, head = seen
    if not (locked and events and events[0].seq == last_seq + 1):
        # Another writer holds the lock, or this is not a plain append (a retry, a conflict
        # to settle, a batch after rows this snapshot missed): decide on the head as it is
        # once we hold the lock.
        if not locked:
            await driver.execute(_LOCK, state.id)
        last_seq, head = await _head(driver, state.id)
    result = await _append(session, driver, state, events, recorder, last_seq, head)
    if result is None:
        # The head moved before we held the lock: read it again (current now) and decide anew.
        last_seq, head = await _head(driver, state.id)
        result = await _append(session, driver, state, events, recorder, last_seq, head)
        if result is None:  # cannot happen while we hold the lock; retrying is safe
            raise RuntimeError(f"The trail of {state.id} moved under its lock.")
    return result


async def _append(
    session: AsyncSession | None,
    driver: Any,
    state: AgreementState,
    events: Sequence[Event],
    recorder: Recorder | None,
    last_seq: int,
    head: str,
) -> RecordEventsResult | None:
    """Append after `last_seq`/`head` and project; None (nothing written) if the chain's head
    is not `head` after all."""
    conflict = await _first_conflict(driver, [e for e in events if e.seq <= last_seq])
    if conflict is None and last_seq > state.seq and await _all_give_way(driver, state.id, state.seq + 1, recorder):
        # Rows beyond the state this history reached, written by older tasks: history does
        # not hold them. (Rows a newer task wrote stay: then this batch is the stale one, a
        # late retry that changes nothing, as before.)
        conflict = state.seq + 1
    superseded = 0
    if conflict is not None:
        if session is None:
            raise SupersedeInSession(f"Rows of {state.id} from seq {conflict} are to be superseded.")
        superseded = await _supersede_from(session, agreement_id=state.id, seq=conflict, recorder=recorder)
        last_seq, head = await _head(driver, state.id)
    fresh = [e for e in events if e.seq > last_seq]
    if fresh and fresh[0].seq != last_seq + 1:
        raise ChainGap(f"Agreement {state.id} has events up to seq {last_seq}; cannot append seq {fresh[0].seq}.")
    if state.seq > last_seq + len(fresh):
        raise ChainGap(f"State of {state.id} is at seq {state.seq} but its trail ends at {last_seq + len(fresh)}.")
    recording, follows = _recording(state, fresh, recorder, follows=head, superseded=superseded > 0)
    if not await driver.fetchval(_RECORD, *recording):
        return None
    return RecordEventsResult(inserted=len(fresh), head=follows, superseded=superseded)


def _recording(
    state: AgreementState, events: Sequence[Event], recorder: Recorder | None, *, follows: str, superseded: bool
) -> tuple[list[Any], str]:
    """The parameters `_RECORD` and `_RECORD_AT_ONCE` share ($1 to the read model's last):
    `events` chained after the head `follows`, the documents they attach, who records them,
    whether rows were just superseded, and the read model's row — with the chain's new head."""
    rows, head = _EventRows(), follows
    for event in events:
        body = event_body(event)
        digest = event_hash(head, body)
        rows.add(event, body, head, digest)
        head = digest
    attached = [a for event in events for a in attachments(event)]
    parameters = [
        state.id,
        follows,
        *rows.columns(),
        recorder.run_id if recorder else None,
        recorder.history_length if recorder else None,
        recorder.task_started_at if recorder else None,
        [str(a["seq"]) for a in attached],
        [a["sha256"] for a in attached],
        [a["kind"] for a in attached],
        [a["org"] for a in attached],
        superseded,
        *_projected(state, head),
    ]
    return parameters, head


class _EventRows:
    """A batch's rows as the columns `_RECORD` takes, one array each — all of them `text[]`
    (numbers and times as their text, cast in the SQL): see `_RECORD_WRITES`."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.seqs: list[str] = []
        self.versions: list[str] = []
        self.types: list[str] = []
        self.actors: list[str] = []
        self.ats: list[str] = []
        self.data: list[str] = []
        self.prev_hashes: list[str] = []
        self.hashes: list[str] = []

    def add(self, event: Event, body: dict[str, Any], prev_hash: str, digest: str) -> None:
        self.ids.append(event.id)
        self.seqs.append(str(event.seq))
        self.versions.append(str(event.version))
        self.types.append(event.type)
        self.actors.append(json_text(body["actor"]))
        # `at` is stored from its hashed form (ISO 8601 with its offset), so the row
        # reproduces the body exactly.
        self.ats.append(body["at"])
        self.data.append(json_text(body["data"]))
        self.prev_hashes.append(prev_hash)
        self.hashes.append(digest)

    def columns(self) -> tuple[list[Any], ...]:
        return (
            self.ids,
            self.seqs,
            self.versions,
            self.types,
            self.actors,
            self.ats,
            self.data,
            self.prev_hashes,
            self.hashes,
        )


# The recording's statements, run on the driver's connection in the recording's transaction
# (`driver_connection`): each text is fixed — a batch's rows come as arrays — so asyncpg
# prepares it once per connection and nothing is built or compiled per recording. Through
# SQLAlchemy, the multi-row inserts were compiled afresh each time (their text varies with
# the number of rows), and every statement cost a build and a cache-key lookup.

# Take the agreement's lock if it is free, and read its head (seq 0 and no hash: no rows).
#
# It also has the rest of the recording's transaction run every prepared statement on its
# generic plan (`set_config(…, true)`: this transaction only). Every statement of a recording
# is fixed SQL whose rows come as arrays, and their plans do not depend on the values; but
# PostgreSQL, comparing its estimates for arrays of unknown length against those it makes
# for the arrays it is given, kept planning the contacts' and the endpoints' queries afresh
# at every recording (≈ 0.5 ms of planning per recording under the bench).
_LOCK_AND_HEAD = """
SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked, h.seq, h.hash,
    set_config('plan_cache_mode', 'force_generic_plan', true) AS plans
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT seq, hash FROM agreement_events WHERE agreement_id = $1 ORDER BY seq DESC LIMIT 1
) AS h ON true
"""
_LOCK = "SELECT pg_advisory_xact_lock(hashtext($1))"
_HEAD = "SELECT seq, hash FROM agreement_events WHERE agreement_id = $1 ORDER BY seq DESC LIMIT 1"


async def _lock_and_head(driver: Any, agreement_id: str) -> tuple[bool, int, str]:
    row = await driver.fetchrow(_LOCK_AND_HEAD, agreement_id)
    return row["locked"], row["seq"] or 0, row["hash"] or GENESIS


async def _head(driver: Any, agreement_id: str) -> tuple[int, str]:
    row = await driver.fetchrow(_HEAD, agreement_id)
    return (row["seq"], row["hash"]) if row else (0, GENESIS)


# The read model's row: every column of `agreements` (each derives from the state: a column
# added there is added to `projection` too), each parameter cast to its column's type (JSONB
# comes as its text, like the rows' `actor` and `data`).
_PROJECTED = list(AGREEMENTS.c)


def _parameter(number: int, column: Column[Any]) -> str:
    if isinstance(column.type, JSONB):
        return f"${number}::text::jsonb"
    return f"${number}::{column.type.compile(dialect=_POSTGRESQL)}"


_POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]


# The batch's rows, the documents they attach and the read model's row, as CTEs writing only
# if the chain's head is `$2`, the hash the rows follow (`head.current`).
#
# Every array parameter is `text[]`, cast to its column's type in the SQL: asyncpg knows
# the codecs of `text[]` (and `oid[]`) only, and for any other array type a statement sends
# or returns it asks PostgreSQL first — one type look-up query (9–16 ms of PostgreSQL's
# CPU) per statement on each new connection. The cast is evaluated once per statement.
_FIRST_PROJECTED = 20
_RECORD_WRITES = f"""
recorded AS (
    INSERT INTO agreement_events (
        id, agreement_id, seq, version, type, actor, at, data, prev_hash, hash,
        run_id, history_length, task_started_at
    )
    SELECT e.id, $1, e.seq, e.version, e.type, e.actor::jsonb, e.at, e.data::jsonb, e.prev_hash, e.hash,
        $12::text, $13::int, $14::timestamptz
    FROM unnest(
        $3::text[], $4::text[]::int[], $5::text[]::int[], $6::text[], $7::text[], $8::text[]::timestamptz[],
        $9::text[], $10::text[], $11::text[]
    ) AS e(id, seq, version, type, actor, at, data, prev_hash, hash)
    WHERE (SELECT current FROM head)
),
attached AS (
    INSERT INTO document_attachments (agreement_id, seq, sha256, kind, org)
    SELECT $1, a.seq, a.sha256, a.kind, a.org
    FROM unnest($15::text[]::int[], $16::text[], $17::text[], $18::text[]) AS a(seq, sha256, kind, org)
    WHERE (SELECT current FROM head)
    ON CONFLICT DO NOTHING
),
projected AS (
    INSERT INTO agreements ({", ".join(column.name for column in _PROJECTED)})
    SELECT {", ".join(_parameter(_FIRST_PROJECTED + n, column) for n, column in enumerate(_PROJECTED))}
    WHERE (SELECT current FROM head)
    ON CONFLICT (id) DO UPDATE SET {", ".join(f"{c.name} = EXCLUDED.{c.name}" for c in _PROJECTED if c.name != "id")}
    -- A late retry carrying an older state must not roll the read model back — unless the
    -- rows it was projected from were just superseded ($19): then this state is the truth.
    WHERE $19::boolean OR (agreements.last_seq, agreements.version) < (EXCLUDED.last_seq, EXCLUDED.version)
)"""

# In the recording's transaction, under the agreement's lock (`_append`): the head as this
# statement's snapshot has it, taken after the lock was granted.
_RECORD = f"""
WITH head AS (
    SELECT coalesce(
        (SELECT hash FROM agreement_events WHERE agreement_id = $1 ORDER BY seq DESC LIMIT 1), repeat('0', 64)
    ) = $2::text AS current
),
{_RECORD_WRITES}
SELECT current FROM head
"""

# A plain recording at once (`append_at_once`): one statement, its own implicit transaction,
# no BEGIN or COMMIT. It takes the agreement's lock if it is free — held until the statement
# ends — and only then reads the head: `agreement_chain_head` is VOLATILE, so it reads with
# a snapshot of its own, taken after the lock (the statement's own snapshot was taken before,
# and would miss a writer that committed in between: migration 0019). The CASE orders the
# two. Then the rows, the read model and the plan's writes — all of them, or none if the lock
# was busy or the head is not `$2`; `pg_notify` reaches the dispatchers when it commits.
# The plan's recipients too must be the ones it was made of: read at the version
# `$_AT_ONCE_RECIPIENTS` (None: the plan read none), still current in this statement's
# snapshot (`notifications.RECIPIENTS_CURRENT`) — a worker may have kept them from an
# earlier recording (`services.worker.recipients`).
_AT_ONCE_PLAN = _FIRST_PROJECTED + len(_PROJECTED)
_AT_ONCE_RECIPIENTS = f"${_AT_ONCE_PLAN + notifications.PLAN_PARAMETERS}"
_RECORD_AT_ONCE = f"""
WITH locked AS MATERIALIZED (
    SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked
),
head AS MATERIALIZED (
    SELECT CASE WHEN locked THEN coalesce(agreement_chain_head($1), repeat('0', 64)) = $2::text ELSE false END
        AND ({_AT_ONCE_RECIPIENTS}::bigint IS NULL
            OR {notifications.RECIPIENTS_CURRENT.format(version=_AT_ONCE_RECIPIENTS)})
        AS current
    FROM locked
),
{_RECORD_WRITES},
{notifications.plan_writes(first=_AT_ONCE_PLAN, when="(SELECT current FROM head)", new_rows=True)}
SELECT current, {notifications.PLAN_COUNTS} FROM head
"""


def _projected(state: AgreementState, head: str) -> list[Any]:
    """`projection` as `_RECORD`'s parameters: the state as JSON text, straight from pydantic."""
    values = _projection(state, head, state.model_dump_json())
    return [values[column.name] for column in _PROJECTED]


@dataclass(frozen=True, slots=True)
class RecordedBy:
    """What a row notes of the task that recorded it (all None for rows from before)."""

    run_id: str | None
    history_length: int | None
    task_started_at: datetime | None = None


def may_supersede(recorded: RecordedBy, recorder: Recorder | None) -> bool:
    """Whether `recorder` is newer than the task that recorded a row: a later task of the
    same run, or the run that continued from the row's run. In one run a later task sees a
    longer history (a failed task adds to it) — or the same length, when the task before
    left no trace in history: an Update's speculative task lost with the Temporal server, or
    an attempt of a task failing again (only its first failure is written). The server runs
    one task of a workflow at a time, so then the task that started later is the newer.
    Rows from before runs were noted give way to any noted recorder. A row recorded by a
    newer task than `recorder` — a stale task writing late — never gives way."""
    if recorder is None:
        return False
    if recorded.run_id is None:
        return True
    if recorded.run_id == recorder.run_id:
        length = recorded.history_length
        if length is None or length > recorder.history_length:
            return False
        if length < recorder.history_length:
            return True
        started, starting = recorded.task_started_at, recorder.task_started_at
        return started is not None and starting is not None and started < starting
    return recorded.run_id == recorder.continued_run_id


def _recorded_by(row: RowMapping) -> RecordedBy:
    return RecordedBy(row["run_id"], row["history_length"], row["task_started_at"])


_RECORDERS_FROM = """
SELECT run_id, history_length, task_started_at FROM agreement_events WHERE agreement_id = $1 AND seq >= $2
"""


async def _all_give_way(driver: Any, agreement_id: str, seq: int, recorder: Recorder | None) -> bool:
    rows = await driver.fetch(_RECORDERS_FROM, agreement_id, seq)
    return all(may_supersede(_recorded_by(row), recorder) for row in rows)


async def _supersede_from(session: AsyncSession, *, agreement_id: str, seq: int, recorder: Recorder | None) -> int:
    """Move the rows from `seq` on out of the chain, or refuse if any is newer than us."""
    stale = (
        (
            await session.execute(
                select(EVENTS).where(EVENTS.c.agreement_id == agreement_id, EVENTS.c.seq >= seq).order_by(EVENTS.c.seq)
            )
        )
        .mappings()
        .all()
    )
    for row in stale:
        if not may_supersede(_recorded_by(row), recorder):
            raise ChainConflict(
                f"Seq {row['seq']} of {agreement_id} is already recorded with different content by a newer task."
            )
    reason = (
        (
            f"Recorded by a workflow task that never completed; history decided seq {seq} anew "
            f"(run {recorder.run_id}, history length {recorder.history_length})."
        )
        if recorder
        else ""
    )
    await session.execute(
        SUPERSEDED.insert(),
        [
            {
                **dict(row),
                "superseded_by_run_id": recorder.run_id if recorder else None,
                "superseded_by_history_length": recorder.history_length if recorder else None,
                "superseded_by_task_started_at": recorder.task_started_at if recorder else None,
                "reason": reason,
            }
            for row in stale
        ],
    )
    await session.execute(EVENTS.delete().where(EVENTS.c.agreement_id == agreement_id, EVENTS.c.seq >= seq))
    # What the superseded rows attached is attached no more (history decides anew), their
    # notifications announce what did not happen, and the answers that showed their
    # versions are no longer true: a retry must perform again.
    await session.execute(
        ATTACHMENTS.delete().where(ATTACHMENTS.c.agreement_id == agreement_id, ATTACHMENTS.c.seq >= seq)
    )
    await outbox.forget_superseded(session, agreement_id=agreement_id, event_ids=[row["id"] for row in stale])
    forgotten = await idempotency.forget_answers_from(
        session, agreement_id=agreement_id, version=min(row["version"] for row in stale)
    )
    SUPERSEDED_LOG.warning(
        "events_superseded",
        agreement_id=agreement_id,
        seq_from=seq,
        count=len(stale),
        answers_forgotten=forgotten,
        run_id=recorder.run_id if recorder else None,
    )
    return len(stale)


def _check_batch(state: AgreementState, events: Sequence[Event]) -> None:
    for event in events:
        if event.agreement_id != state.id:
            raise InvalidBatch(f"Event {event.id} belongs to {event.agreement_id}, not {state.id}.")
    seqs = [e.seq for e in events]
    if seqs and (seqs != list(range(seqs[0], seqs[0] + len(seqs))) or seqs[0] < 1):
        raise InvalidBatch(f"Events of a batch have consecutive seqs from 1 up, not {seqs}.")
    if seqs and state.seq != seqs[-1]:
        raise InvalidBatch(f"The state (seq {state.seq}) is not the state after the events (seq {seqs[-1]}).")


# The numbers as `text[]`, cast here: no type look-up per connection (see `_RECORD_WRITES`).
_STORED_HASHES = (
    "SELECT seq, prev_hash, hash FROM agreement_events WHERE agreement_id = $1 AND seq = ANY($2::text[]::int[])"
)


async def _first_conflict(driver: Any, events: list[Event]) -> int | None:
    """The first seq under which something other than this batch's event is stored (a retry
    re-sends exactly what is stored), or None."""
    if not events:
        return None
    stored = {
        row["seq"]: row
        for row in await driver.fetch(_STORED_HASHES, events[0].agreement_id, [str(e.seq) for e in events])
    }
    for event in events:
        row = stored.get(event.seq)
        if row is None or event_hash(row["prev_hash"], event_body(event)) != row["hash"]:
            return event.seq
    return None


def projection(state: AgreementState, head: str) -> dict[str, Any]:
    """The `agreements` row for a state: every column derives from the state."""
    return _projection(state, head, state.model_dump(mode="json"))


def _projection(state: AgreementState, head: str, state_value: Any) -> dict[str, Any]:
    step = None if state.stage in TERMINAL_STAGES else current_step(state)
    orgs = party_orgs(state)
    words = [state.title, state.objectives, *orgs, *(p.name for p in state.parties if p.name)]
    return {
        "id": state.id,
        "title": state.title,
        "kind": state.kind,
        "stage": state.stage,
        "step_key": step.key if step else None,
        "version": state.version,
        "procedure_key": state.procedure.key,
        "procedure_version": state.procedure.version,
        "initiator_org": initiator(state).org,
        "orgs": orgs,
        "sector": state.sector,
        "start_date": state.start_date,
        "end_date": state.end_date,
        "value": state.value,
        "next_deadline_at": min(state.deadlines.values(), default=None),
        "ministry_visible": ministry_can_see(state),
        "published": bool(state.publications),
        "last_seq": state.seq,
        "head_hash": head,
        "created_by": state.created_by,
        "created_at": state.created_at,
        "updated_at": state.updated_at,
        "state": state_value,
        "search": " ".join(words).lower(),
        "health": health.status if (health := implementation_health(state, state.updated_at)) else None,
    }


# ---------------------------------------------------------------- agreements


async def get_agreement(session: Unit, *, agreement_id: str) -> AgreementRecord | None:
    driver = await driver_connection(session)
    row = await driver.fetchrow(_GET_AGREEMENT, agreement_id)
    return _agreement(row) if row else None


async def agreement_states(session: Unit, *, ids: Sequence[str]) -> dict[str, AgreementState]:
    """The recorded states of the agreements `ids` (those that exist), by id."""
    if not ids:
        return {}
    driver = await driver_connection(session)
    rows = await driver.fetch(_AGREEMENT_STATES, list(ids))
    return {row[0]: AgreementState.model_validate_json(row[1]) for row in rows}


# The reads of the read model are fixed SQL on the driver's connection (`driver_connection`):
# asyncpg prepares each text once per connection, and a read builds, compiles and looks up
# nothing, nor wraps its rows — SQLAlchemy's part was ≈ 40 % of a list page's CPU in the API.
# On a session already in a transaction they join it (a handler's reads see its writes);
# otherwise each is its own transaction, as on the API's read sessions.
#
# The state as the text PostgreSQL holds: pydantic reads it straight from JSON, with no
# Python dicts built on the way (`model_validate_json`).
_RECORD_FIELDS = list(AgreementRecord.__dataclass_fields__)
_STATE_FIELD = _RECORD_FIELDS.index("state")
_GET_AGREEMENT = (
    "SELECT "
    + ", ".join("state::text" if name == "state" else name for name in _RECORD_FIELDS)
    + " FROM agreements WHERE id = $1::text"
)
_AGREEMENT_STATES = "SELECT id, state::text FROM agreements WHERE id = ANY($1::text[])"


def _agreement(row: Any) -> AgreementRecord:
    values = list(row)
    values[_STATE_FIELD] = AgreementState.model_validate_json(values[_STATE_FIELD])
    return AgreementRecord(*values)


class ListingFilters(TypedDict, total=False):
    """What selects a list's agreements, beside who looks (`viewer_orgs`) and where the page
    starts. `include_ministry_visible` adds those that reached the ministry's gate;
    `deadline_before` selects the overdue (pass now), `end_date_before` those ending soon —
    the caller supplies the clock."""

    include_ministry_visible: bool
    stage: str | Sequence[str] | None
    kind: str | Sequence[str] | None
    org: str | None
    q: str | None
    deadline_before: datetime | None
    end_date_before: date | None
    health: str | None


async def list_agreements(
    session: Unit,
    *,
    viewer_orgs: list[str] | None,
    limit: int = 50,
    cursor: str | None = None,
    **filters: Unpack[ListingFilters],
) -> tuple[list[AgreementListing], str | None]:
    """A page of agreements, most recently updated first, and the cursor of the next page
    (None on the last). `viewer_orgs=None` sees everything; otherwise the agreements those
    organisations are party to (and `filters`)."""
    listing, limit = _listing(viewer_orgs=viewer_orgs, limit=limit, cursor=cursor, **filters)
    # Every agreement is the viewer's to see: no parties to read. Otherwise each row of
    # the page comes with the parties its recorded state names.
    parties = _NO_PARTIES if viewer_orgs is None else _RECORDED_PARTIES
    driver = await driver_connection(session)
    rows = await driver.fetch(listing.statement(f"{_LISTING_SELECT}, {parties}", limit), *listing.args)
    records = [AgreementListing(*row) for row in rows[:limit]]  # the columns in the fields' order
    more = len(rows) > limit
    return records, encode_cursor(records[-1].updated_at, records[-1].id) if more else None


class ListedJson(asyncpg.Record):  # type: ignore[misc]  # asyncpg ships no types
    """An agreement of a list as the API answers it: its list item already as JSON text,
    written by PostgreSQL (`LISTING_JSON`), beside what deciding who sees it and the next
    page's cursor need.

    The row as asyncpg makes it (its `record_class`), its columns read by name through
    `itemgetter`s: no object built in Python per row (a dataclass's `__init__` was 50 of a
    page's Python calls)."""

    if TYPE_CHECKING:
        id: str
        updated_at: datetime
        party_orgs: list[str] | None  # as `AgreementListing.party_orgs`
        json: str
    else:
        id, updated_at, party_orgs, json = (property(itemgetter(i)) for i in range(4))


async def list_agreements_as_json(
    session: Unit,
    *,
    viewer_orgs: list[str] | None,
    limit: int = 50,
    cursor: str | None = None,
    **filters: Unpack[ListingFilters],
) -> tuple[list[ListedJson], str | None]:
    """`list_agreements`, the same rows in the same order, each as its list item's JSON text:
    the API hands the items to its answer as they come, with no record, no model and no
    serialising per row in Python (≈ a third of a list page's CPU in the API)."""
    listing, limit = _listing(viewer_orgs=viewer_orgs, limit=limit, cursor=cursor, **filters)
    parties = _NO_PARTIES if viewer_orgs is None else _RECORDED_PARTIES
    driver = await driver_connection(session)
    columns = f"s.id, s.updated_at, {parties}, {LISTING_JSON}"
    rows: list[ListedJson] = await driver.fetch(
        listing.statement(columns, limit), *listing.args, record_class=ListedJson
    )
    records = rows[:limit]
    more = len(rows) > limit
    return records, encode_cursor(records[-1].updated_at, records[-1].id) if more else None


def _listing(
    *,
    viewer_orgs: list[str] | None,
    limit: int,
    cursor: str | None,
    include_ministry_visible: bool = False,
    stage: str | Sequence[str] | None = None,
    kind: str | Sequence[str] | None = None,
    org: str | None = None,
    q: str | None = None,
    deadline_before: datetime | None = None,
    end_date_before: date | None = None,
    health: str | None = None,
) -> tuple[_Listing, int]:
    """The list's conditions for these filters, and the page's size as it is served."""
    # One organisation's agreements are walked in its rows of `agreement_summary_orgs`,
    # newest first (in a stage: that stage's), joined to their summaries: the page's rows
    # and no others (migration 2026_12_02_0024). That organisation is the viewer's, or for
    # one who sees more than one organisation's (a ministry approver, several), the `org` asked for.
    single_viewer = viewer_orgs is not None and len(viewer_orgs) == 1 and not include_ministry_visible
    walked = viewer_orgs[0] if single_viewer and viewer_orgs else org
    listing = _Listing(walked=walked is not None)
    if walked is not None:
        listing.where(f"o.org = {listing.arg(walked, 'text')}")
    if viewer_orgs is not None and not single_viewer:
        theirs = listing.arg(list(viewer_orgs), "text[]")
        # Their ids as one array: the primary key finds them, beside the flag's partial index
        # (one bitmap of both; `IN (SELECT …)` read every summary to test each against it).
        visible = f"s.id = ANY(ARRAY(SELECT agreement_id FROM agreement_summary_orgs WHERE org = ANY({theirs})))"
        listing.where(f"({visible} OR s.ministry_visible)" if include_ministry_visible else visible)
    if stage is not None:
        listing.where(listing.one_of(f"{listing.order_table}.stage", stage))
    if kind is not None:
        listing.where(listing.one_of(f"{listing.order_table}.kind", kind))
    if org is not None and org != walked:
        listing.where(f"s.orgs @> {listing.arg([org], 'text[]')}")
    words = (q or "").lower().split()  # every word must be found
    if terms := [w for w in words if any(c.isalnum() for c in w)]:
        # Each whole word once; the last, typed as a start, stays last (a whole word typed
        # again as the last is the whole word: both are asked).
        typed = [*dict.fromkeys(terms[:-1]), terms[-1]]
        query = listing.arg(words_as_typed(typed), "text")
        listing.where(f"s.search_words @@ to_tsquery('simple'::regconfig, {query})")
    # Punctuation, as it is written, only beside a word: a mark can use no index, so alone
    # it read every row's text (279 ms over 100,000 rows for "-" matching nothing); beside a
    # word it is checked on the rows the word index found. Marks alone are no search: the
    # list as without q. Each mark once: one typed 100 times was 100 scans of every row.
    marks = dict.fromkeys(w for w in words if w not in terms) if terms else {}
    for word in marks:
        listing.where(f"s.search ILIKE {listing.arg(f'%{_escape_like(word)}%', 'text')} ESCAPE '\\'")
    if deadline_before is not None:
        listing.where(f"s.next_deadline_at < {listing.arg(deadline_before, 'timestamptz')}")
    if end_date_before is not None:
        listing.where(f"s.end_date <= {listing.arg(end_date_before, 'date')} AND s.stage = 'implementation'")
    if health is not None:
        listing.where(f"s.health = {listing.arg(health, 'text')}")
    if cursor is not None:
        updated_at, last_id = decode_cursor(cursor)
        moment, last = listing.arg(updated_at, "timestamptz"), listing.arg(last_id, "text")
        listing.where(f"({listing.order_table}.updated_at, {listing.order_id}) < ({moment}, {last})")
    return listing, max(1, min(limit, MAX_PAGE))


class _Listing:
    """A list's conditions and their parameters, numbered as they are added. The same
    filters give the same text, so each combination is prepared once per connection; its
    values are parameters, never text. `walked`: the rows come from one organisation's
    rows of `agreement_summary_orgs` (`o`), in their order, joined to their summaries (`s`)."""

    def __init__(self, *, walked: bool = False) -> None:
        self.args: list[Any] = []
        self._conditions: list[str] = []
        self._walked = walked
        # Where the order (and stage, kind) is read: the walked index's own columns.
        self.order_table = "o" if walked else "s"
        self.order_id = "o.agreement_id" if walked else "s.id"

    def arg(self, value: Any, sql_type: str) -> str:
        self.args.append(value)
        return f"${len(self.args)}::{sql_type}"

    def one_of(self, column: str, values: str | Sequence[str]) -> str:
        # One value as `=`, as `IN` with one value is planned: the planner sees the value.
        if isinstance(values, str):
            return f"{column} = {self.arg(values, 'text')}"
        return f"{column} = ANY({self.arg(list(values), 'text[]')})"

    def where(self, condition: str) -> None:
        self._conditions.append(condition)

    def conditions(self) -> str:
        return " WHERE " + " AND ".join(self._conditions) if self._conditions else ""

    def statement(self, columns: str, limit: int) -> str:
        """The page's `columns`, most recently updated first, one row more than the page
        (whether there is a next)."""
        rows = (
            "agreement_summary_orgs o JOIN agreement_summaries s ON s.id = o.agreement_id"
            if self._walked
            else "agreement_summaries s"
        )
        return (
            f"SELECT {columns} FROM {rows}{self.conditions()}"
            f" ORDER BY {self.order_table}.updated_at DESC, {self.order_id} DESC"
            f" LIMIT {self.arg(limit + 1, 'integer')}"
        )


# The parties' organisations in the recorded state, which the trigger that writes the
# summary takes from the state it records (migration 2026_12_01_0018): no read of the state.
_RECORDED_PARTIES = "s.party_orgs"
_NO_PARTIES = "NULL::text[]"
# Every field but the last, `party_orgs`, which each query adds as it may: rows come in the fields' order.
_LISTING_SELECT = ", ".join(f"s.{name}" for name in list(AgreementListing.__dataclass_fields__)[:-1])


def _json_timestamp(column: str) -> str:
    # As pydantic writes an aware datetime: UTC, "Z", the microseconds only when not zero.
    utc = f"({column} AT TIME ZONE 'UTC')"
    written = (
        f"""'"' || to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS')"""
        f""" || coalesce(nullif(to_char({utc}, '.US'), '.000000'), '') || 'Z"'"""
    )
    return _json_finite(column, written, '"9999-12-31T23:59:59.999999"', '"0001-01-01T00:00:00"')


def _json_date(column: str) -> str:
    # ISO 8601 whatever the session's DateStyle.
    return _json_finite(column, f"to_json({column})::text", '"9999-12-31"', '"0001-01-01"')


def _json_finite(column: str, written: str, infinity: str, minus_infinity: str) -> str:
    # asyncpg writes Python's largest date or datetime as PostgreSQL's infinity and reads
    # infinity back as it (a timestamp without its zone), so pydantic writes those there.
    return (
        f"CASE WHEN {column} IS NULL THEN 'null' WHEN {column} = 'infinity' THEN '{infinity}'"
        f" WHEN {column} = '-infinity' THEN '{minus_infinity}' ELSE {written} END"
    )


def _json_value(column: str) -> str:
    # Text, integers and text arrays: PostgreSQL's JSON escapes what pydantic's does (the
    # two-letter escapes, other control characters as \\u00xx, the rest as UTF-8).
    return f"coalesce(to_json({column})::text, 'null')"


# A list item, `AgreementListing` without `party_orgs`, as compact JSON text with its fields
# in their order: byte for byte what pydantic's dump of the API's `AgreementSummary` of the
# same row writes (tests/api/test_list_json.py holds the two together).
_JSON_OF = {"date": _json_date, "datetime": _json_timestamp}  # by the field's declared type
LISTING_JSON_FIELDS = tuple(AgreementListing.__dataclass_fields__)[:-1]
LISTING_JSON = (
    "'{' || "
    + " || ',' || ".join(
        f"""'"{name}":' || """ + _JSON_OF.get(str(field.type).split(" | ")[0], _json_value)(f"s.{name}")
        for name, field in list(AgreementListing.__dataclass_fields__.items())[:-1]
    )
    + " || '}'"
)


def encode_cursor(updated_at: datetime, agreement_id: str) -> str:
    raw = json.dumps([iso_utc(updated_at), agreement_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        updated_at, agreement_id = json.loads(raw)
        last = str(agreement_id)
        # An agreement's id as `encode_cursor` wrote it: a NUL or a lone surrogate, which
        # PostgreSQL cannot take as text (the driver refused it: a 500), is no cursor of ours.
        if "\x00" in last or len(last) > 200:
            raise ValueError("not an agreement id")
        last.encode()  # UnicodeEncodeError, a ValueError, for a lone surrogate
        moment = datetime.fromisoformat(updated_at)
        # The driver sends a moment in UTC: one that is before year 1 or after 9999 there
        # (year 1 at +05:00) raised OverflowError in the driver, a 500.
        return moment.astimezone(UTC) if moment.tzinfo is not None else moment, last
    # binascii.Error and JSONDecodeError are ValueErrors. RecursionError: arrays nested a
    # few thousand deep, which fit in a query string and exhaust the JSON reader's stack.
    except (ValueError, TypeError, OverflowError, RecursionError) as error:
        raise InvalidCursor("The cursor is not one this API returned.") from error


def words_as_typed(words: Sequence[str]) -> str:
    """A `to_tsquery` text matching every one of `words`, as a search box is typed: each
    word but the last whole, the last as the start of a word (it may be half typed): `kerja
    12` finds "Kerja sama nomor 12" and "… nomor 120", not "Kerjasama nomor 12"; `sama`
    finds "samarinda". Each is quoted, so text search syntax in it is only text, and a term of
    several parts (`kab-bandung`, `1_0`) is matched as those parts in that order.

    A whole word is one entry of the word index; a start of a word is every entry it begins,
    added up into a bitmap before the other terms narrow it: a common word typed whole
    ("bench" in every row of 100,000) costs 0.2 ms of the index where its prefix cost 2.6."""
    quoted = ["'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in words]
    return " & ".join([*quoted[:-1], *(f"{last}:*" for last in quoted[-1:])])


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# ---------------------------------------------------------------- audit trail


async def list_events(
    session: AsyncSession, *, agreement_id: str, after_seq: int = 0, limit: int = 1000
) -> list[EventRecord]:
    rows = await session.execute(
        select(EVENTS)
        .where(EVENTS.c.agreement_id == agreement_id, EVENTS.c.seq > after_seq)
        .order_by(EVENTS.c.seq)
        .limit(limit)
    )
    return [EventRecord(**row._asdict()) for row in rows]


async def chain_hashes(session: AsyncSession, *, agreement_id: str) -> dict[int, str]:
    """Each row's hash by seq."""
    rows = await session.execute(
        select(EVENTS.c.seq, EVENTS.c.hash).where(EVENTS.c.agreement_id == agreement_id).order_by(EVENTS.c.seq)
    )
    return {row.seq: row.hash for row in rows}


async def verify_chain(session: AsyncSession, *, agreement_id: str) -> ChainVerification:
    """Recompute every hash from the stored columns, in seq order. A row breaks the chain
    when its seq skips, its prev_hash is not the previous hash, or its hash is not what its
    content gives; a trail shorter than the projection says is broken where it stops."""
    expected_prev, count, broken_at = GENESIS, 0, None
    head = GENESIS
    after = 0
    while True:
        page = await list_events(session, agreement_id=agreement_id, after_seq=after, limit=1000)
        for row in page:
            count += 1
            head = row.hash
            if broken_at is None and (
                row.seq != count
                or row.prev_hash != expected_prev
                or chain_hash(row.prev_hash, stored_body(row)) != row.hash
            ):
                broken_at = row.seq
            expected_prev = row.hash
        if len(page) < 1000:
            break
        after = page[-1].seq
    projected = (
        await session.execute(
            select(AGREEMENTS.c.last_seq, AGREEMENTS.c.head_hash).where(AGREEMENTS.c.id == agreement_id)
        )
    ).first()
    if broken_at is None and projected and (projected.last_seq, projected.head_hash) != (count, head):
        broken_at = min(count + 1, projected.last_seq)
    superseded = (
        await session.execute(
            select(func.count()).select_from(SUPERSEDED).where(SUPERSEDED.c.agreement_id == agreement_id)
        )
    ).scalar_one()
    return {"valid": broken_at is None, "count": count, "head": head, "broken_at": broken_at, "superseded": superseded}


async def list_superseded(session: AsyncSession, *, agreement_id: str) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(SUPERSEDED)
        .where(SUPERSEDED.c.agreement_id == agreement_id)
        .order_by(SUPERSEDED.c.superseded_at, SUPERSEDED.c.seq)
    )
    return [dict(row) for row in rows.mappings()]


def stored_body(row: EventRecord) -> dict[str, Any]:
    """The hashed body, rebuilt from a stored row."""
    return {
        "id": row.id,
        "agreement_id": row.agreement_id,
        "seq": row.seq,
        "version": row.version,
        "type": row.type,
        "at": iso_utc(row.at),
        "actor": row.actor,
        "data": row.data,
    }


# ---------------------------------------------------------------- documents


async def put_document(session: Unit, *, content: bytes, media_type: str, uploaded_by: str, org: str) -> DocumentRecord:
    """Store `content` as `org`'s document under its SHA-256. The same organisation
    uploading the same bytes again changes nothing and gets its first upload's record;
    another organisation's upload of them is its own document. In the session's
    transaction (begun if it is not yet: the caller's commit makes it durable), as fixed
    SQL on its connection — or, given an asyncpg connection (`POST /documents`), each
    statement committed on its own; the bytes are not read back — under the same hash they
    are the ones given."""
    sha256 = hashlib.sha256(content).hexdigest()
    driver = await driver_connection(session, in_transaction=True)
    row = await driver.fetchrow(_PUT_DOCUMENT, org, sha256, media_type, len(content), content, uploaded_by)
    if row is None:  # already there; a statement of its own, so a concurrent first upload is seen
        row = await driver.fetchrow(_DOCUMENT_HEAD, org, sha256)
    assert row is not None
    return DocumentRecord(sha256, row[0], row[1], content, row[2], org, row[3])


async def get_document(session: AsyncSession, *, org: str, sha256: str) -> DocumentRecord | None:
    row = (await session.execute(select(DOCUMENTS).where(DOCUMENTS.c.org == org, DOCUMENTS.c.sha256 == sha256))).first()
    return DocumentRecord(**row._asdict()) if row else None


async def documents_uploaded(session: Unit, *, org: str, hashes: Iterable[str]) -> set[str]:
    """Which of `hashes` are documents `org` uploaded (the only ones it may attach)."""
    wanted = list(set(hashes))
    if not wanted:
        return set()
    driver = await driver_connection(session)
    return {row[0] for row in await driver.fetch(_DOCUMENTS_UPLOADED, org, wanted)}


# An action's document check and an upload, as fixed SQL (as the read model's reads, below).
_DOCUMENT_HEAD_FIELDS = "media_type, size, uploaded_by, created_at"
_PUT_DOCUMENT = (
    "INSERT INTO documents (org, sha256, media_type, size, content, uploaded_by)"
    " VALUES ($1::text, $2::bpchar, $3::text, $4::bigint, $5::bytea, $6::text)"
    f" ON CONFLICT (org, sha256) DO NOTHING RETURNING {_DOCUMENT_HEAD_FIELDS}"
)
_DOCUMENT_HEAD = f"SELECT {_DOCUMENT_HEAD_FIELDS} FROM documents WHERE org = $1::text AND sha256 = $2::bpchar"
# The hashes as `text[]`, cast to the column's `bpchar[]` here (compared as text, the index
# on `sha256` would not serve): no type look-up per connection (see `_RECORD_WRITES`).
_DOCUMENTS_UPLOADED = "SELECT sha256 FROM documents WHERE org = $1::text AND sha256 = ANY($2::text[]::bpchar[])"


@dataclass(frozen=True, slots=True)
class AttachmentRecord:
    agreement_id: str
    seq: int
    sha256: str
    kind: str
    org: str  # the document's owner
    state: AgreementState  # of the agreement it is attached to, to decide who may see it


async def attachments_of(session: AsyncSession, *, sha256: str, limit: int = 200) -> list[AttachmentRecord]:
    """Where the document(s) with this hash are attached, with each agreement's state."""
    rows = await session.execute(
        select(ATTACHMENTS, AGREEMENTS.c.state)
        .join(AGREEMENTS, AGREEMENTS.c.id == ATTACHMENTS.c.agreement_id)
        .where(ATTACHMENTS.c.sha256 == sha256)
        .order_by(ATTACHMENTS.c.agreement_id, ATTACHMENTS.c.seq)
        .limit(limit)
    )
    return [
        AttachmentRecord(
            agreement_id=r.agreement_id,
            seq=r.seq,
            sha256=r.sha256,
            kind=r.kind,
            org=r.org,
            state=AgreementState.model_validate(r.state),
        )
        for r in rows
    ]


def attachments(event: Event) -> list[dict[str, Any]]:
    """The documents an event attaches to its agreement, each with its owner: the
    organisation whose member attached it (only an organisation's own uploads can be
    attached; the API checks it before the command is sent). A new event type that
    carries a document adds its case here."""
    found: list[tuple[str, str | None, str]] = []
    if event.type == "draft_submitted":
        draft = payload_as(event, events_.DraftSubmitted)
        found.append(("draft", draft.document, draft.org))
    elif event.type == "document_signed":
        signed = payload_as(event, events_.DocumentSigned)
        found.append(("evidence", signed.evidence, signed.org))
        if signed.delegation is not None:  # the letter of authority the official signed under
            found.append(("letter_of_authority", signed.delegation.letter, signed.org))
    elif event.type == "agreement_imported":
        imported = payload_as(event, events_.AgreementImported)
        found.append(("signed_text", imported.document, event.actor.org))
    elif event.type in ("progress_reported", "obligation_settled", "action_item_completed"):  # (#13)
        org = str(event.data["org"])
        found += [("evidence", sha, org) for sha in event.data.get("evidence", [])]
    elif event.type == "minutes_recorded":
        found.append(("minutes", str(event.data["document"]), str(event.data["org"])))
    return [
        {"agreement_id": event.agreement_id, "seq": event.seq, "sha256": sha, "kind": kind, "org": org}
        for kind, sha, org in found
        if sha
    ]
