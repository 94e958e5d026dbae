"""Performing an action on an agreement, once, for every edge of the API that sends one:
`POST /agreements/{id}/actions` (services.api.routes.agreements) and the web pages' forms
(services.api.web) both call `perform`, so both get the same visibility, version check,
early refusal, document check, Idempotency-Key replay and audit.

The decider decides (here early, from the read model, and again in the workflow's
validator); the workflow records. Without an Idempotency-Key, a command attaching no
document goes to the workflow first and is decided here while its Update travels
(`_send_while_reading`); the others are read, checked and decided before. The caller turns
the result into its response: a snapshot (with its ETag), or the replayed first response
of a retried key."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from services.api import commands, idempotency
from services.api.agreements_read import load_visible_record
from services.api.database import read_again_if_lost, read_from_the_engine
from services.api.document_access import attached_by, check_attachable
from services.api.errors import refuse_beyond_the_edge
from services.api.known_parties import KNOWN_PARTIES
from services.api.limits import header_number
from services.auth import Principal
from services.errors import PaktaError, Unprocessable
from services.settings import Settings
from services.store import queries
from services.store.db import Unit
from workflows import lifecycle
from workflows import messages as m
from workflows.agreement import Receipt

T = TypeVar("T")

log = structlog.get_logger("pakta.actions")


def etag(version: int) -> str:
    """An agreement version as the ETag (and If-Match) of its snapshot."""
    return f'"{version}"'


_VERSION_DIGITS = len(str(2**31 - 1))


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match header requires (None for none, or `*`)."""
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip().removeprefix("W/").strip('"')
    # No more digits than a version has (an integer column).
    version = header_number(tag, _VERSION_DIGITS)
    if version is None:
        raise Unprocessable(
            "If-Match must carry the agreement's version as returned in its ETag.", code="invalid_if_match"
        )
    return version


@dataclass(frozen=True)
class Edge:
    """What an action needs from the request's edge: its database session, a sessionmaker
    for the idempotency records (committed on their own), the Temporal client and the
    settings. `statementwise`: the session runs each statement on its own (ReadSessionDep),
    so the idempotency records go through it, durable as each is written, on the
    connection the request already holds; a session that commits at the edge (the web
    forms') would roll a stored refusal back with its error, and leaves them to the
    sessionmaker. `untouched`: the session has run nothing yet, so the agreement's row —
    the action's first statement, which writes nothing — is read on a connection taken
    without the `SELECT 1` check, and read again on a checked one if that connection
    turns out lost (`services.api.database.read_again_if_lost`): a round trip less.

    `session` None (`POST /agreements/{id}/actions` without an Idempotency-Key): the action
    reads and writes nothing of its own but the row, its document check and — rarely — the
    row after the Update, so each read takes a connection of `engine`'s pool as its asyncpg
    connection, unchecked and read again if lost (`read_from_the_engine`), and gives it back
    at once: no SQLAlchemy session opened and closed (≈ 5 % of the API's samples), and no
    connection held while the Update waits for the workflow."""

    session: AsyncSession | None
    sessionmaker: async_sessionmaker[AsyncSession]
    temporal: Client
    settings: Settings
    statementwise: bool = False
    untouched: bool = False
    engine: AsyncEngine | None = None

    @property
    def records(self) -> idempotency.Records:
        if self.statementwise and self.session is not None:
            return self.session
        return self.sessionmaker

    async def read(self, read: Callable[[Unit], Awaitable[T]], *, first: bool = False) -> T:
        """`read` on the edge's session, or on a connection of the pool's; `first`: the
        request's first statement, which may go without the connection's check."""
        session = self.session
        if session is None:
            assert self.engine is not None, "an edge without a session reads from the engine's pool"
            return await read_from_the_engine(self.engine, read)
        if first and self.untouched:
            return await read_again_if_lost(session, lambda: read(session))
        return await read(session)


