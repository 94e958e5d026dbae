"""Reading an agreement's state: which procedure and step run now, in which phase, who the
parties are, which drafts are agreed, which gate decisions are open.

Every other part of the decider asks these questions; they only read the state, so they
sit at the bottom of the package and import nothing from the rest of it.
"""

from __future__ import annotations

from datetime import date, datetime

from workflows import messages as m
from workflows import timeline as t
from workflows.procedures import (
    PROCEDURES,
    TERMINATION_BY_EACH_HEAD,
    TERMINATION_STEP,
    Procedure,
    Step,
    get_procedure,
)


def procedure_of(state: m.AgreementState) -> Procedure:
    """The procedure the agreement itself started under."""
    return get_procedure(state.procedure.key, state.procedure.version)


def active_procedure(state: m.AgreementState) -> Procedure:
    """The procedure whose steps run now: the agreement's own, or its amendment/renewal."""
    ref = state.change.procedure if state.change is not None else state.procedure
    return PROCEDURES[(ref.key, ref.version)]  # `get_procedure`, asked ≈ 10 times per snapshot


def active_index(state: m.AgreementState) -> int | None:
    """The index of the running step in the active procedure (None: no step runs)."""
    return state.change.step_index if state.change is not None else state.step_index


def current_step(state: m.AgreementState) -> Step | None:
    """The step that runs now; a pending termination is a step of its own."""
    if state.termination is not None:
        return TERMINATION_STEP
    # `active_index` and `active_procedure`'s step, read here in one call: the decider asks
    # for the running step ≈ 10 times per snapshot and in every decision.
    change = state.change
    if change is not None:
        return PROCEDURES[(change.procedure.key, change.procedure.version)].steps[change.step_index]
    index = state.step_index
    return None if index is None else PROCEDURES[(state.procedure.key, state.procedure.version)].steps[index]


def scope_of(state: m.AgreementState) -> str:
    """Which negotiation drafts and signatures belong to: the agreement's own procedure
    (""), or one amendment or renewal ("renewal-2"), so a renewal negotiates a new PKS
    without touching the acceptances and signatures of the original one."""
    return f"{state.change.kind}-{state.change.number}" if state.change else ""


def phase(state: m.AgreementState) -> str:
    """The key of `TRANSITIONS` that says which commands the agreement accepts now: the
    stage, except that a gate step, a step of an amendment or renewal, and a pending
    termination are phases of their own."""
    if state.stage in m.TERMINAL_STAGES:
        return "closed"
    if state.termination is not None:
        return "termination"
    if state.stage == "draft":
        return "draft"
    if state.stage == "implementation":
        step = current_step(state)
        return "implementation" if step is None else f"change_{step.kind}"
    step = current_step(state)
    assert step is not None
    return step.kind


def stage_for(step: Step) -> str:
    """The stage an agreement is in while `step` of its own procedure runs."""
    if step.kind == "gate":
        return "review" if step.gate == "review" else "approval"
    return step.kind


def initiator(state: m.AgreementState) -> m.Party:
    return next(p for p in state.parties if p.role == "initiator")


def party_orgs(state: m.AgreementState) -> list[str]:
    return [p.org for p in state.parties]


def zone(state: m.AgreementState) -> str:
    """Deadlines are kept in the initiating region's time zone."""
    return initiator(state).time_zone


def local_today(state: m.AgreementState, now: datetime) -> date:
    """The calendar day `now` falls on where the agreement keeps its deadlines."""
    return t.local_day(now, zone(state))


def latest_draft(state: m.AgreementState, kind: str) -> m.Draft | None:
    """The latest version of document `kind` in the current procedure or change."""
    scope = scope_of(state)
    drafts = [d for d in state.drafts if d.kind == kind and d.scope == scope]
    return drafts[-1] if drafts else None


def agreed_draft(state: m.AgreementState, kind: str) -> m.Draft | None:
    """The latest version of `kind` if every party has accepted it."""
    draft = latest_draft(state, kind)
    if draft and set(party_orgs(state)) <= set(draft.accepted_by):
        return draft
    return None


def government_parties(state: m.AgreementState) -> list[m.Party]:
    """The Indonesian government parties: each has its TKKSD, legal bureau, DPRD and head."""
    return [p for p in state.parties if p.sector == "government" and not p.foreign]


def change_burdens(state: m.AgreementState) -> bool:
    """Whether the open change alters the burden on the public or the budget (value)."""
    changes = state.change.changes if state.change is not None else {}
    return changes.get("value") is not None or bool(changes.get("burdens_public"))


