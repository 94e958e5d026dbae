"""How the API talks to agreement workflows: start one, send it a command, translate its
refusals into the one error shape. The API never writes agreement state itself.

A workflow's Updates answer with a small receipt (which version the command led to, and
the audit-trail hash of the state it was decided on); the caller's snapshot is built here
from the state the API foresaw, or else from the read model, which the workflow's recording
committed before the Update completed (`snapshot_after`)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.api import known_parties
from services.auth import Principal
from services.errors import Conflict, NotFound, PaktaError, ServiceUnavailable, Unprocessable
from services.store import organisations, queries
from services.store.db import Unit
from services.temporal_client import execute_act
from workflows import lifecycle
from workflows import messages as m
from workflows.agreement import FOLLOWS_DIGITS, ActInput, AgreementInput, AgreementWorkflow, Receipt, workflow_id
from workflows.contracts import search

log = structlog.get_logger("pakta.api")
IDEMPOTENCY_NAMESPACE = uuid.UUID("0f3c7a52-0b7e-4d6c-8f0e-7b3e2d9f1a11")


def actor_of(principal: Principal) -> m.Actor:
    return m.Actor(sub=principal.sub, org=principal.org, roles=list(principal.roles), gates=list(principal.gates))


def now_utc() -> datetime:
    return datetime.now(UTC)


def domain_error(error: lifecycle.DomainError) -> PaktaError:
    return PaktaError(error.message, code=error.code, status=error.status, details=error.details)


def fingerprint(request: m.Proposal | m.ImportRecord | None) -> str:
    """The fingerprint of a request as it starts the agreement, its defaults applied: what an
    agreement started before names14 recorded (and `start_agreement` without `sent` still does)."""
    assert request is not None
    body = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def sent_fingerprint(sent: m.Proposal | m.ImportRecord, *, as_spelled: bool = False) -> str:
    """The fingerprint of a request as its caller sent it, before the defaults of the parties'
    settings, the register and the platform: the same body retried under its key fingerprints
    the same whatever changed in between (a register's rename, a time zone set). What it says,
    not how it was spelled: a field given its default value counts as one left out, so a
    batch imported from the spreadsheet and run again as JSON (which leaves `foreign: false`
    and `indicators: []` out) is the same import — but for the fields the parties' settings
    fill only when left out (`organisations.PARTY_SETTINGS`, `PROPOSAL_SETTINGS`): a time
    zone given, even Jakarta's, differs from one left to the settings.

    `as_spelled`: the fields the caller wrote, defaults or not — the form names14 recorded
    for agreements started before this one (`exclude_unset`), still accepted on a retry."""
    if as_spelled:
        said: dict[str, Any] = sent.model_dump(mode="json", exclude_unset=True)
    elif isinstance(sent, m.ImportRecord):
        said = {**sent.model_dump(mode="json", exclude_defaults=True), "proposal": _said(sent.proposal)}
    else:
        said = _said(sent)
    body = json.dumps(said, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def _said(proposal: m.Proposal) -> dict[str, Any]:
    """`proposal` without the fields at their defaults, but for those given that the settings
    would otherwise fill."""
    said = proposal.model_dump(mode="json", exclude_defaults=True)
    whole = proposal.model_dump(mode="json")
    said.update({key: whole[key] for key in organisations.PROPOSAL_SETTINGS if key in proposal.model_fields_set})
    for party, party_said, party_whole in zip(proposal.parties, said["parties"], whole["parties"], strict=True):
        given = party.model_fields_set
        party_said.update({key: party_whole[key] for key in organisations.PARTY_SETTINGS if key in given})
    return said


def _fingerprints(
    recorded_now: str, request: m.Proposal | m.ImportRecord | None, sent: m.Proposal | m.ImportRecord | None
) -> tuple[str, ...]:
    """Every fingerprint a start of this request may have recorded (computed on a retry only)."""
    older = (sent_fingerprint(sent, as_spelled=True),) if sent is not None else ()
    return (recorded_now, fingerprint(request), *older)


def new_agreement_id(principal: Principal, idempotency_key: str | None) -> str:
    """A retried create with the same key lands on the same workflow id, which Temporal
    refuses to start twice: the key needs no table of its own."""
    if idempotency_key:
        return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{principal.org}/{principal.sub}/{idempotency_key}"))
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Foreseen:
    """What the API expects a command to record, decided by itself before sending it: the
    state it decided on is the one whose audit trail ends at `follows` (the read model's
    `head_hash`), and `state` is that state with the decided events applied."""

    follows: str
    state: m.AgreementState


def foresee(
    row: queries.AgreementRecord, command: m.Command, actor: m.Actor, now: datetime, expected: int | None
) -> Foreseen:
    """Decide `command` on the read model's `row` as the workflow will (the same decider,
    request and time): what it will record if it decides on the same state. Raises the
    decider's DomainError for a refusal. The state is the one the decision made while
    deciding (`lifecycle.decided`), which the workflow records too: the events are not
    applied a second time."""
    # As the workflow decides a command now: it recounts at a new national edition (a run
    # that answers otherwise records another state, and the receipt says so: read then).
    decision = lifecycle.decided(row.state, command, actor, now, expected, recount_editions=True)
    return Foreseen(follows=row.head_hash, state=decision.state)


def decision_time(state: m.AgreementState, *, now: datetime | None = None) -> datetime:
    """The decider's `now` for a command on `state`: now (or the `now` the command was sent
    with), but never before the state's last change (the workflow's clock is clamped the
    same way: time never runs backwards)."""
    return max(now or now_utc(), state.updated_at)


async def snapshot_after(
    client: Client, session: Unit, receipt: Receipt, principal: Principal, foreseen: Foreseen | None = None
) -> m.Snapshot:
    """The caller's snapshot of the agreement once the command of `receipt` is recorded.
    When the workflow decided on the state the API foresaw the command on (the receipt
    `follows` the same audit-trail hash, at the same version and seq), the recorded state is
    the foreseen one: no read. Otherwise from the read model (read-your-own-write: the
    recording committed before the Update answered); another command landed since: its
    newer state, which the caller would see next anyway. The row missing or behind (never,
    short of a restore): ask the workflow."""
    actor = actor_of(principal)
    answer = foreseen_snapshot(receipt, actor, foreseen)
    if answer is not None:
        return answer
    row = await known_parties.read_row(session, receipt.id)
    if row is not None and row.version >= receipt.version:
        return lifecycle.snapshot(row.state, actor, now_utc())
    log.warning("read_model_behind_receipt", agreement_id=receipt.id, version=receipt.version)
    return await workflow_snapshot(client, receipt, actor)


async def workflow_snapshot(client: Client, receipt: Receipt, actor: m.Actor) -> m.Snapshot:
    """The caller's snapshot as the workflow of `receipt` holds it, without the read model."""
    try:
        snapshot = await client.get_workflow_handle(workflow_id(receipt.id)).query(AgreementWorkflow.snapshot, actor)
    except RPCError as error:
        raise _unavailable(error) from error
    if snapshot is None:
        raise ServiceUnavailable("The agreement is not recorded yet; try again.", code="not_recorded")
    return snapshot


