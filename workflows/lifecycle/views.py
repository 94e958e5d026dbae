"""What a caller sees of an agreement and may do with it: the commands allowed now (and
those owed), the running step, the snapshot, and who the agreement waits for.

`allowed_actions` does not restate the rules: it runs `decide`'s own permission check and
handler on one representative of every command the phase accepts, and offers those that
pass. It stops each handler at its first event (`Probe`): a handler checks every rule
before it emits (`workflows.lifecycle.handlers`, held by `decide`), so reaching the first
event is the answer, and the events that would follow are neither built nor applied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import cache
from operator import attrgetter
from typing import Any

from pydantic import BaseModel

from workflows import messages as m
from workflows import timeline as t
from workflows.lifecycle.access import OWED, PERMISSIONS, permits
from workflows.lifecycle.commands import HANDLERS, TRANSITIONS
from workflows.lifecycle.emitter import Emitter
from workflows.lifecycle.errors import DomainError
from workflows.lifecycle.plan import state_plan_hash
from workflows.lifecycle.progress import health, open_period
from workflows.lifecycle.reading import (
    active_index,
    active_procedure,
    agreed_draft,
    current_step,
    initiator,
    latest_draft,
    open_evaluation,
    open_slots,
    party_orgs,
    phase,
    zone,
)

_FILLER, _SHA = "-", "0" * 64
# The representatives that do not depend on the state, built once (commands are never
# changed by the handlers that read them).
_BEFORE_DRAFTS: tuple[Any, ...] = (
    m.Submit(),
    m.Withdraw(reason=_FILLER),
    m.Comment(text=_FILLER),
    m.SubmitDraft(document=_SHA),
    m.Terminate(reason=_FILLER),
    # A second document, so `submit_draft` shows even when the latest version holds `_SHA`.
    m.SubmitDraft(document="1" * 64),
    *(
        m.Decide(gate=g, outcome=o, comment=_FILLER)  # type: ignore[arg-type]  # m.GATES holds str
        for g in m.GATES
        for o in ("approve", "request_changes", "reject")
    ),
)
# What `allowed_actions` asks of a gate: one decision each. Before its first event the
# handler asks whether the gate awaits this caller and, but for an approval, a comment —
# which every representative carries — so the other outcomes would get the same answer
# (tests/decider/test_lifecycle_properties.py asks `decide` of every outcome to be sure).
_PROBED_BEFORE_DRAFTS = tuple(c for c in _BEFORE_DRAFTS if c.type != "decide" or c.outcome == "approve")
_AFTER_DRAFTS: tuple[Any, ...] = (
    m.StartEvaluation(),
    m.ProposeAmendment(summary=_FILLER),
    m.Renew(duration_months=12),
    m.ExtendDeadline(deadline="step", days=1, reason=_FILLER),
    m.ExtendDeadline(deadline="evaluation_report", days=1, reason=_FILLER),
    m.EditChange(summary=_FILLER),
    m.WithdrawChange(reason=_FILLER),
    m.SetDprdRequirement(burdens_public=False, budgeted_in_apbd=True),
    m.Publish(),  # publishing (#12): offered unless the party already publishes without documents
    m.Unpublish(),
)


def candidate_commands(state: m.AgreementState) -> list[Any]:
    """One representative of every command the decider could accept in this state; the
    decider itself says which of them this actor may send."""
    return list(_candidates(state, _every_type))


def _candidates(
    state: m.AgreementState,
    wanted: Callable[[str], bool],
    before_drafts: tuple[Any, ...] = _BEFORE_DRAFTS,
    after_drafts: tuple[Any, ...] = _AFTER_DRAFTS,
) -> Iterator[Any]:
    """`candidate_commands`, built only for the command types `wanted` still asks about:
    `allowed_actions` skips the types the phase refuses and those already offered, and a
    representative is a pydantic model validated as it is built. The representatives built
    once (`before_drafts`, `after_drafts`) come as given: `allowed_actions` passes those of
    the types its phase accepts (`_built_once_for`), and skips a type already offered."""
    if wanted("edit"):
        yield m.Edit(title=state.title)
    yield from before_drafts
    if wanted("accept_draft"):
        yield from (m.AcceptDraft(version=d.version) for d in state.drafts)
    if wanted("sign"):
        yield from (
            m.Sign(version=d.version, method=meth, evidence=_SHA)
            for d in state.drafts
            for meth in ("electronic", "wet_ink")
        )
    yield from after_drafts
    if wanted("submit_evaluation_report"):
        yield from (m.SubmitEvaluationReport(evaluation=e.number, narrative=_FILLER) for e in state.evaluations)
    if wanted("conclude_evaluation"):
        yield from (
            m.ConcludeEvaluation(evaluation=e.number, score=50, recommendation=r)
            for e in state.evaluations
            for r in ("continue", "expand", "stop")
        )
    yield from _plan_candidates(state, wanted)


def plan_candidates(state: m.AgreementState) -> list[Any]:
    """Representatives of the action plan's commands (#13): one per item they act on."""
    return list(_plan_candidates(state, _every_type))