def gate_slots_for(state: m.AgreementState, step: Step, *, opening: bool = False) -> list[m.GateSlot]:
    """The decisions gate `step` owes: once for the agreement, or one per party it
    decides for (the initiator, or each Indonesian government party, perhaps only those
    whose DPRD must approve, and for an addendum only when it changes the burden or the
    budget — decided when the step is entered, not when the change opens: `opening`)."""
    assert step.gate is not None
    if step.condition == "dprd_if_change_burdens" and not opening and not change_burdens(state):
        return []
    if step.scope == "once":
        return [m.GateSlot(step=step.key, gate=step.gate, org=None)]  # type: ignore[arg-type]
    if step.scope == "initiator":
        parties = [initiator(state)]
    else:
        parties = government_parties(state)
    if step.condition in ("requires_dprd_approval", "dprd_if_change_burdens"):
        parties = [p for p in parties if p.requires_dprd_approval]
    return [m.GateSlot(step=step.key, gate=step.gate, org=p.org) for p in parties]  # type: ignore[arg-type]


def open_slots(state: m.AgreementState) -> list[m.GateSlot]:
    """The decisions the running gate step still awaits."""
    step = current_step(state)
    if step is None or step.kind != "gate" or phase(state) == "closed":
        return []
    return [s for s in state.gates if s.step == step.key and s.status == "pending"]


def open_evaluations(state: m.AgreementState) -> list[m.Evaluation]:
    """The evaluations not concluded yet, oldest first (a later interval opens its own
    evaluation even when an earlier one is still unconcluded)."""
    return [e for e in state.evaluations if e.concluded_at is None]


def open_evaluation(state: m.AgreementState) -> m.Evaluation | None:
    """The latest evaluation not concluded yet."""
    running = open_evaluations(state)
    return running[-1] if running else None


def step_by_key(state: m.AgreementState, key: str) -> Step | None:
    """The step an event names (`step_entered`, `deadline_reminder`, ...): of the open
    amendment or renewal, of the agreement's own procedure, of a change already closed, or
    the termination — what a notification reads the step's name from."""
    candidates = [active_procedure(state), procedure_of(state), *PROCEDURES.values()]
    for procedure in candidates:
        for step in procedure.steps:
            if step.key == key:
                return step
    return TERMINATION_STEP if key == TERMINATION_STEP.key else None


# ---------------------------------------------------------------- calendars


def calendar_of(state: m.AgreementState, org: str | None, at: datetime, edition: t.Edition | None = None) -> t.Calendar:
    """The days of service of party `org` (None or a ministry: Jakarta, national days only)
    for a decision at `at`: the national days off are the edition in force then, so a replay
    counts as the decision did (`edition`: another one, for a date counted again at a newer
    edition). Agreements created before office days keep calendar days in the initiator's
    zone."""
    edition = edition if edition is not None else t.edition_at(at)
    if state.calendar != t.OFFICE_DAYS:
        return t.Calendar(zone(state), legacy=True, edition=edition)
    party = next((p for p in state.parties if p.org == org), None)
    if party is None:
        return t.Calendar("Asia/Jakarta", edition=edition)
    return t.Calendar(party.time_zone, frozenset(party.days_off), edition=edition)


def initiator_calendar(state: m.AgreementState, at: datetime, edition: t.Edition | None = None) -> t.Calendar:
    """The calendar the initiating region keeps its agreement's time by (reminders,
    evaluations, expiry), for a decision at `at`."""
    return calendar_of(state, initiator(state).org, at, edition)


def notices_calendar(state: m.AgreementState, org: str | None) -> t.Calendar:
    """The calendar the notices of `state` are timed by: the edition in force when the state
    was last recorded (`updated_at`). The workflow's timer is set from the notices right
    after a recording, and the tick it fires must find the same ones due; a newer edition
    takes over at the first recording after its `effective_from`."""
    return calendar_of(state, org, state.updated_at)


def step_due(
    state: m.AgreementState,
    step: Step,
    now: datetime,
    slots: list[m.GateSlot] | None = None,
    edition: t.Edition | None = None,
) -> datetime:
    """When `step`, opening at `now`, falls due: its days of service in the calendar of each
    party it waits for (the deciding parties of a gate, every party otherwise), the latest."""
    if state.calendar != t.OFFICE_DAYS:
        return t.due_after(now, t.STEP_DEADLINE_DAYS[step.kind], zone(state))
    days = t.STEP_DEADLINE_OFFICE_DAYS[step.kind]
    if step.kind == "gate":
        orgs: list[str | None] = [s.org for s in (slots if slots is not None else gate_slots_for(state, step))]
    else:
        orgs = list(party_orgs(state))
    return max(calendar_of(state, org, now, edition).due_after(now, days) for org in orgs or [initiator(state).org])