def foreseen_snapshot(receipt: Receipt, actor: m.Actor, foreseen: Foreseen | None) -> m.Snapshot | None:
    """The caller's (`actor`'s) snapshot after `receipt` when the workflow recorded the
    foreseen state (`snapshot_after`, without a read); None when it must be read."""
    if foreseen is None or not _recorded_as_foreseen(receipt, foreseen):
        return None
    return lifecycle.snapshot(foreseen.state, actor, now_utc())


def _recorded_as_foreseen(receipt: Receipt, foreseen: Foreseen) -> bool:
    follows, state = receipt.follows, foreseen.state
    return (
        follows is not None
        and len(follows) == FOLLOWS_DIGITS
        and foreseen.follows[:FOLLOWS_DIGITS] == follows
        and (receipt.id, receipt.version, receipt.seq) == (state.id, state.version, state.seq)
    )


async def start_agreement(
    client: Client,
    session: AsyncSession,
    *,
    task_queue: str,
    principal: Principal,
    idempotency_key: str | None,
    proposal: m.Proposal | None = None,
    imported: m.ImportRecord | None = None,
    search_attributes: bool = True,
    sent: m.Proposal | m.ImportRecord | None = None,
) -> tuple[m.Snapshot, bool]:
    """Start the agreement's workflow — from a proposal, or from an agreement signed before
    Pakta — and wait until its creation is recorded. Returns the snapshot and whether this
    call created it (False: an idempotent replay). With `search_attributes` the workflow
    starts with its PaktaOrgs, PaktaKind, PaktaStage and PaktaStep. `sent`: the request as
    its caller sent it, before the defaults (its fingerprint is the one recorded)."""
    actor = actor_of(principal)
    if imported is not None:
        # One agreement per paper reference and region, whichever administrator imports it.
        initiating = next(p.org for p in imported.proposal.parties if p.role == "initiator")
        agreement_id = str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"import/{initiating}/{imported.ref}"))
    else:
        agreement_id = new_agreement_id(principal, idempotency_key)
    request = imported if imported is not None else proposal
    print_ = sent_fingerprint(sent) if sent is not None else fingerprint(request)
    requested_at = now_utc()
    try:
        if imported is not None:
            events = lifecycle.import_agreement(imported, actor, requested_at, agreement_id, print_)
        else:
            assert proposal is not None
            events = lifecycle.create(proposal, actor, requested_at, agreement_id, print_)
    except lifecycle.DomainError as error:
        raise domain_error(error) from None
    decided = _evolved(events)
    attributes = search.attributes_of(decided) if search_attributes else None
    created = True
    handle = client.get_workflow_handle(workflow_id(agreement_id))
    start = WithStartWorkflowOperation(
        AgreementWorkflow.run,
        AgreementInput(
            agreement_id=agreement_id,
            proposal=proposal,
            imported=imported,
            actor=actor,
            fingerprint=print_,
            requested_at=requested_at,
        ),
        id=workflow_id(agreement_id),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        search_attributes=attributes,
    )
    try:
        # The start and its `ready` Update in one call: the creation is recorded and answered
        # in the workflow's first task (a separate Update would cost a second one).
        receipt = await client.execute_update_with_start_workflow(
            AgreementWorkflow.ready, actor, start_workflow_operation=start
        )
    except WorkflowAlreadyStartedError:
        created = False
        receipt = await _ready(handle, actor)
    except RPCError as error:
        raise _unavailable(error) from error
    if not created:
        state = await handle.query(AgreementWorkflow.state)
        # The same request is the one whose fingerprint the agreement recorded: of what was sent,
        # or — for an agreement started before names14, which recorded it with the defaults
        # applied — of this request with today's defaults (a retry across the deploy; one
        # across the deploy and a rename of a party in the register too is refused still), or —
        # started since names14 and before review14 — of the fields as spelled.
        if state is None or state.request_fingerprint not in _fingerprints(print_, request, sent):
            if imported is not None:
                raise Conflict(
                    f"Reference {imported.ref} was already imported with different data.", code="idempotency_key_reused"
                )
            # As for actions (services/api/idempotency.py): the key names another request.
            raise Unprocessable(
                "This Idempotency-Key was already used for a different proposal.",
                code="idempotency_key_reused",
                key=idempotency_key,
            )
    if created and (receipt.id, receipt.version, receipt.seq) == (decided.id, decided.version, decided.seq):
        # This call started the workflow, with these very inputs and this time: the decider
        # is pure, so the state it recorded is `decided` — and nothing landed since.
        return lifecycle.snapshot(decided, actor, now_utc()), True
    return await snapshot_after(client, session, receipt, principal), created