def _plan_candidates(state: m.AgreementState, wanted: Callable[[str], bool]) -> Iterator[Any]:
    filler, sha = _FILLER, _SHA
    if wanted("edit_plan"):
        yield m.EditPlan(goals=state.goals)
    if wanted("report_progress"):
        yield from (m.ReportProgress(activity=a.id, percent=a.percent) for a in state.activities)
    if wanted("record_measurement"):
        yield from (
            m.RecordMeasurement(indicator=i.name, value=0, measured_on=state.start_date, source=filler)
            for i in state.indicators[:1]
        )
    if wanted("settle_obligation"):
        for o in state.obligations:
            yield m.SettleObligation(obligation=o.id, outcome="fulfilled", evidence=[sha])
            yield m.SettleObligation(obligation=o.id, outcome="missed", note=filler)
    if state.activities and wanted("propose_plan_revision"):
        yield m.ProposePlanRevision(summary=filler, activities=list(state.activities))
    for r in state.plan_revisions:
        if r.status == "open":
            if wanted("accept_plan_revision"):
                yield m.AcceptPlanRevision(revision=r.number)
            if wanted("withdraw_plan_revision"):
                yield m.WithdrawPlanRevision(revision=r.number, reason=filler)
    if wanted("schedule_meeting"):
        yield m.ScheduleMeeting(
            title=filler, at=datetime(2100, 1, 4, 2, tzinfo=UTC), participants=party_orgs(state), agenda=[filler]
        )
    if wanted("record_minutes"):
        yield from (m.RecordMinutes(meeting=x.number, document=sha) for x in state.meetings if x.minutes is None)
    if wanted("complete_action_item"):
        yield from (m.CompleteActionItem(item=x.id) for x in state.action_items if x.done_at is None)


def _every_type(type_: str) -> bool:
    return True


class _Accepted(Exception):
    """A probed command reached its first event: every rule before it passed."""


class Probe(Emitter):
    """The emitter `allowed_actions` runs handlers on: the first event ends the handler."""

    def emit(self, payload: BaseModel) -> None:
        raise _Accepted


def allowed_actions(state: m.AgreementState, actor: m.Actor, now: datetime) -> list[str]:
    """The command types the caller may send now (never `tick` nor `refresh_party_settings`,
    which only the system sends: `m.SYSTEM_COMMAND_TYPES`).

    Representatives are built only of the types still in question (the phase accepts them,
    none of the same type passed yet), and each is asked `run_command`'s own question: its
    permission (`permits`, without composing the refusal's text), then its handler up to
    the first event. tests/decider/test_lifecycle_properties.py checks the answer against
    `decide` itself."""
    allowed: set[str] = set()
    current = phase(state)
    in_question = _in_question(current)

    def wanted(type_: str) -> bool:
        return type_ in in_question and type_ not in allowed

    for command in _candidates(state, wanted, *_built_once_for(current)):
        type_ = command.type
        if type_ in allowed:  # an earlier representative of the same generator passed
            continue
        if accepts(state, actor, now, command):
            allowed.add(type_)
    return [type_ for type_ in m.COMMAND_TYPES if type_ in allowed]


@cache
def _in_question(current: str) -> frozenset[str]:
    """The command types a phase accepts from people (`TRANSITIONS`, less the system's)."""
    return frozenset(TRANSITIONS[current] - m.SYSTEM_COMMAND_TYPES)


@cache
def _built_once_for(current: str) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The representatives built once (`_PROBED_BEFORE_DRAFTS`, `_AFTER_DRAFTS`) of the types
    the phase `current` accepts from people, in their order: chosen once per phase, not
    asked of each representative on every snapshot."""
    in_question = _in_question(current)
    return (
        tuple(c for c in _PROBED_BEFORE_DRAFTS if c.type in in_question),
        tuple(c for c in _AFTER_DRAFTS if c.type in in_question),
    )


def accepts(state: m.AgreementState, actor: m.Actor, now: datetime, command: Any) -> bool:
    """Whether the decider would take `command` from `actor` now: `allowed_actions`' question
    of one command — its permission, then its handler up to the first event. For a form that
    offers a command's variants (which deadline to extend) rather than its type."""
    if not PERMISSIONS[command.type].checked_by_handler and not permits(state, actor, command):
        return False
    try:
        HANDLERS[command.type](Probe(state, actor, now), command)
    except DomainError:
        return False
    except _Accepted:
        pass
    return True


def owed_actions(state: m.AgreementState, actor: m.Actor, now: datetime) -> list[str]:
    """The allowed actions the agreement waits for from this caller (`access.OWED`), in
    the same order: what their inbox lists."""
    return [type_ for type_ in allowed_actions(state, actor, now) if type_ in OWED]