async def perform(
    edge: Edge,
    *,
    principal: Principal,
    agreement_id: str,
    command: m.Command,
    path: str,
    if_match: str | None = None,
    idempotency_key: str | None = None,
) -> m.Snapshot | JSONResponse:
    """Send `command` to the agreement as `principal`. Returns the snapshot after it, or —
    for a retry of the same request under the same Idempotency-Key — the first response
    again (`Idempotent-Replayed: true`; a success or a stored refusal). Raises PaktaError
    for a refusal (404 for an agreement the caller may not see, 412 for a stale If-Match,
    422, 409, ...); a RequestValidationError (422, as FastAPI's) for a figure beyond the
    edge's bound (`m.MAX_FIGURE`). `path` is the path the request was sent to (read only
    with a key): with the command and If-Match it is the request's fingerprint for the key."""
    if command.type != "edit":
        return await _perform(edge, principal, agreement_id, command, path, if_match, idempotency_key)
    # An edit may replace a party: this process then keeps the parties of the state the edit
    # led to (the row read while it travelled noted those of before), so an organisation
    # edited out is read first at once and answered with the read model's 404 — its Update
    # is not sent, and no workflow refusal times the answer. Any other outcome (refused,
    # failed, a replayed answer) forgets them: the next read of the row notes them again.
    try:
        result = await _perform(edge, principal, agreement_id, command, path, if_match, idempotency_key)
    except BaseException:
        KNOWN_PARTIES.forget(agreement_id)
        raise
    if isinstance(result, m.Snapshot):
        KNOWN_PARTIES.note(result.id, [p.org for p in result.parties], version=result.version, read_at=None)
    else:
        KNOWN_PARTIES.forget(agreement_id)
    return result


async def _perform(
    edge: Edge,
    principal: Principal,
    agreement_id: str,
    command: m.Command,
    path: str,
    if_match: str | None,
    idempotency_key: str | None,
) -> m.Snapshot | JSONResponse:
    if idempotency_key is None:
        refuse_beyond_the_edge(command, "body", command.type)
        try:
            required, parsed = expected_version(if_match), True
        except Unprocessable:
            required, parsed = None, False  # refused below, after the 404 the row may bring
        if parsed and not attached_by(command):
            return await _send_while_reading(
                edge, principal=principal, agreement_id=agreement_id, command=command, expected=required
            )

        async def decidable(unit: Unit) -> tuple[queries.AgreementRecord, int | None]:
            # One connection for the row and the document check, in the order of the keyed
            # path's refusals: 404, a malformed If-Match, an unknown document.
            row = await load_visible_record(unit, agreement_id, principal)
            expected = expected_version(if_match)
            await check_attachable(unit, principal, command)
            return row, expected

        row, expected = await edge.read(decidable, first=True)
        return await _send(edge, row, command, principal, expected, idempotency_key)
    row = await edge.read(lambda unit: load_visible_record(unit, agreement_id, principal), first=True)
    idempotency.check_key(idempotency_key)
    expected = expected_version(if_match)
    # A retry gets the first response again; only a first try reaches the workflow.
    keyed = idempotency.KeyedRequest(
        principal=principal,
        key=idempotency_key,
        request_fingerprint=idempotency.fingerprint(
            "POST", path, {"command": command.model_dump(mode="json"), "if_match": if_match}
        ),
        now=commands.now_utc(),
        retention=timedelta(hours=edge.settings.idempotency_retention_hours),
    )
    replayed = await idempotency.replay(edge.records, keyed)
    if replayed is not None:
        return replayed
    # After the replay: a retry of a command taken before the bound gets its first response
    # again (a figure beyond it was accepted then), as a retry of any other command does.
    refuse_beyond_the_edge(command, "body", command.type)
    try:
        await edge.read(lambda unit: check_attachable(unit, principal, command))
        snapshot = await _send(edge, row, command, principal, expected, idempotency_key)
    except PaktaError as error:
        if 400 <= error.status < 500:
            await idempotency.remember(edge.records, keyed, status=error.status, body=error.to_body(), etag=None)
        raise
    body = snapshot.model_dump(mode="json")
    twin = await idempotency.remember(
        edge.records,
        keyed,
        status=200,
        body=body,
        etag=etag(snapshot.version),
        shows=(snapshot.id, snapshot.version),
    )
    if twin is not None:
        return twin
    return snapshot


