"""The emitter: how a command's events are built, recorded and applied one by one.

Handlers never build `m.Event`s themselves. They hand the emitter a typed payload
(`workflows.lifecycle.events`); the emitter numbers it, records its JSON form and applies
it at once, so a later rule of the same command sees the earlier facts. The moves several
handlers share — entering the next applicable step, completing a step, opening an
amendment, renewal or evaluation — live here, written once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from workflows import messages as m
from workflows import timeline as t
from workflows.lifecycle import events as ev
from workflows.lifecycle.evolve import evolve
from workflows.lifecycle.reading import (
    active_index,
    active_procedure,
    agreed_draft,
    gate_slots_for,
    local_today,
    party_orgs,
    report_due,
    stage_for,
    step_due,
)
from workflows.procedures import CHANGE_PROCEDURES, CHANGE_PROCEDURES_2020, Step, get_procedure


class Emitter:
    """Builds a command's events and applies each at once, so later rules see earlier facts."""

    def __init__(
        self,
        state: m.AgreementState,
        actor: m.Actor,
        now: datetime,
        *,
        extensions_unbounded: bool = False,
        unchanged_settings_refused: bool = False,
    ) -> None:
        self.state, self.actor, self.now = state, actor, now
        # A run recorded before one due date's extensions were bounded, or before a party's
        # settings version could move alone, decides them as it did then (`deciding.decided`'s
        # `extensions_unbounded`, `unchanged_settings_refused`).
        self.extensions_unbounded = extensions_unbounded
        self.unchanged_settings_refused = unchanged_settings_refused
        self.version = state.version + 1  # every event of one command shares the new version
        self.events: list[m.Event] = []

    def emit(self, payload: BaseModel) -> None:
        """Record the event `payload` belongs to (its model names the type) and apply it."""
        seq = self.state.seq + 1
        event = m.Event(
            id=ev.event_id(self.state.id, seq),
            agreement_id=self.state.id,
            seq=seq,
            version=self.version,
            type=ev.EVENT_TYPES[type(payload)],
            at=self.now,
            actor=self.actor,
            data=ev.dump_payload(payload),
        )
        self.events.append(event)
        self.state = evolve(self.state, event)

    def emit_as(self, type_: str, data: dict[str, Any]) -> None:
        """Record an event of `type_` from its JSON form, validated against its model (what
        time brings arrives as a notice's kind and data)."""
        self.emit(ev.EVENT_PAYLOADS[type_].model_validate(data))

    def enter_from(self, index: int) -> None:
        """Enter the first step at or after `index` of the active procedure that applies;
        past the last step, start implementation or complete the change."""
        procedure, change = active_procedure(self.state), self.state.change
        while index < len(procedure.steps):
            step = procedure.step(index)
            slots = gate_slots_for(self.state, step) if step.kind == "gate" else None
            if step.kind == "gate" and not slots:
                self.emit(ev.StepSkipped(step=step.key, reason="no party needs this gate"))
                index += 1
                continue
            due = step_due(self.state, step, self.now, slots)
            self.emit(
                ev.StepEntered(
                    step=step.key,
                    index=index,
                    stage="implementation" if change else stage_for(step),  # type: ignore[arg-type]
                    change=change.number if change else None,
                    due_at=due.isoformat(),
                )
            )
            if step.kind == "signing" and self._already_signed(step):
                # Changes were requested after signing, and the parties kept the very
                # version they had signed: those signatures stand.
                self.emit(ev.StepCompleted(step=step.key, reason="already signed"))
                index += 1
                continue
            return
        if change is not None:
            self._complete_change(change)
            return
        effective = max(self.state.start_date, local_today(self.state, self.now))
        end = t.add_months(effective, self.state.duration_months)
        first_evaluation = t.add_months(effective, self.state.evaluation_interval_months)
        self.emit(ev.ImplementationStarted(effective_date=effective, end_date=end, next_evaluation_on=first_evaluation))

    def complete_step_and_enter_next(self, step_key: str, version: int | None = None) -> None:
        """The running step is done (its gate decisions taken, its document agreed or
        signed as `version`): record it and enter the next step that applies."""
        if version is None:
            self.emit(ev.StepCompleted(step=step_key))
        else:
            self.emit(ev.StepCompleted(step=step_key, version=version))
        index = active_index(self.state)
        assert index is not None
        self.enter_from(index + 1)

    def _already_signed(self, step: Step) -> bool:
        assert step.document is not None
        draft = agreed_draft(self.state, step.document)
        if draft is None:
            return False
        signed = {s.org for s in self.state.signatures if s.version == draft.version}
        return set(party_orgs(self.state)) <= signed

    def _complete_change(self, change: m.ChangeProcess) -> None:
        document = get_procedure(change.procedure.key, change.procedure.version).steps[-1].document
        assert document is not None
        draft = agreed_draft(self.state, document)
        assert draft is not None
        changes = dict(change.changes)
        if change.kind == "renewal":
            assert self.state.end_date is not None
            changes = {"end_date": t.add_months(self.state.end_date, change.changes["duration_months"]).isoformat()}
        self.emit(
            ev.ChangeCompleted(
                kind=change.kind,
                number=change.number,
                summary=change.summary,
                changes=ev.ChangeTerms.model_validate(changes),
                document=draft.document,
                version=draft.version,
            )
        )

    def open_change(
        self, kind: str, summary: str, changes: dict[str, Any], origin: str | None, recommendation: str | None = None
    ) -> None:
        """Open an amendment or renewal: its own gate slots, then its first step."""
        procedure = (CHANGE_PROCEDURES if self.state.calendar == t.OFFICE_DAYS else CHANGE_PROCEDURES_2020)[kind]
        number = self.state.changes_opened + 1
        slots = [
            slot
            for step in procedure.steps
            if step.kind == "gate"
            for slot in gate_slots_for(self.state, step, opening=True)
        ]
        data: dict[str, Any] = dict(
            kind=kind,
            number=number,
            summary=summary,
            changes=changes,
            origin=origin,
            procedure={"key": procedure.key, "version": procedure.version},
            gates=[s.model_dump(mode="json") for s in slots],
        )
        if recommendation is not None:
            data["recommendation"] = recommendation
        self.emit(ev.ChangeOpened.model_validate(data))
        self.enter_from(0)

    def open_evaluation(self, *, final: bool, origin: str, legacy_periods: bool = False) -> None:
        """Open the next evaluation; its reports are due `REPORT_DUE_DAYS` later. The next
        period falls on the effective date's day of the month (`t.add_period`);
        `legacy_periods`: a calendar month after this one, as runs of before stepped."""
        number = self.state.evaluations_opened + 1
        due = report_due(self.state, self.now)
        following = self.state.next_evaluation_on
        if not final and following is not None and origin == "schedule":
            # A scheduled evaluation moves the schedule on; an extra one (requested) leaves it.
            interval, anchor = self.state.evaluation_interval_months, self.state.effective_date
            if legacy_periods or anchor is None:
                following = t.add_months(following, interval)
            else:
                following = t.add_period(following, interval, anchor)
        self.emit(
            ev.EvaluationOpened(
                number=number, final=final, origin=origin, due_at=due.isoformat(), next_evaluation_on=following
            )
        )