def report_due(state: m.AgreementState, now: datetime, edition: t.Edition | None = None) -> datetime:
    """When an evaluation's reports, opening at `now`, fall due."""
    if state.calendar != t.OFFICE_DAYS:
        return t.due_after(now, t.REPORT_DUE_DAYS, zone(state))
    return initiator_calendar(state, now, edition).due_after(now, t.REPORT_DUE_OFFICE_DAYS)


def count_edition(count: m.DueCount) -> t.Edition | None:
    """The national edition a count was last counted with as a whole (None: each part with
    the edition in force at its own moment)."""
    return t.edition_numbered(count.edition) if count.edition is not None else None


def counts_behind_edition(state: m.AgreementState, now: datetime) -> bool:
    """Whether a running due date counted in days of service was counted with an older
    national edition than the one in force at `now`: its start predates the newer edition's
    `effective_from`, and no recount at that edition has moved it since. Cheap: what the
    workflow asks before asking Temporal whether this run follows editions at all."""
    if state.calendar != t.OFFICE_DAYS or not state.due_counts:
        return False
    newest = t.edition_at(now)
    return any(
        counted_with(count) is not newest
        for key, count in state.due_counts.items()
        if _running_count(state, key, count)
    )


def counted_with(count: m.DueCount) -> t.Edition:
    """The newest national edition `count` was counted with: the one a recount at an
    edition used, else the one in force at its start (an extension decided later counted
    its own days with a later one, which a recount at that edition counts again)."""
    edition = count_edition(count)
    return edition if edition is not None else t.edition_at(count.start)


def _running_count(state: m.AgreementState, key: str, count: m.DueCount) -> bool:
    """Whether `count` still counts the recorded date `key` (the step did not move on, the
    evaluation is open)."""
    if key == "step":
        return state.deadlines.get("step") == count.due
    number = int(key.removeprefix("evaluation:"))
    return any(x.number == number and x.due_at == count.due for x in open_evaluations(state))


def recounted_due(state: m.AgreementState, key: str, edition: t.Edition | None = None) -> datetime | None:
    """The due date `key` ("step", "evaluation:<n>") counted again with the parties'
    calendars as they stand: from the moment it was first counted, with the edition in force
    then, and each extension again in the initiator's calendar — the decisions that set it,
    made again. `edition`: the whole count with that national edition instead (a newer one
    took effect); else the one a recount at an edition last used (`DueCount.edition`). None:
    not running, or not counted in days of service (calendar days, or recorded before counts
    were kept: `state.due_counts`)."""
    count = state.due_counts.get(key)
    if state.calendar != t.OFFICE_DAYS or count is None:
        return None
    edition = edition if edition is not None else count_edition(count)
    if key == "step":
        if state.deadlines.get("step") != count.due:
            return None
        if state.termination is not None:
            heads = gate_slots_for(state, TERMINATION_BY_EACH_HEAD)
            due = step_due(state, TERMINATION_BY_EACH_HEAD, count.start, heads, edition)
        else:
            step = current_step(state)
            if step is None:
                return None
            due = step_due(state, step, count.start, edition=edition)
    else:
        number = int(key.removeprefix("evaluation:"))
        evaluation = next((x for x in open_evaluations(state) if x.number == number), None)
        if evaluation is None or evaluation.due_at != count.due:
            return None
        due = report_due(state, count.start, edition)
    for extension in count.extensions:
        due = initiator_calendar(state, extension.at, edition).extended(due, extension.at, extension.days)
    return due


# ---- publishing on the public portal (#12)


def signed_documents(state: m.AgreementState, org: str) -> set[str]:
    """The signed documents `org`'s staff may mark public: every signed text of the
    agreement (and of its amendments) and `org`'s own signing evidence. Never another
    party's scan, nor a letter of authority (it names officials)."""
    texts = {s.document for s in state.signatures}
    evidence = {s.evidence for s in state.signatures if s.org == org and s.evidence}
    return texts | evidence


def public_documents(state: m.AgreementState) -> set[str]:
    """The documents the publishing parties marked public."""
    return {sha for p in state.publications for sha in p.documents}


def publication_of(state: m.AgreementState, org: str) -> m.Publication | None:
    return next((p for p in state.publications if p.org == org), None)


# ---- end of publishing
