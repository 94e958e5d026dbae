"""Builders for the decider's tests (and any other test that needs an agreement).

Proposals per kind, actors per role, and small drivers:

    state = created(ksdd_proposal(dprd=True))
    state, events = run(state, staff("jabar"), m.Submit())
    state = advance(state, until="penyusunan_pks")     # happy path up to a step (or a stage)

Everything here is pure: no database, no Temporal. Organisations used by default:
`jabar` (the initiating province), `jateng` (a second region), `itb` (a university),
`wa-state` (a foreign regional government), `jica` (a foreign institution), `kemendagri`
(the ministry), `outsider` (party to nothing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from workflows import lifecycle as L
from workflows import messages as m

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
INITIATOR = "jabar"
REGION = "jateng"
THIRD_PARTY = "itb"
FOREIGN_GOV = "wa-state"
FOREIGN_INST = "jica"
MINISTRY = "kemendagri"
OUTSIDER = "outsider"
KINDS: tuple[str, ...] = ("ksdd", "ksdpk", "ksdpl", "ksdll")


# ---------------------------------------------------------------- documents


def doc(label: object) -> str:
    """A document hash (what `POST /documents` returns) for any label."""
    return hashlib.sha256(str(label).encode()).hexdigest()


# ---------------------------------------------------------------- proposals


def party(
    org: str,
    role: str = "counterparty",
    *,
    sector: str = "government",
    foreign: bool = False,
    dprd: bool = False,
    signatory: str | None = None,
) -> m.Party:
    return m.Party(
        org=org,
        role=role,
        sector=sector,
        foreign=foreign,
        requires_dprd_approval=dprd,
        signatory=signatory or f"Head of {org}",
    )


def _dprd_orgs(dprd: bool | Iterable[str], eligible: Iterable[str]) -> set[str]:
    """`dprd=True`: every Indonesian government party; an iterable: just those orgs."""
    if dprd is True:
        return set(eligible)
    if dprd is False or dprd is None:
        return set()
    return set(dprd)  # type: ignore[arg-type]


def proposal(parties: list[m.Party], kind: str, **overrides: Any) -> m.Proposal:
    fields: dict[str, Any] = dict(
        title=f"Kerja sama {kind} kesehatan",
        kind=kind,
        objectives="Berbagi data kesehatan",
        sector="health",
        parties=parties,
        start_date="2027-01-01",
        duration_months=36,
        evaluation_interval_months=6,
        indicators=[{"name": "Puskesmas terhubung", "target": 100, "unit": "puskesmas"}],
        value=1_500_000_000,
    )
    fields.update(overrides)
    return m.Proposal.model_validate(fields)


def ksdd_proposal(
    dprd: bool | Iterable[str] = False, *, counterparties: Iterable[str] = (REGION,), **overrides: Any
) -> m.Proposal:
    orgs = [INITIATOR, *counterparties]
    needs = _dprd_orgs(dprd, orgs)
    parties = [party(INITIATOR, "initiator", dprd=INITIATOR in needs)]
    parties += [party(o, dprd=o in needs) for o in counterparties]
    return proposal(parties, "ksdd", **overrides)


def ksdpk_proposal(
    dprd: bool = False, *, sector: str = "academia", counterparty: str = THIRD_PARTY, **overrides: Any
) -> m.Proposal:
    parties = [party(INITIATOR, "initiator", dprd=bool(dprd)), party(counterparty, sector=sector)]
    return proposal(parties, "ksdpk", **overrides)


def ksdpl_proposal(dprd: bool = False, *, counterparty: str = FOREIGN_GOV, **overrides: Any) -> m.Proposal:
    parties = [party(INITIATOR, "initiator", dprd=bool(dprd)), party(counterparty, foreign=True, signatory="Governor")]
    return proposal(parties, "ksdpl", **overrides)


def ksdll_proposal(
    dprd: bool = False, *, sector: str = "industry", counterparty: str = FOREIGN_INST, **overrides: Any
) -> m.Proposal:
    parties = [
        party(INITIATOR, "initiator", dprd=bool(dprd)),
        party(counterparty, sector=sector, foreign=True, signatory="President"),
    ]
    return proposal(parties, "ksdll", **overrides)


def proposal_for(kind: str, dprd: bool = False, **overrides: Any) -> m.Proposal:
    return {"ksdd": ksdd_proposal, "ksdpk": ksdpk_proposal, "ksdpl": ksdpl_proposal, "ksdll": ksdll_proposal}[kind](
        dprd, **overrides
    )


# ---------------------------------------------------------------- actors


def staff(org: str = INITIATOR, sub: str | None = None) -> m.Actor:
    return m.Actor(sub=sub or f"staff@{org}", org=org, roles=["staff"])


def partner(org: str, sub: str | None = None) -> m.Actor:
    return m.Actor(sub=sub or f"partner@{org}", org=org, roles=["partner"])


def approver(org: str, *gates: str, sub: str | None = None) -> m.Actor:
    return m.Actor(
        sub=sub or f"approver-{'-'.join(gates) or 'none'}@{org}", org=org, roles=["approver"], gates=list(gates)
    )


def ministry_approver(org: str = MINISTRY) -> m.Actor:
    return approver(org, "ministry")


def signatory(org: str, sub: str | None = None) -> m.Actor:
    return m.Actor(sub=sub or f"signatory@{org}", org=org, roles=["signatory"])


def admin(org: str = "pakta") -> m.Actor:
    return m.Actor(sub=f"admin@{org}", org=org, roles=["admin"])


def auditor(org: str = "bpk") -> m.Actor:
    return m.Actor(sub=f"auditor@{org}", org=org, roles=["auditor"])


# ---------------------------------------------------------------- driving the decider


def created(
    prop: m.Proposal | None = None,
    actor: m.Actor | None = None,
    now: datetime = NOW,
    agreement_id: str = "agr-1",
    *,
    legacy: bool = True,
) -> m.AgreementState:
    """A created agreement. `legacy` (the default of the tests written before 2026): as
    created before office-day deadlines and procedure 2026.1 — the rules running agreements
    keep; `legacy=False`: as created today."""
    prop = prop or ksdd_proposal()
    actor = actor or staff(next(p.org for p in prop.parties if p.role == "initiator"))
    events = L.create(prop, actor, now, agreement_id)
    return replay([as_created_before_2026(events[0])] if legacy else events)


def as_created_before_2026(event: m.Event) -> m.Event:
    """`agreement_created` as the decider recorded it before 2026: procedure 2020.1 and no
    `calendar` (deadlines in calendar days at 09:00)."""
    data = dict(event.data)
    data["procedure"] = {"key": data["kind"], "version": "2020.1"}
    data.pop("calendar", None)
    return event.model_copy(update={"data": data})


def operator(org: str = "pakta") -> m.Actor:
    """The platform-wide operator (support, import for any organisation)."""
    return m.Actor(sub=f"operator@{org}", org=org, roles=["operator"])


def replay(events: Iterable[m.Event], state: m.AgreementState | None = None) -> m.AgreementState:
    """The state after `events`; every step checks that evolving left the state it was
    given as it was (evolve shares what an event does not change)."""
    for event in events:
        before = state.model_dump() if state is not None else None
        new = L.evolve(state, event)
        assert state is None or state.model_dump() == before, f"evolving {event.type} changed the state it was given"
        state = new
    assert state is not None
    return state


def run(
    state: m.AgreementState, actor: m.Actor, command: Any, now: datetime = NOW, expected_version: int | None = None
) -> tuple[m.AgreementState, list[m.Event]]:
    """Decide and evolve: the new state and the events the command produced (deciding
    leaves the state it was given as it was, as `replay` does)."""
    before = state.model_dump()
    events = L.decide(state, command, actor, now, expected_version)
    assert state.model_dump() == before, f"deciding {command.type} changed the state it was given"
    return replay(events, state), events


def types(events: Iterable[m.Event]) -> list[str]:
    return [e.type for e in events]


def step_key(state: m.AgreementState) -> str | None:
    step = L.current_step(state)
    return step.key if step is not None and state.stage not in m.TERMINAL_STAGES else None


def gate_actor(slot: m.GateSlot) -> m.Actor:
    """The approver who decides `slot`."""
    return ministry_approver() if slot.org is None else approver(slot.org, slot.gate)


def happy_step(
    state: m.AgreementState, now: datetime = NOW, label: object = None
) -> tuple[m.AgreementState, list[m.Event]]:
    """One step forward on the happy path (draft → submit, negotiation → agree on a new
    version, gate → approve every pending slot, signing → every party signs), in the
    agreement's own procedure or in its amendment or renewal."""
    lead = L.initiator(state).org
    current = L.phase(state).removeprefix("change_")
    events: list[m.Event] = []
    if current == "draft":
        return run(state, staff(lead), m.Submit(), now)
    if current == "negotiation":
        version = max((d.version for d in state.drafts), default=0) + 1
        state, evs = run(state, staff(lead), m.SubmitDraft(document=doc(label or f"v{version}")), now)
        events += evs
        for org in L.party_orgs(state):
            if (
                org != lead
                and L.phase(state).endswith("negotiation")
                and L.latest_draft(state, L.current_step(state).document).version == version
            ):
                state, evs = run(state, partner(org), m.AcceptDraft(version=version), now)
                events += evs
        return state, events
    if current in ("gate", "termination"):
        for slot in L.open_slots(state):
            state, evs = run(state, gate_actor(slot), m.Decide(gate=slot.gate, outcome="approve"), now)
            events += evs
        return state, events
    if current == "signing":
        step = L.current_step(state)
        agreed = L.agreed_draft(state, step.document)
        signed = {s.org for s in state.signatures if s.version == agreed.version}
        for org in L.party_orgs(state):
            if not L.phase(state).endswith("signing"):
                break
            if org in signed:
                continue
            state, evs = run(state, signatory(org), m.Sign(version=agreed.version, method="electronic"), now)
            events += evs
        return state, events
    raise AssertionError(f"no happy step from {state.stage}")


