"""decide: what a command does to an agreement, or why it is refused.

The checks run in this order, and the order is part of the contract (it decides which
refusal a caller sees): the expected version (412), whether the phase accepts the command
at all (`TRANSITIONS`, 409), who may send it (`PERMISSIONS`, 403 — a gate decision checks
first that the gate is open), then the handler's own rules, then whether the agreement's state stays recordable
(`bounds`, 422 `agreement_too_large`). Every refusal carries the stage
and the caller's allowed actions.

This module sits above `views`, because a refusal says what the caller may do instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from workflows import messages as m
from workflows.lifecycle.bounds import check_recordable
from workflows.lifecycle.commands import TRANSITIONS, run_command
from workflows.lifecycle.create import check_time
from workflows.lifecycle.emitter import Emitter
from workflows.lifecycle.errors import DomainError, InvalidTransition, NothingDue, SettingsUnchanged, StaleVersion
from workflows.lifecycle.handlers.party_settings import recount_at_new_edition
from workflows.lifecycle.reading import phase
from workflows.lifecycle.views import allowed_actions


def check_version(state: m.AgreementState, expected_version: int | None, actor: m.Actor, now: datetime) -> None:
    """Refuse a command decided on another version than the agreement's (None: no check)."""
    if expected_version is not None and expected_version != state.version:
        raise StaleVersion(
            f"The agreement is at version {state.version}, not {expected_version}.",
            version=state.version,
            stage=state.stage,
            allowed_actions=allowed_actions(state, actor, now),
        )


_CHANGE_NAMES = {"amendment": "an addendum (amendment", "renewal": "a renewal (renewal"}


def why_not(state: m.AgreementState, command_type: str) -> str:
    """The real reason a phase does not accept a command."""
    if state.termination is not None and state.stage == "implementation":
        return f"'{command_type}' is not possible while a termination awaits the heads' decision."
    if state.change is not None and state.stage == "implementation":
        name = f"{_CHANGE_NAMES[state.change.kind]} {state.change.number})"
        hint = " Withdraw it or let it complete first." if command_type in ("propose_amendment", "renew") else ""
        return f"'{command_type}' is not possible while {name} is open.{hint}"
    return f"'{command_type}' is not possible while the agreement is in {state.stage}."


class Decision(NamedTuple):
    """A command's events, and the state they lead to: `evolve` of each event in turn, as
    the emitter applied them while deciding (later rules see earlier facts)."""

    events: list[m.Event]
    state: m.AgreementState


def decide(
    state: m.AgreementState,
    command: Any,
    actor: m.Actor,
    now: datetime,
    expected_version: int | None = None,
    *,
    recount_editions: bool = False,
    extensions_unbounded: bool = False,
    unchanged_settings_refused: bool = False,
) -> list[m.Event]:
    """The events `command` from `actor` at `now` produces (raises a DomainError)."""
    decision = decided(
        state,
        command,
        actor,
        now,
        expected_version,
        recount_editions=recount_editions,
        extensions_unbounded=extensions_unbounded,
        unchanged_settings_refused=unchanged_settings_refused,
    )
    return decision.events


# A system command with nothing else to do — a tick before anything is due, the nightly
# prompt bringing settings the party has — still records the recount at a new edition.
_NOTHING_ELSE = (NothingDue, SettingsUnchanged)


def decided(
    state: m.AgreementState,
    command: Any,
    actor: m.Actor,
    now: datetime,
    expected_version: int | None = None,
    *,
    recount_editions: bool = False,
    extensions_unbounded: bool = False,
    unchanged_settings_refused: bool = False,
) -> Decision:
    """`decide`, with the state its events lead to: the workflow records that state without
    applying the events a second time.

    `recount_editions`: first count the running due dates again when a newer national
    edition took effect since they were counted (`deadline_recounted`, "national_calendar").
    False decides as every command recorded before this rule was decided, so their histories
    replay to the same events: a parameter of the decision, not a field of the command,
    because the commands people send are the public API's bodies, and a tick's time is the
    workflow's. The workflow sets it under `workflow.patched` (workflows/agreement.py), the
    API when it foresees a command the same way.

    `extensions_unbounded`: take an extension of a due date that holds
    `bounds.EXTENSIONS_PER_DUE_DATE` already, as every extension recorded before that bound
    was taken — a history holding more replays to its own events. The workflow's handler
    sets it, under `workflow.patched`, in a run whose history holds no marker of the bound
    (recorded before it); the validator, the API and `allowed_actions` decide with the bound.

    `unchanged_settings_refused`: refuse a `refresh_party_settings` that brings the party
    the values it has whatever its version (`settings_unchanged`), as every refresh was
    decided before a version could move alone (`trust17`). A run recorded then may hold such
    a refresh refused by its handler after its validator took it (the state changed between
    the two), and replays to that refusal. The workflow's handler sets it, under
    `workflow.patched`, in a run whose history holds no marker of the version alone; the
    validator, the API and `allowed_actions` decide with today's rule."""
    check_time(now)
    if now < state.updated_at:
        raise InvalidTransition(
            "Time never runs backwards: the command is dated before the agreement's last event.",
            last_event_at=state.updated_at.isoformat(),
        )
    check_version(state, expected_version, actor, now)
    current = phase(state)
    if command.type not in TRANSITIONS[current]:
        raise InvalidTransition(
            why_not(state, command.type), stage=state.stage, allowed_actions=allowed_actions(state, actor, now)
        )
    emitter = Emitter(
        state,
        actor,
        now,
        extensions_unbounded=extensions_unbounded,
        unchanged_settings_refused=unchanged_settings_refused,
    )
    if recount_editions:
        recount_at_new_edition(emitter)
    recounted = len(emitter.events)
    try:
        run_command(emitter, command)
    except _NOTHING_ELSE as error:
        if not recounted or len(emitter.events) != recounted:
            raise _explained(error, state, actor, now) from None
    except DomainError as error:
        # A handler refuses before its first event: `allowed_actions` stops there (`Probe`).
        # A refused command records nothing, the recount before it included.
        assert len(emitter.events) == recounted, f"'{command.type}' was refused after its first event"
        raise _explained(error, state, actor, now) from None
    if command.type != "tick":  # time is never refused: what it adds is small (docs/implementation.md)
        try:
            # The size of what the events make, known only once they are made: the one
            # refusal that comes after them (`allowed_actions` does not foresee it).
            check_recordable(emitter.state, state)
        except DomainError as error:
            raise _explained(error, state, actor, now) from None
    return Decision(emitter.events, emitter.state)


def _explained(error: DomainError, state: m.AgreementState, actor: m.Actor, now: datetime) -> DomainError:
    """Every refusal says where the agreement stands and what the caller may do instead."""
    error.details.setdefault("stage", state.stage)
    error.details.setdefault("allowed_actions", allowed_actions(state, actor, now))
    return error
