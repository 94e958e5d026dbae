"""Handlers of amendments and renewals: opening one, editing an open addendum's terms,
withdrawing an open change. A change runs its own negotiation, gates and signing while the
agreement stays in force (`workflows.lifecycle.emitter.Emitter.open_change`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from workflows import messages as m
from workflows import timeline as t
from workflows.lifecycle import events as ev
from workflows.lifecycle import plan as p
from workflows.lifecycle.emitter import Emitter
from workflows.lifecycle.errors import InvalidProposal, InvalidTransition
from workflows.lifecycle.reading import local_today, party_orgs


def _check_end_date(e: Emitter, end_date: date | None) -> None:
    if end_date is None:
        return
    if e.state.effective_date is not None and end_date <= e.state.effective_date:
        raise InvalidProposal("The new end date is after the effective date.", field="end_date")
    if end_date <= local_today(e.state, e.now):
        raise InvalidProposal(
            "An amendment cannot set an end date that is already past.",
            field="end_date",
            today=local_today(e.state, e.now).isoformat(),
        )


def _check_plan_terms(e: Emitter, terms: dict[str, Any]) -> None:
    """An addendum's new obligations and activities follow the plan's rules within the
    term and with the indicators the addendum leaves (#13)."""
    if "obligations" not in terms and "activities" not in terms:
        return
    amended = ev.ChangeTerms.model_validate(terms)
    start = e.state.effective_date or e.state.start_date
    end = amended.end_date or p.term_of(e.state)[1]
    indicators = [i.name for i in (amended.indicators or e.state.indicators)]
    if amended.obligations is not None:
        p.check_obligations(amended.obligations, party_orgs(e.state), (start, end))
    if amended.activities is not None:
        p.check_activities(amended.activities, party_orgs(e.state), indicators, (start, end))


def propose_amendment(e: Emitter, cmd: m.ProposeAmendment) -> None:
    changes = cmd.model_dump(mode="json", exclude={"type", "summary"}, exclude_none=True)
    _check_end_date(e, cmd.end_date)
    _check_plan_terms(e, changes)
    e.open_change("amendment", cmd.summary, changes, origin=None)


def renew(e: Emitter, cmd: m.Renew) -> None:
    end = e.state.end_date
    assert end is not None
    if end < local_today(e.state, e.now):
        raise InvalidTransition(
            "The term has ended: an agreement is renewed before its end date.", end_date=end.isoformat()
        )
    if t.add_months(end, cmd.duration_months) > m.LATEST_DATE:
        raise InvalidProposal(f"The renewed term would end after {m.LATEST_DATE.isoformat()}.", field="duration_months")
    e.open_change(
        "renewal",
        cmd.note or f"Perpanjangan {cmd.duration_months} bulan",
        {"duration_months": cmd.duration_months},
        origin=None,
    )


def edit_change(e: Emitter, cmd: m.EditChange) -> None:
    change = e.state.change
    assert change is not None
    if change.kind != "amendment":
        raise InvalidTransition("Only an addendum's terms are edited; a renewal's term is its duration.")
    changes: dict[str, Any] = cmd.model_dump(mode="json", exclude={"type", "summary"}, exclude_none=True)
    if not changes and cmd.summary is None:
        raise InvalidProposal("An edit changes at least one term.")
    _check_end_date(e, cmd.end_date)
    _check_plan_terms(e, {**change.changes, **changes})
    if cmd.summary is None:
        e.emit(ev.ChangeEdited(number=change.number, changes=ev.ChangeTerms.model_validate(changes)))
    else:
        e.emit(
            ev.ChangeEdited(number=change.number, summary=cmd.summary, changes=ev.ChangeTerms.model_validate(changes))
        )


def withdraw_change(e: Emitter, cmd: m.WithdrawChange) -> None:
    change = e.state.change
    assert change is not None
    e.emit(ev.ChangeWithdrawn(kind=change.kind, number=change.number, reason=cmd.reason))