def complete_change(state: m.AgreementState, now: datetime = NOW) -> tuple[m.AgreementState, list[m.Event]]:
    """Negotiate, approve and sign the open amendment or renewal."""
    events: list[m.Event] = []
    for _ in range(20):
        if state.change is None or state.termination is not None:
            return state, events
        state, evs = happy_step(state, now)
        events += evs
    raise AssertionError(f"the change never completed; stuck at {step_key(state)}")


def advance(state: m.AgreementState, until: str, now: datetime = NOW) -> m.AgreementState:
    """Follow the happy path until the current step's key (or the stage) is `until`."""
    for _ in range(50):
        if step_key(state) == until or state.stage == until:
            return state
        state, _events = happy_step(state, now)
    raise AssertionError(f"never reached {until!r}; stuck at {state.stage}/{step_key(state)}")


def implemented(prop: m.Proposal | None = None, now: datetime = NOW) -> m.AgreementState:
    return advance(created(prop, now=now), "implementation", now)


def submitted(prop: m.Proposal | None = None) -> m.AgreementState:
    """A proposal (a KSDD by default) created and submitted by the initiator's staff."""
    state, _ = run(created(prop or ksdd_proposal()), staff(), m.Submit())
    return state


# ---------------------------------------------------------------- the action plan (#13)