def step_view(state: m.AgreementState) -> m.StepView | None:
    step = current_step(state)
    if step is None or state.stage in m.TERMINAL_STAGES:
        return None
    procedure = active_procedure(state)
    total = len(procedure.steps)
    index = active_index(state)
    if state.termination is not None or index is None:
        index = total
    return m.StepView(
        key=step.key,
        kind=step.kind,
        name=m.LocalizedName(id=step.name_id, en=step.name_en),
        basis=step.basis,
        document=step.document,  # type: ignore[arg-type]
        gate=step.gate,  # type: ignore[arg-type]
        index=index,
        of=total,
    )


def snapshot(state: m.AgreementState, actor: m.Actor, now: datetime) -> m.Snapshot:
    """The state as `actor` sees it at `now`: with the running step, the next evaluation
    and the caller's allowed actions."""
    upcoming = None
    if (
        state.stage == "implementation"
        and state.next_evaluation_on is not None
        and open_evaluation(state) is None
        and (state.end_date is None or state.next_evaluation_on < state.end_date)
    ):
        upcoming = t.office_time(state.next_evaluation_on, zone(state))
    # The state's fields as they are — already validated, of the very types the snapshot
    # declares — not dumped and validated again (≈ a third of a GET's snapshot).
    shown = dict(zip(_FROM_THE_STATE, _state_fields(state), strict=True))
    shown.update(
        step=step_view(state),
        next_evaluation_at=upcoming,
        allowed_actions=allowed_actions(state, actor, now),
        # implementation (#13)
        plan_hash=state_plan_hash(state),
        health=health(state, now),
        period=open_period(state),
    )
    return _constructed_snapshot(shown)


def _constructed_snapshot(values: dict[str, Any]) -> m.Snapshot:
    """`m.Snapshot.model_construct(**values)` for `values` that name every field of the
    snapshot: the same model — its fields in the declared order (the order its JSON is
    written in), all of them set — without `model_construct`'s walk over the 47 fields
    asking each for aliases and defaults (≈ 150 of a snapshot's 500 Python calls). A
    snapshot model that could make `model_construct` do more (an alias, a hook after
    construction, extra fields kept) is built by `model_construct` itself
    (tests/decider/test_snapshot_construction.py holds the two together)."""
    if not _PLAIN_SNAPSHOT or values.keys() != _EVERY_FIELD:
        return m.Snapshot.model_construct(**values)
    built = _new_snapshot(m.Snapshot)
    _set(built, "__dict__", {name: values[name] for name in _SNAPSHOT_FIELDS})
    _set(built, "__pydantic_fields_set__", set(_SNAPSHOT_FIELDS))
    _set(built, "__pydantic_extra__", None)
    _set(built, "__pydantic_private__", None)
    return built


# What a snapshot shows of the state unchanged (tests/decider: each field of the same type).
_FROM_THE_STATE = tuple(name for name in m.Snapshot.model_fields if name in m.AgreementState.model_fields)
# One C call for the 41 of them, not a `getattr` each.
_state_fields = attrgetter(*_FROM_THE_STATE)
_SNAPSHOT_FIELDS = tuple(m.Snapshot.model_fields)
_EVERY_FIELD = frozenset(_SNAPSHOT_FIELDS)
# What `model_construct` does beyond setting the fields it is given, in the declared order:
# nothing, for a model without aliases, a hook after construction, extra fields kept or
# private attributes (their defaults would be left unset: `__pydantic_private__` None).
_PLAIN_SNAPSHOT = (
    not any(f.alias or f.validation_alias for f in m.Snapshot.model_fields.values())
    and not m.Snapshot.__private_attributes__
    and not m.Snapshot.__pydantic_post_init__
    and not m.Snapshot.__pydantic_root_model__
    and m.Snapshot.model_config.get("extra") != "allow"
)
_new_snapshot = object.__new__
_set = object.__setattr__


def awaited(state: m.AgreementState) -> list[tuple[str | None, str, str | None]]:
    """Who the agreement waits for now, as (organisation, role, gate): the approvers of the
    open gate slots (organisation None: any holder of the gate), the parties that have not
    accepted the latest version, the signatories still to sign, the parties during
    implementation, the initiator's staff on a draft. Reminders go to them."""
    current = phase(state)
    if current == "closed":
        return []
    if current in ("gate", "change_gate", "termination"):
        return [(slot.org, "approver", slot.gate) for slot in open_slots(state)]
    if current == "draft":
        return [(initiator(state).org, "staff", None)]
    working: list[tuple[str | None, str, str | None]] = [
        (org, role, None) for org in party_orgs(state) for role in ("staff", "partner")
    ]
    if current == "implementation":
        return working
    step = current_step(state)
    assert step is not None and step.document is not None
    if current in ("negotiation", "change_negotiation"):
        latest = latest_draft(state, step.document)
        return [w for w in working if latest is None or w[0] not in latest.accepted_by]
    agreed = agreed_draft(state, step.document)
    signed = {s.org for s in state.signatures if agreed is not None and s.version == agreed.version}
    return [(org, "signatory", None) for org in party_orgs(state) if org not in signed]