async def _send_while_reading(
    edge: Edge, *, principal: Principal, agreement_id: str, command: m.Command, expected: int | None
) -> m.Snapshot:
    """`_send` with the Update on its way while the row is read and the command decided on
    it: on one client's path the row's round trip and the early decision (≈ 1 ms at the
    API) no longer come before the Update's (docs/performance-log.md, `perf-onepath11`).
    For a command that attaches no document (those are checked before anything is sent)
    and without an Idempotency-Key.

    Only for a caller this process knows to see the agreement (`KnownParties`: one who
    sees every agreement, or a party's people); anyone else's row is read first, and an
    outsider's action (or an unknown id's) is answered with the read model's 404, never
    sent: the workflow's validator is not woken for it, and the 404 takes the time of a
    read whether the agreement exists or not (docs/performance-log.md, `trust16`).

    The answer is what the workflow did. Refused by it: the read model's refusal when it
    had one (404 for an agreement the caller may not see, the early decision's) — the same
    decider on the same state, so the same refusal as when the Update was not sent — else
    the workflow's. Carried out: the foreseen snapshot, or the read model's, or the
    workflow's (`snapshot_after`), even where the read model refused, being behind. The
    row not readable at all (the database away): still what the workflow did — its refusal,
    or its state asked of it — for the Update is already on its way: answered with the
    read's failure, a client retrying it sent the command again, and each was carried out
    once the recordings could write."""
    if not KNOWN_PARTIES.sees(agreement_id, commands.actor_of(principal)):
        # A caller this process does not know to see the agreement (an outsider, an unknown
        # id, or a party whose agreement this process has not read yet): the row first, so
        # the read model's 404 answers an outsider without the workflow's validator — no
        # task for the agreement's workflow, and no answer timed by it (an unknown id's
        # would have been Temporal's frontend's).
        try:
            row = await edge.read(lambda unit: load_visible_record(unit, agreement_id, principal), first=True)
        except PaktaError:
            raise
        except Exception:
            log.warning("action_row_unread", agreement_id=agreement_id, exc_info=True)
            # The database away: what the workflow decides, as for any caller (below).
            return await _update_with_the_row(edge, principal, agreement_id, command, expected, read=False)
        return await _send(edge, row, command, principal, expected, None)
    return await _update_with_the_row(edge, principal, agreement_id, command, expected, read=True)


async def _update_with_the_row(
    edge: Edge, principal: Principal, agreement_id: str, command: m.Command, expected: int | None, *, read: bool
) -> m.Snapshot:
    """The Update sent, and — `read` — the row read and the command decided on it while it
    travels; not `read`: the row could not be read, the workflow alone answers."""
    actor, sent_at = commands.actor_of(principal), commands.now_utc()
    update = asyncio.ensure_future(
        commands.send_command(
            edge.temporal,
            agreement_id=agreement_id,
            command=command,
            principal=principal,
            expected_version=expected,
            idempotency_key=None,
            at=sent_at,
            actor=actor,
        )
    )
    refused: PaktaError | None = None
    foreseen = row = None
    unread = not read
    try:
        await asyncio.sleep(0)  # the Update's request out first: it has the longer way to go
        if read:
            try:
                row = await edge.read(lambda unit: load_visible_record(unit, agreement_id, principal), first=True)
            except PaktaError as refusal:
                refused = refusal
            except Exception:
                log.warning("action_row_unread", agreement_id=agreement_id, exc_info=True)
                unread = True  # the answer is the Update's outcome, told by the workflow alone
        if row is not None:
            state = row.state
            try:
                foreseen = commands.foresee(row, command, actor, commands.decision_time(state, now=sent_at), expected)
            except lifecycle.DomainError as error:
                error.details.setdefault("version", state.version)
                refused = commands.domain_error(error)
    except BaseException:
        # Gone before awaiting the Update (cancelled, or a failure of the decision itself):
        # it goes on, and what it ends in is seen here, not reported as never retrieved.
        update.add_done_callback(_outcome_seen)
        raise
    try:
        receipt = await update
    except PaktaError as refusal:
        if refused is not None:
            raise refused from None
        if unread and isinstance(refusal, commands.Closed):
            # An unknown id's answer too: the 404 unless the caller sees the closed agreement.
            await commands.refuse_unless_closed_seen(edge.temporal, agreement_id, actor)
        if refusal.status == 404:
            # The workflow's "not found", worded as the read model's (the row unread).
            refusal.details.setdefault("agreement_id", agreement_id)
        if row is not None:
            await _resync_if_behind(edge, refusal, row.state, principal)
        raise
    if unread:
        return await commands.workflow_snapshot(edge.temporal, receipt, actor)
    return await _answer(edge, receipt, actor, foreseen, principal)


