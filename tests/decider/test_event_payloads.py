"""Typed event payloads (`workflows.lifecycle.events`): every event type has a model, the
model reads back exactly the dict that was recorded — from saved Temporal histories, from
the decider driven by the builders and the state machines, and in the shapes older
versions of the decider wrote — and refuses keys it does not know.

Exactness matters: stored events are hash-chained and replayed; a payload that dumps to a
different dict (a key added, dropped or reordered, a value re-serialised) would break both.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from pydantic import ValidationError

from tests import builders as b
from tests.decider import test_lifecycle_properties as props
from tests.decider.test_implementation import plan_runs
from workflows import lifecycle as L
from workflows import messages as m
from workflows.lifecycle import events as ev
from workflows.lifecycle.evolve import APPLIED_EVENT_TYPES

HISTORIES = Path(__file__).parents[1] / "histories"


def exact(event_type: str, data: dict[str, Any]) -> None:
    """`data` reads into its model and dumps back to the very same JSON (order included)."""
    payload = L.EVENT_PAYLOADS[event_type].model_validate(data)
    assert json.dumps(ev.dump_payload(payload)) == json.dumps(data), event_type


def exact_events(events: list[m.Event]) -> None:
    for event in events:
        exact(event.type, event.data)
        assert L.event_payload(event) == L.EVENT_PAYLOADS[event.type].model_validate(event.data)


# ---------------------------------------------------------------- (a) a model per type


def test_every_applied_event_type_has_a_payload_model() -> None:
    assert set(APPLIED_EVENT_TYPES) == set(L.EVENT_PAYLOADS)
    assert all(model.model_config.get("extra") == "forbid" for model in L.EVENT_PAYLOADS.values())


# ---------------------------------------------------------------- (b) exact round trips


def _payloads(node: Any) -> Iterator[Any]:
    """Every JSON value carried in a Temporal history's payloads."""
    if isinstance(node, dict):
        if isinstance(node.get("data"), str) and isinstance(node.get("metadata"), dict):
            encoding = base64.b64decode(node["metadata"].get("encoding", "")).decode()
            if encoding == "json/plain":
                yield json.loads(base64.b64decode(node["data"]))
        for value in node.values():
            yield from _payloads(value)
    elif isinstance(node, list):
        for value in node:
            yield from _payloads(value)


