"""How much an agreement's state may hold, so that it always stays recordable.

The state travels whole: as the input of each continue-as-new, as the workflow's result,
to the recording activity. Temporal refuses a payload over 2 MB, and an agreement whose
state cannot travel can no longer continue as new nor close — frozen for good. So:

- what accumulates over the years is capped when it grows (`kept_*`, called by the
  appliers in `evolve`): the state keeps what decisions and views need; the full history
  stays in the audit trail and the read model's events;
- a command whose resulting state would exceed `STATE_BUDGET_BYTES` (well under 2 MB:
  time still adds notices, and a continue-as-new carries more than the state) is refused
  with 422 `agreement_too_large` (`check_recordable`, called by `decide` and `create`).

The state's size is measured whole once (`state_size`); a state decided from a measured one
is then measured by what its command changed (`recorded_size`): the same number, without
serialising a large state (a plan, years of measurements) on every decision.

docs/implementation.md ("How much an agreement keeps") says what is kept and why.
"""

from __future__ import annotations

import weakref
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_json

from workflows import messages as m
from workflows import timeline as t
from workflows.lifecycle.errors import InvalidProposal
from workflows.lifecycle.reading import zone

STATE_BUDGET_BYTES = 512 * 1024  # the state's JSON; Temporal's payload limit is 2 MB
# Below this a state is measured whole: finding and measuring the fields a command changed
# costs about what serialising a few KB does (a KSDD agreement's state is 1.5–4 KB).
INCREMENTAL_FROM_BYTES = 16 * 1024
PROGRESS_KEPT = 10  # reports per activity (and the latest percentage, if older)
MEASUREMENTS_KEPT = 50  # per indicator, of the current and the previous evaluation period
MEETINGS_KEPT = 30  # the latest meetings (older ones only while an action item of theirs is open)
DONE_ACTION_ITEMS_KEPT = 50  # the latest completed action items (open ones are all kept)
CLOSED_REVISIONS_KEPT = 5  # the latest adopted or withdrawn plan revisions (the open one is kept)
# Extensions of one running due date counted in days of service (`DueCount.extensions`,
# every one of which a recount needs: folding two changes what a recount decides). A step
# or an evaluation's reports extended weekly for a year is 52; more is refused
# (`TooManyExtensions`), not dropped.
EXTENSIONS_PER_DUE_DATE = 60


class TooManyExtensions(InvalidProposal):
    """One more extension of a due date extended `EXTENSIONS_PER_DUE_DATE` times (422)."""

    code = "too_many_extensions"


class AgreementTooLarge(InvalidProposal):
    """The command would make the agreement's state too large to record (422)."""

    code = "agreement_too_large"


def state_size(state: m.AgreementState) -> int:
    """The bytes of the state's JSON, as it travels to Temporal."""
    size = _measured(state)
    if size is None:
        size = len(to_json(state))
        _remember(state, size)
    return size


def recorded_size(after: m.AgreementState, before: m.AgreementState) -> int:
    """`state_size(after)`, for a state `evolve` made from `before`: when `before` was
    measured, from its size and the fields the events changed (the rest `evolve` shares with
    it, the same objects). The state's JSON is its fields' `"name":value` parts joined, each
    independent of the others, so swapping the changed parts is exact:
    size(after) = size(before) - their bytes in `before` + their bytes in `after`."""
    known = _measured(before)
    if known is None or known < INCREMENTAL_FROM_BYTES:
        return state_size(after)
    old = before.__dict__
    changed = {name for name, value in after.__dict__.items() if not _same(value, old[name])}
    size = known - len(to_json(before, include=changed)) + len(to_json(after, include=changed))
    _remember(after, size)
    return size


def _same(a: Any, b: Any) -> bool:
    """Whether a field serialises to the same JSON in both states: the same object (what
    `evolve` shares), or an equal immutable value of the same type (1 and True are equal,
    their JSON is not)."""
    if a is b:
        return True
    if isinstance(a, list | dict | BaseModel):
        return False  # comparing deeply could cost what serialising costs
    return type(a) is type(b) and a == b


# The sizes of the states measured in this process, by identity, each forgotten with its state.
# A state is not changed once made (`evolve` copies what an event changes in place:
# tests/decider/test_evolve.py), so its size stays true while it lives.
_SIZES: dict[int, tuple[weakref.ref[m.AgreementState], int]] = {}


def _measured(state: m.AgreementState) -> int | None:
    entry = _SIZES.get(id(state))
    return entry[1] if entry is not None and entry[0]() is state else None


