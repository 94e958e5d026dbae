"""The snapshot is built without `model_construct`'s walk over its 47 fields
(`views._constructed_snapshot`): what it builds must be what `model_construct` builds of
the same values — the same model, fields in the same order, the same fields set, the same
JSON byte for byte — for every state of the bench's procedure and every kind of caller."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bench.decider import states
from bench.procedure import Pair
from workflows import lifecycle as L
from workflows import messages as m
from workflows.lifecycle import views

_PAIR = Pair("kab-bandung", "kota-cimahi")
_CALLERS = (
    m.Actor(sub="staff@kab-bandung", org="kab-bandung", roles=["staff"]),
    m.Actor(sub="signatory@kota-cimahi", org="kota-cimahi", roles=["signatory", "staff"]),
    m.Actor(sub="approver@kemendagri", org="kemendagri", roles=["approver"], gates=["ministry"]),
    m.Actor(sub="auditor@bpk", org="bpk", roles=["auditor"]),
)
_STATES = list(states(_PAIR, "agr-construction"))


def _as_model_construct_builds(snapshot: m.Snapshot) -> m.Snapshot:
    return m.Snapshot.model_construct(**dict(snapshot))


@pytest.mark.parametrize("caller", _CALLERS, ids=lambda a: a.sub)
@pytest.mark.parametrize("later", [timedelta(0), timedelta(days=400)], ids=["now", "a year on"])
def test_a_snapshot_is_the_model_model_construct_builds_of_the_same_values_and_writes_the_same_json(
    caller: m.Actor, later: timedelta
):
    for state in _STATES:
        now = datetime(2026, 12, 3, 9, tzinfo=UTC) + later
        built = L.snapshot(state, caller, now)
        constructed = _as_model_construct_builds(built)
        assert type(built) is m.Snapshot
        assert list(built.__dict__) == list(constructed.__dict__) == list(m.Snapshot.model_fields)
        assert built.model_fields_set == constructed.model_fields_set == set(m.Snapshot.model_fields)
        assert (built.__pydantic_extra__, built.__pydantic_private__) == (None, None)
        assert built == constructed
        assert built.model_dump_json() == constructed.model_dump_json()
        assert built.model_dump() == constructed.model_dump()
        written = built.model_dump_json()
        assert m.Snapshot.model_validate_json(written).model_dump_json() == written


def test_values_that_do_not_name_every_field_are_left_to_model_construct_which_fills_the_defaults():
    full = dict(L.snapshot(_STATES[-1], _CALLERS[0], datetime(2026, 12, 3, tzinfo=UTC)))
    short = {k: v for k, v in full.items() if k not in ("goals", "plan_hash", "period")}
    built = views._constructed_snapshot(short)
    assert built == m.Snapshot.model_construct(**short)
    assert (built.goals, built.plan_hash, built.period) == ([], None, None)
    assert built.model_fields_set == set(short)
    extra = views._constructed_snapshot({**full, "not_a_field": 1})
    assert "not_a_field" not in extra.__dict__ and extra == m.Snapshot.model_construct(**full)


def _calls(work: Any) -> int:
    counted = 0

    def count(frame: Any, event: str, arg: Any) -> None:
        nonlocal counted
        if event in ("call", "c_call"):
            counted += 1

    sys.setprofile(count)
    try:
        work()
    finally:
        sys.setprofile(None)
    return counted


def test_building_a_snapshot_of_its_values_takes_a_handful_of_calls_not_a_walk_over_its_fields():
    values = dict(L.snapshot(_STATES[-1], _CALLERS[0], datetime(2026, 12, 3, tzinfo=UTC)))
    assert _calls(lambda: m.Snapshot.model_construct(**values)) >= 2 * len(values)  # the walk: two a field
    assert _calls(lambda: views._constructed_snapshot(values)) <= 12


def _changes_and_terminations() -> list[m.AgreementState]:
    """States whose running step is an amendment's or renewal's, or a termination's."""
    from tests import builders as b

    found = []
    for command in (m.ProposeAmendment(summary="Tambah desa"), m.Renew(duration_months=12)):
        state, _ = b.run(b.implemented(), b.staff(), command)
        for _ in range(20):
            found.append(state)
            if state.change is None:
                break
            state, _ = b.happy_step(state)
    terminating, _ = b.run(b.implemented(), b.staff(), m.Terminate(reason="Tidak bermanfaat"))
    return [*found, terminating]


def test_the_running_step_read_in_one_call_is_the_active_procedures_step_at_the_active_index():
    from workflows.lifecycle import reading

    in_question = [*_STATES, *_changes_and_terminations()]
    assert any(s.change is not None for s in in_question) and any(s.termination is not None for s in in_question)
    for state in in_question:
        index = reading.active_index(state)
        expected = (
            reading.TERMINATION_STEP
            if state.termination is not None
            else None
            if index is None
            else reading.active_procedure(state).step(index)
        )
        assert reading.current_step(state) is expected
        ref = state.change.procedure if state.change is not None else state.procedure
        assert reading.active_procedure(state) is reading.get_procedure(ref.key, ref.version)


def test_a_snapshot_of_the_bench_procedures_states_costs_under_300_python_calls_on_average():
    # 499 before the snapshot was built without `model_construct`'s walk (≈ 135), the
    # running step read in one call (≈ 55) and the representatives built once chosen once
    # per phase (≈ 25): a count, stable on a shared machine where times are not.
    now = datetime(2026, 12, 3, 9, tzinfo=UTC)
    calls = sum(_calls(lambda s=state: L.snapshot(s, _CALLERS[0], now)) for state in _STATES)
    assert calls / len(_STATES) < 300