def _evolved(events: list[m.Event]) -> m.AgreementState:
    state = None
    for event in events:
        state = lifecycle.evolve(state, event)
    assert state is not None
    return state


async def _ready(handle: WorkflowHandle[AgreementWorkflow, m.AgreementState], actor: m.Actor) -> Receipt:
    try:
        return await handle.execute_update(AgreementWorkflow.ready, actor)
    except RPCError as error:
        # The workflow already completed (e.g. a replay of a create whose agreement was
        # withdrawn since): its final state still answers queries.
        if error.status == RPCStatusCode.NOT_FOUND:
            state = await handle.query(AgreementWorkflow.state)
            if state is not None:
                return Receipt(id=state.id, version=state.version, seq=state.seq)
        raise _unavailable(error) from error


async def send_command(
    client: Client,
    *,
    agreement_id: str,
    command: m.Command,
    principal: Principal,
    expected_version: int | None,
    idempotency_key: str | None,
    at: datetime | None = None,
    actor: m.Actor | None = None,
) -> Receipt:
    """Send `command` to the agreement, decided as of `at` (default: now); the receipt of
    its recording (see `snapshot_after`). `actor`: the principal's, when the caller built
    it already (an action decides early with it)."""
    update_id = f"{principal.org}/{principal.sub}/{idempotency_key}" if idempotency_key else unique_update_id()
    request = ActInput(
        command=command,
        actor=actor if actor is not None else actor_of(principal),
        expected_version=expected_version,
        at=at or now_utc(),
    )
    try:
        return await execute_act(client, agreement_id, request, update_id=update_id)
    except WorkflowUpdateFailedError as error:
        raise _refusal(error.cause) from None
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            # Completed workflows (terminal agreements) accept nothing more.
            raise Closed(
                "The agreement is closed and accepts no more actions.", code="invalid_transition", allowed_actions=[]
            ) from None
        raise _unavailable(error) from error