def _remember(state: m.AgreementState, size: int) -> None:
    key = id(state)
    _SIZES[key] = (weakref.ref(state, lambda _: _SIZES.pop(key, None)), size)


def check_recordable(after: m.AgreementState, before: m.AgreementState | None = None) -> None:
    """Refuse a command that leaves the state over the budget, unless it makes a state
    already over it (grown by time) no larger."""
    size = state_size(after) if before is None else recorded_size(after, before)
    if size <= STATE_BUDGET_BYTES or (before is not None and size <= state_size(before)):
        return
    parts = sorted(
        ((name, len(to_json(getattr(after, name)))) for name in m.AgreementState.model_fields),
        key=lambda part: -part[1],
    )[:3]
    largest = ", ".join(f"{name} ({kb(n)} KB)" for name, n in parts)
    raise AgreementTooLarge(
        f"This would make the agreement's record {kb(size)} KB, over its limit of {kb(STATE_BUDGET_BYTES)} KB; "
        f"nothing was changed. Its largest parts: {largest}. Keep long texts short — put a long description, "
        "note or narrative in an uploaded document and refer to it — or send fewer items at once.",
        size=size,
        limit=STATE_BUDGET_BYTES,
        largest=[{"field": name, "bytes": n} for name, n in parts],
    )


def kb(size: int) -> int:
    return -(-size // 1024)


# ---------------------------------------------------------------- what is kept as it grows


def kept_progress(reports: list[m.ProgressReport]) -> list[m.ProgressReport]:
    """The latest `PROGRESS_KEPT` reports of an activity, and the latest one with a
    percentage if it is older (an activity's percent is the latest reported)."""
    if len(reports) <= PROGRESS_KEPT:
        return reports
    kept = reports[-PROGRESS_KEPT:]
    if all(r.percent is None for r in kept):
        latest = next((r for r in reversed(reports) if r.percent is not None), None)
        if latest is not None:
            kept = [latest, *kept[1:]]
    return kept


def kept_measurements(state: m.AgreementState) -> list[m.Measurement]:
    """Per indicator, the measurements of the current and the previous evaluation period
    (what the open evaluation's report form shows), at most `MEASUREMENTS_KEPT` of the
    latest, and always the latest one (what health reads). The newest recorded is kept."""
    measured = state.measurements
    since = t.local_day(state.evaluations[-2].opened_at, zone(state)) if len(state.evaluations) >= 2 else None
    keep: set[int] = {id(measured[-1])} if measured else set()
    for indicator in {x.indicator for x in measured}:
        own = sorted((x for x in measured if x.indicator == indicator), key=lambda x: (x.measured_on, x.at))
        keep.add(id(own[-1]))
        recent = [x for x in own if since is None or x.measured_on >= since]
        keep.update(id(x) for x in recent[-MEASUREMENTS_KEPT:])
    return [x for x in measured if id(x) in keep]


def kept_meetings(state: m.AgreementState) -> list[m.Meeting]:
    """The latest `MEETINGS_KEPT` meetings, and older ones while an action item of theirs is
    open."""
    latest = {x.number for x in sorted(state.meetings, key=lambda x: x.number)[-MEETINGS_KEPT:]}
    open_items = {item.meeting for item in state.action_items if item.done_at is None}
    return [x for x in state.meetings if x.number in latest or x.number in open_items]


def kept_action_items(items: list[m.ActionItem]) -> list[m.ActionItem]:
    """Every open action item, and the latest `DONE_ACTION_ITEMS_KEPT` completed ones."""
    done = sorted(
        (x for x in items if x.done_at is not None), key=lambda x: x.done_at.timestamp() if x.done_at else 0.0
    )
    kept = {id(x) for x in done[-DONE_ACTION_ITEMS_KEPT:]}
    return [x for x in items if x.done_at is None or id(x) in kept]


def kept_revisions(revisions: list[m.PlanRevision]) -> list[m.PlanRevision]:
    """The open revision, and the latest `CLOSED_REVISIONS_KEPT` adopted or withdrawn ones
    (each holds a whole list of activities)."""
    closed = [r.number for r in revisions if r.status != "open"][-CLOSED_REVISIONS_KEPT:]
    return [r for r in revisions if r.status == "open" or r.number in closed]


def next_number(items: list[Any]) -> int:
    """The number of the next meeting or revision: numbers go on where the kept ones end."""
    return max((x.number for x in items), default=0) + 1