def _recorded_events(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if {"agreement_id", "seq", "type", "data"} <= set(value):
            yield value
        for inner in value.values():
            yield from _recorded_events(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _recorded_events(inner)


def test_events_in_saved_histories_read_back_exactly() -> None:
    found = [
        e
        for path in sorted(HISTORIES.glob("*.json"))
        for payload in _payloads(json.loads(path.read_text()))
        for e in _recorded_events(payload)
    ]
    assert len({e["type"] for e in found}) >= 8, "the saved histories carry the lifecycle's events"
    for event in found:
        exact(event["type"], event["data"])
        m.Event.model_validate(event)


def _happy_until_implementation(state: m.AgreementState) -> tuple[m.AgreementState, list[m.Event]]:
    events: list[m.Event] = []
    while state.stage != "implementation":
        state, evs = b.happy_step(state)
        events += evs
    return state, events


def _through_the_term(
    state: m.AgreementState, recommendation: str = "continue"
) -> tuple[m.AgreementState, list[m.Event]]:
    """Time passes wake-up by wake-up; the parties report on the first evaluation late
    (reminders, escalation), on the others at once, and staff conclude each."""
    events: list[m.Event] = []
    for _ in range(200):
        wake = L.next_wakeup(state)
        if wake is None or state.stage in m.TERMINAL_STAGES:
            return state, events
        state, evs = b.run(state, m.SYSTEM, m.Tick(), wake)
        events += evs
        evaluation = L.open_evaluation(state)
        if evaluation is None or (evaluation.number == 1 and not evaluation.escalated):
            continue
        now = max(wake, evaluation.due_at + timedelta(days=1)) if evaluation.final else wake
        for org in L.party_orgs(state):
            if not any(r.org == org for r in evaluation.reports):
                state, evs = b.run(
                    state,
                    b.partner(org),
                    m.SubmitEvaluationReport(
                        evaluation=evaluation.number,
                        narrative="Sesuai rencana",
                        results=[m.IndicatorResult(indicator="Puskesmas terhubung", achieved=12.5)],
                    ),
                    now,
                )
                events += evs
        if state.stage in m.TERMINAL_STAGES:
            return state, events
        state, evs = b.run(
            state,
            b.staff(),
            m.ConcludeEvaluation(evaluation=evaluation.number, score=70, recommendation=recommendation),
            now,
        )
        events += evs
    raise AssertionError("the term never ended")


def builder_runs() -> Iterator[list[m.Event]]:
    """The decider driven through every kind of event it emits."""
    for kind in b.KINDS:
        for dprd in (False, True):
            start = b.created(b.proposal_for(kind, dprd), legacy=False)
            log = L.create(b.proposal_for(kind, dprd), b.staff(), b.NOW, "agr-1")
            state, events = _happy_until_implementation(start)
            yield log + events
            yield _through_the_term(state)[1]
    # a draft edited, commented on, withdrawn
    state = b.created()
    state, edited = b.run(
        state,
        b.staff(),
        m.Edit(
            title="Kerja sama baru",
            duration_months=24,
            indicators=[m.Indicator(name="Desa", target=3, unit="desa")],
            parties=b.ksdd_proposal(True).parties,
        ),
    )
    state, commented = b.run(state, b.partner(b.REGION), m.Comment(text="Setuju"))
    yield edited + commented + b.run(state, b.staff(), m.Withdraw(reason="Batal"))[1]
    # changes requested back to draft, and back to a negotiation; a rejection
    state = b.advance(b.created(), "persiapan")
    slot = L.open_slots(state)[0]
    yield b.run(state, b.gate_actor(slot), m.Decide(gate=slot.gate, outcome="request_changes", comment="Ubah"))[1]
    state = b.advance(b.created(b.ksdd_proposal(dprd=True)), "persetujuan_dprd")
    slot = L.open_slots(state)[0]
    state, returned = b.run(
        state, b.gate_actor(slot), m.Decide(gate=slot.gate, outcome="request_changes", comment="Ubah")
    )
    yield returned
    slot = L.open_slots(b.advance(state, "persetujuan_dprd"))[0]
    yield b.run(
        b.advance(state, "persetujuan_dprd"),
        b.gate_actor(slot),
        m.Decide(gate=slot.gate, outcome="reject", comment="Tidak"),
    )[1]
    # in force: deadlines extended, an amendment, a renewal, a termination declined then approved
    state = b.implemented()
    state, opened = b.run(state, b.staff(), m.StartEvaluation())
    state, extended = b.run(state, b.staff(), m.ExtendDeadline(deadline="evaluation_report", days=5, reason="Libur"))
    yield opened + extended
    state, amended = b.run(
        state,
        b.staff(),
        m.ProposeAmendment(
            summary="Target baru",
            end_date="2031-01-01",
            evaluation_interval_months=12,
            indicators=[m.Indicator(name="Puskesmas terhubung", target=150, unit="puskesmas")],
        ),
    )
    state, step_extended = b.run(state, b.staff(), m.ExtendDeadline(days=3, reason="Rapat"))
    state, completed = b.complete_change(state)
    yield amended + step_extended + completed
    state, terminating = b.run(state, b.staff(), m.Terminate(reason="Anggaran"))
    state, declined = b.run(
        state, b.gate_actor(L.open_slots(state)[0]), m.Decide(gate="head", outcome="reject", comment="Lanjut")
    )
    state, renewed = b.run(state, b.staff(), m.Renew(duration_months=24))
    state, completed = b.complete_change(state)
    yield terminating + declined + renewed + completed
    state, refused = b.run(state, b.staff(), m.Renew(duration_months=12))
    for _ in range(5):
        slots = L.open_slots(state)
        if slots:
            state, evs = b.run(
                state, b.gate_actor(slots[0]), m.Decide(gate=slots[0].gate, outcome="reject", comment="Tidak")
            )
            refused += evs
            break
        state, evs = b.happy_step(state)
        refused += evs
    yield refused
    state, terminating = b.run(state, b.staff(), m.Terminate(reason="Selesai"))
    deciding: list[m.Event] = []
    for slot in L.open_slots(state):
        state, evs = b.run(state, b.gate_actor(slot), m.Decide(gate="head", outcome="approve"))
        deciding += evs
    yield terminating + deciding
    # the DPRD facts of a party; an addendum edited, then withdrawn; a renewal open at the end date
    state = b.created(b.ksdd_proposal(), legacy=False)
    request = m.DprdRequest(aims="a", object="o", rights_and_duties="r", benefits="b", duration_months=36)
    state, dprd = b.run(
        state, b.staff(b.REGION), m.SetDprdRequirement(burdens_public=True, budgeted_in_apbd=True, request=request)
    )
    yield dprd
    state = b.implemented(b.ksdd_proposal())
    state, opened = b.run(state, b.staff(), m.ProposeAmendment(summary="Tambah desa"))
    state, edited = b.run(state, b.staff(), m.EditChange(value=10, objectives="Lebih luas"))
    yield opened + edited + b.run(state, b.staff(), m.WithdrawChange(reason="Batal"))[1]
    state = b.implemented(b.ksdd_proposal())
    state, renewing = b.run(state, b.staff(), m.Renew(duration_months=12))
    assert state.end_date is not None
    yield renewing + _through_the_term(state)[1]
    # a region's settings changed in the register reach the agreement
    state = b.implemented(b.ksdd_proposal())
    refresh = m.RefreshPartySettings(org=b.REGION, days_off=[date(2027, 3, 1)], time_zone="Asia/Makassar")
    state, refreshed = b.run(state, m.SYSTEM, refresh)
    # ... and since trust16 with the register's version they were read at
    versioned = m.RefreshPartySettings(org=b.REGION, time_zone="Asia/Jakarta", as_of=b.NOW - timedelta(days=1))
    yield refreshed + b.run(state, m.SYSTEM, versioned)[1]
    # ... and move a running gate's due date (`deadline_recounted`)
    state, _ = b.run(b.created(legacy=False), b.staff(), m.Submit())
    day_off = (b.NOW + timedelta(days=3)).date()
    yield b.run(state, m.SYSTEM, m.RefreshPartySettings(org=b.INITIATOR, days_off=[day_off], recount=True))[1]
    # published with a signed text, republished, taken back (#12)
    state = b.implemented(b.ksdd_proposal())
    state, published = b.run(state, b.staff(), m.Publish(documents=[state.signatures[0].document]))
    state, republished = b.run(state, b.staff(), m.Publish())
    yield published + republished + b.run(state, b.staff(), m.Unpublish(reason="Salah unggah"))[1]
    # evaluations that recommend expanding and stopping
    for recommendation in ("expand", "stop"):
        yield _through_the_term(b.implemented(), recommendation)[1]
    # imported agreements, in force and expired
    for signed_on, months in (("2026-06-01", 36), ("2020-01-01", 24)):
        record = m.ImportRecord(
            ref=f"PKS/{signed_on}",
            signed_on=signed_on,
            document=b.doc("scan"),
            proposal=b.ksdpk_proposal(start_date=signed_on, duration_months=months),
        )
        events = L.import_agreement(record, b.operator(), b.NOW, "agr-imported")
        yield events + _through_the_term(b.replay(events))[1]
    # the action plan: progress, measurements, obligations, revisions, meetings, time (#13)
    yield from plan_runs()


def test_events_the_decider_emits_read_back_exactly() -> None:
    seen: set[str] = set()
    for events in builder_runs():
        exact_events(events)
        seen |= {e.type for e in events}
    assert seen == set(L.EVENT_PAYLOADS), f"not exercised: {set(L.EVENT_PAYLOADS) - seen}"


class _Recorded(props.LifecycleMachine):
    def teardown(self) -> None:
        exact_events(self.log)
        super().teardown()


QUICK = settings(
    max_examples=15,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.parametrize("machine", [props.KsddMachine, props.KsdpkMachine, props.KsdplMachine, props.KsdllMachine])
def test_events_of_the_state_machines_read_back_exactly(machine: type[props.LifecycleMachine]) -> None:
    recorded = type(f"Recorded{machine.__name__}", (_Recorded, machine), {})
    test = recorded.TestCase
    test.settings = QUICK
    test("runTest").runTest()


# ---------------------------------------------------------------- older shapes


OLD_PARTIES = [
    {
        "org": "jabar",
        "name": None,
        "role": "initiator",
        "sector": "government",
        "signatory": "Gubernur",
        "foreign": False,
        "requires_dprd_approval": False,
    },
    {
        "org": "itb",
        "name": None,
        "role": "counterparty",
        "sector": "academia",
        "signatory": "Rektor",
        "foreign": False,
        "requires_dprd_approval": False,
    },
]
OLD_SHAPES: list[tuple[str, dict[str, Any]]] = [
    # the first decider: no time zones, expiry reminders or fingerprint yet
    (
        "agreement_created",
        {
            "title": "Riset pangan",
            "kind": "ksdpk",
            "objectives": "Riset.",
            "sector": "agri",
            "parties": OLD_PARTIES,
            "start_date": "2027-03-01",
            "duration_months": 24,
            "evaluation_interval_months": 6,
            "indicators": [],
            "value": None,
            "procedure": {"key": "ksdpk", "version": "2020.1"},
        },
    ),
    ("step_skipped", {"step": "persetujuan_dprd", "reason": "no gate holder"}),
    (
        "step_entered",
        {"step": "persiapan", "index": 0, "stage": "review", "due_at": "2027-03-15T04:05:06.123456+00:00"},
    ),
    ("draft_submitted", {"version": 1, "kind": "ksb", "document": "a" * 64, "note": None, "org": "jabar"}),
    (
        "document_signed",
        {
            "org": "jabar",
            "version": 1,
            "kind": "ksb",
            "document": "a" * 64,
            "signed_by": "Gubernur",
            "method": "electronic",
            "evidence": None,
        },
    ),
    (
        "termination_requested",
        {
            "reason": "Selesai",
            "gates": [
                {
                    "step": "pengakhiran",
                    "gate": "head",
                    "org": "jabar",
                    "status": "waiting",
                    "decided_by": None,
                    "comment": None,
                    "at": None,
                }
            ],
        },
    ),
    ("implementation_started", {"effective_date": "2027-03-01", "end_date": "2029-03-01"}),
]


@pytest.mark.parametrize("event_type,data", OLD_SHAPES, ids=[t for t, _ in OLD_SHAPES])
def test_shapes_older_deciders_wrote_read_back_exactly(event_type: str, data: dict[str, Any]) -> None:
    exact(event_type, data)


def test_an_old_agreement_still_replays() -> None:
    created = m.Event(
        id="1",
        agreement_id="agr-old",
        seq=1,
        version=1,
        type="agreement_created",
        at=b.NOW,
        actor=b.staff(),
        data=OLD_SHAPES[0][1],
    )
    state = L.evolve(None, created)
    assert state.parties[0].time_zone == "Asia/Jakarta" and state.request_fingerprint is None
    assert state.expiry_reminder_days == list(m.DEFAULT_EXPIRY_REMINDER_DAYS)
    submitted = m.Event(
        id="2",
        agreement_id="agr-old",
        seq=2,
        version=2,
        type="agreement_submitted",
        at=b.NOW,
        actor=b.staff(),
        data={
            "gates": [
                {
                    "step": "persiapan",
                    "gate": "review",
                    "org": "jabar",
                    "status": "waiting",
                    "decided_by": None,
                    "comment": None,
                    "at": None,
                }
            ]
        },
    )
    entered = m.Event(
        id="3",
        agreement_id="agr-old",
        seq=3,
        version=2,
        type="step_entered",
        at=b.NOW,
        actor=b.staff(),
        data=OLD_SHAPES[2][1],
    )
    state = L.evolve(L.evolve(state, submitted), entered)
    assert (state.stage, state.step_index, L.current_step(state).key) == ("review", 0, "persiapan")  # type: ignore[union-attr]
    assert [s.status for s in state.gates] == ["pending"]


# ---------------------------------------------------------------- (c) unknown keys


@pytest.mark.parametrize("event_type", sorted(L.EVENT_PAYLOADS))
def test_a_payload_with_an_unknown_key_is_refused(event_type: str) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        L.EVENT_PAYLOADS[event_type].model_validate({"surprise": 1})


def test_an_event_with_an_unknown_key_does_not_apply() -> None:
    state = b.created()
    comment = m.Event(
        id="x",
        agreement_id=state.id,
        seq=state.seq + 1,
        version=state.version + 1,
        type="comment_added",
        at=b.NOW,
        actor=b.staff(),
        data={"text": "Halo", "org": "jabar", "mood": "cheerful"},
    )
    with pytest.raises(ValidationError):
        L.evolve(state, comment)


def test_the_emitter_refuses_a_payload_that_breaks_its_model() -> None:
    with pytest.raises(ValidationError):
        ev.StepEntered(step="persiapan", index=0, stage="review", change=None, due_at="next tuesday")