class Closed(Conflict):
    """Temporal runs no workflow for the agreement: it is closed (its workflow completed) —
    or, for all Temporal can tell, there is no such agreement (`refuse_unless_closed_seen`)."""


async def refuse_unless_closed_seen(client: Client, agreement_id: str, actor: m.Actor) -> None:
    """For an Update refused as `Closed` when the row could not be read (the database away):
    the read model's 404 unless the agreement's workflow exists and `actor` sees it — asked of
    its final state, which a completed workflow still answers. "Closed" alone would tell a
    caller without the row that the id is an agreement's, and which ones are still open."""
    try:
        state = await client.get_workflow_handle(workflow_id(agreement_id)).query(AgreementWorkflow.state)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:  # no workflow of that id, ever
            raise NotFound("Agreement not found.", agreement_id=agreement_id) from None
        raise _unavailable(error) from error
    if state is None or not lifecycle.can_see(state, actor):
        raise NotFound("Agreement not found.", agreement_id=agreement_id)


# The Update ids' own generator, seeded from the OS (again in a forked child, as `random`'s
# is): the module's shared one also draws the request ids every answer carries, and a
# Mersenne Twister's next outputs follow from 624 of its past ones — an Update id should not
# follow from what callers are shown.
_update_ids = random.Random()
os.register_at_fork(after_in_child=_update_ids.seed)


def unique_update_id() -> str:
    """An Update id of its own for a command sent without an Idempotency-Key: 96 bits from
    a random generator of its own (seeded from the OS, again in a forked child) rather than
    the SDK's `uuid4()` per Update (a system call and a UUID object), written as 16 base64url
    characters — the id is written five to seven times into the agreement's history per
    command (three times in the acceptance, in the completion, and on each other event of
    the task: the marker, an upsert, a timer), 16 bytes fewer each than 32 hex digits; it
    only has to be unique among one agreement's Updates. Chosen before the first attempt, so
    `execute_act`'s resend to the continued run carries the same id."""
    return base64.urlsafe_b64encode(_update_ids.getrandbits(96).to_bytes(12, "big")).decode("ascii")


def _refusal(cause: BaseException | None) -> PaktaError:
    if isinstance(cause, ApplicationError) and cause.details and isinstance(cause.details[0], dict):
        detail = dict(cause.details[0])
        status, code = int(detail.pop("status", 409)), str(detail.pop("code", cause.type or "conflict"))
        message = str(detail.pop("message", cause.message))
        if status == 404:
            return NotFound("Agreement not found.")
        return PaktaError(message, code=code, status=status, details=detail)
    # Anything else is not a refusal of the decider's: say so without naming internals.
    return Conflict("The command could not be carried out; nothing was changed.", code="command_failed")


def _unavailable(error: BaseException) -> PaktaError:
    return ServiceUnavailable(
        "The workflow service is unavailable; try again.", code="temporal_unavailable", reason=str(error)
    )


async def resync(client: Client, *, agreement_id: str, principal: Principal) -> None:
    """Ask the agreement's workflow to bring the read model back to its history (see
    `AgreementWorkflow.resync`). Best effort: a failure is logged, the caller's own answer
    stands, and the next command or the daily reconciliation repairs it anyway."""
    handle = client.get_workflow_handle(workflow_id(agreement_id))
    try:
        await handle.execute_update(AgreementWorkflow.resync, actor_of(principal))
        log.warning("read_model_resynced", agreement_id=agreement_id)
    except Exception as error:
        log.error("read_model_resync_failed", agreement_id=agreement_id, error_class=type(error).__name__)