def _outcome_seen(update: asyncio.Future[Any]) -> None:
    """An Update nobody waits for any more: its failure is not the answer's."""
    if not update.cancelled():
        update.exception()


def refusal_of(replayed: JSONResponse) -> PaktaError | None:
    """The refusal a replayed response carries, as the error it was (None for a success):
    for a caller that shows refusals itself rather than sending the response on."""
    if replayed.status_code < 400:
        return None
    body = json.loads(bytes(replayed.body))
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return PaktaError(status=replayed.status_code)
    details = {k: v for k, v in error.items() if k not in ("code", "message")}
    return PaktaError(
        str(error.get("message") or ""), code=error.get("code"), status=replayed.status_code, details=details
    )


async def _send(
    edge: Edge,
    row: queries.AgreementRecord,
    command: m.Command,
    principal: Principal,
    expected: int | None,
    idempotency_key: str | None,
) -> m.Snapshot:
    state = row.state
    # Decided here first, on the read model, by the same decider and at the same time the
    # workflow will use: a refusal needs no round trip (closed agreements have no running
    # workflow), and an acceptance foretells the state the workflow will record — the
    # caller's snapshot then needs no read after the Update. The workflow's validator
    # decides again, on its own state; the receipt says whether that was the same one.
    actor, now = commands.actor_of(principal), commands.decision_time(state)
    foreseen = None
    try:
        foreseen = commands.foresee(row, command, actor, now, expected)
    except lifecycle.DomainError as error:
        # With a key the workflow alone refuses: a retry whose first answer was lost must
        # reach the update it already applied (same update id), not be refused here as stale.
        if idempotency_key is None:
            error.details.setdefault("version", state.version)
            raise commands.domain_error(error) from None
    try:
        receipt = await commands.send_command(
            edge.temporal,
            agreement_id=state.id,
            command=command,
            principal=principal,
            expected_version=expected,
            idempotency_key=idempotency_key,
            at=now,
            actor=actor,
        )
    except PaktaError as refusal:
        await _resync_if_behind(edge, refusal, state, principal)
        raise
    return await _answer(edge, receipt, actor, foreseen, principal)


async def _resync_if_behind(edge: Edge, refusal: PaktaError, state: m.AgreementState, principal: Principal) -> None:
    """The workflow refused on a version older than the read model's `state`: a task
    recorded rows that its history lost. History is the truth: let the workflow bring the
    read model back to it, so the caller's next look shows where the agreement really is."""
    known = refusal.details.get("version")
    if isinstance(known, int) and known < state.version:
        await commands.resync(edge.temporal, agreement_id=state.id, principal=principal)


async def _answer(
    edge: Edge, receipt: Receipt, actor: m.Actor, foreseen: commands.Foreseen | None, principal: Principal
) -> m.Snapshot:
    """The caller's snapshot after the command `receipt` recorded: the one foreseen when the
    workflow recorded the state the early decision foresaw, else read."""
    answer = commands.foreseen_snapshot(receipt, actor, foreseen)
    if answer is not None:
        return answer
    return await edge.read(lambda unit: commands.snapshot_after(edge.temporal, unit, receipt, principal))