RPJMD_TARGET = {"scheme": "regional", "code": "RPJMD-3.2", "text": "Meningkatnya cakupan layanan kesehatan"}


def obligation(id_: str, org: str, due_on: str, kind: str = "data", **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": id_,
        "party": org,
        "kind": kind,
        "description": f"{kind} dari {org}",
        "due_on": due_on,
    }
    if kind == "funds":
        fields.update(amount=500_000_000, source="apbd")
    fields.update(overrides)
    return fields


def activity(id_: str, org: str, starts_on: str, ends_on: str, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": id_,
        "name": f"Kegiatan {id_}",
        "party": org,
        "responsible": "Kepala Dinas Kesehatan",
        "starts_on": starts_on,
        "ends_on": ends_on,
        "deliverables": [f"Laporan {id_}"],
        "indicators": ["Puskesmas terhubung"],
        "budget": [{"party": org, "amount": 100_000_000}],
        "milestones": ["Desain", "Uji coba"],
    }
    fields.update(overrides)
    return fields


def plan_fields() -> dict[str, Any]:
    """Goals, obligations and an action plan for a KSDD between INITIATOR and REGION that
    starts 2027-01-01 for 36 months."""
    return {
        "goals": [{"scheme": "sdg", "code": "3.8"}, {"scheme": "sdg", "code": "3"}, RPJMD_TARGET],
        "obligations": [
            obligation("O1", INITIATOR, "2027-06-30", kind="funds"),
            obligation("O2", REGION, "2027-03-31"),
            obligation("O3", REGION, "2028-01-31", kind="staff"),
        ],
        "activities": [
            activity("A1", INITIATOR, "2027-02-01", "2027-12-31"),
            activity("A2", REGION, "2027-06-01", "2028-06-30", budget=[{"party": REGION, "amount": 50_000_000}]),
        ],
    }


def planned_proposal(**overrides: Any) -> m.Proposal:
    """A KSDD carrying development goals, obligations and an action plan."""
    return ksdd_proposal(**{**plan_fields(), **overrides})
