"""The decider: every rule of an agreement's lifecycle, pure.

    create(proposal, actor, now, agreement_id) -> [Event]
    decide(state, command, actor, now)         -> [Event]   (raises DomainError)
    decided(state, command, actor, now)        -> Decision(events, state after them)
    evolve(state, event)                       -> state
    next_wakeup(state)                         -> when time next makes something happen
    allowed_actions(state, actor, now)         -> [command type]
    accepts(state, actor, now, command)        -> whether the decider would take it
    snapshot(state, actor, now)                -> Snapshot
    can_see(state, actor)                      -> bool

No I/O, no clock, no randomness: time and actor are arguments, event ids derive from the
agreement id and sequence number. The package imports nothing of Temporal or the services.

    errors          the refusals (DomainError and its kinds)
    reading         questions about the state: procedure, step, phase, parties, drafts
    access          who may send each command (PERMISSIONS), who sees an agreement, OWED
    plan            goals, obligations and the action plan: their rules, the hash a draft binds,
                    what a revision may change (the rest needs an addendum)
    events          one payload model per event type (EVENT_PAYLOADS)
    evolve          applying an event to the state
    emitter         building a command's events, and the moves handlers share
    create          creating and importing an agreement; the party rules
    progress        the implementation's health, an evaluation period's summary, the plan's read
    handlers/       what each command does, per family of phases
    plan_time       what time brings to the action plan (notices that `schedule` adds)
    schedule        what time brings: notices, next_wakeup, the tick
    commands        TRANSITIONS and HANDLERS: what each phase accepts, what each command does
    views           allowed and owed actions, step view, snapshot, who is awaited
    deciding        decide, and its version check

Each module imports only those above it in this list (no import cycles, no imports inside
functions: inside Temporal's sandbox a late import would load a second copy of a module).
Everything callers use is imported from here (`from workflows import lifecycle as L`).
"""

from workflows.lifecycle.access import (
    OWED,
    PERMISSIONS,
    can_see,
    check_importer,
    check_may_import,
    ministry_can_see,
    seen_without_the_ministry_gate,
    sees_every_agreement,
    sees_without_the_ministry_gate,
)
from workflows.lifecycle.bounds import STATE_BUDGET_BYTES, AgreementTooLarge, state_size
from workflows.lifecycle.commands import HANDLERS, TRANSITIONS
from workflows.lifecycle.create import check_proposal, create, import_agreement
from workflows.lifecycle.deciding import Decision, check_version, decide, decided
from workflows.lifecycle.errors import (
    DomainError,
    InvalidProposal,
    InvalidTransition,
    NotAllowed,
    NothingDue,
    StaleVersion,
)
from workflows.lifecycle.events import EVENT_NAMESPACE, EVENT_PAYLOADS, event_payload
from workflows.lifecycle.evolve import evolve
from workflows.lifecycle.handlers.implementation import extensions_at_bound
from workflows.lifecycle.handlers.party_settings import (
    settings_version_alone,
    settings_version_alone_after_new_values,
)
from workflows.lifecycle.plan import plan_hash, state_plan_hash
from workflows.lifecycle.progress import action_plan, health, open_period, period_summary
from workflows.lifecycle.reading import (
    active_index,
    active_procedure,
    agreed_draft,
    calendar_of,
    counts_behind_edition,
    current_step,
    gate_slots_for,
    initiator,
    initiator_calendar,
    latest_draft,
    notices_calendar,
    open_evaluation,
    open_evaluations,
    open_slots,
    party_orgs,
    phase,
    procedure_of,
    public_documents,
    publication_of,
    scope_of,
    signed_documents,
    stage_for,
    step_by_key,
    zone,
)
from workflows.lifecycle.schedule import STEP_DEADLINE_DAYS, due_notices, end_date_set_at, next_wakeup, notices
from workflows.lifecycle.views import (
    accepts,
    allowed_actions,
    awaited,
    candidate_commands,
    owed_actions,
    snapshot,
    step_view,
)

__all__ = [
    # events
    "EVENT_NAMESPACE",
    "EVENT_PAYLOADS",
    "HANDLERS",
    "OWED",
    # who may do what, who sees what
    "PERMISSIONS",
    "STATE_BUDGET_BYTES",
    # time
    "STEP_DEADLINE_DAYS",
    "TRANSITIONS",
    "AgreementTooLarge",
    "Decision",
    # errors
    "DomainError",
    "InvalidProposal",
    "InvalidTransition",
    "NotAllowed",
    "NothingDue",
    "StaleVersion",
    "accepts",
    "action_plan",
    "active_index",
    "active_procedure",
    "agreed_draft",
    "allowed_actions",
    "awaited",
    "calendar_of",
    "can_see",
    # views
    "candidate_commands",
    "check_importer",
    "check_may_import",
    "check_proposal",
    "check_version",
    "counts_behind_edition",
    # creating and deciding
    "create",
    "current_step",
    "decide",
    "decided",
    "due_notices",
    "end_date_set_at",
    "event_payload",
    "evolve",
    "extensions_at_bound",
    "gate_slots_for",
    "health",
    "import_agreement",
    "initiator",
    "initiator_calendar",
    "latest_draft",
    "ministry_can_see",
    "next_wakeup",
    "notices",
    "notices_calendar",
    "open_evaluation",
    "open_evaluations",
    "open_period",
    "open_slots",
    "owed_actions",
    "party_orgs",
    "period_summary",
    "phase",
    "plan_hash",
    # reading the state
    "procedure_of",
    "public_documents",
    "publication_of",
    "scope_of",
    "seen_without_the_ministry_gate",
    "sees_every_agreement",
    "sees_without_the_ministry_gate",
    "settings_version_alone",
    "settings_version_alone_after_new_values",
    "signed_documents",
    "snapshot",
    "stage_for",
    "state_plan_hash",
    "state_size",
    "step_by_key",
    "step_view",
    "zone",
]
