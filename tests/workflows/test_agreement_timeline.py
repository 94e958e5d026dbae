"""An agreement lives five years in seconds on the time-skipping test server: ten periodic
evaluations, one late report that escalates, an amendment, a renewal, and expiry — with
the snapshot and the read model checked along the way."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from tests.readmodel import events_of, row
from tests.workflows.test_agreement_workflow import (
    PARTNER,
    REVIEW,
    SIGN_JABAR,
    SIGN_UNPAD,
    STAFF,
    act,
    drive_to_implementation,
    start,
)
from workflows import lifecycle
from workflows import messages as m
from workflows.agreement import AgreementWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")
INDICATOR = "Petani didampingi"


async def state_of(handle) -> m.AgreementState:
    if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
        try:
            return await handle.query(AgreementWorkflow.state, rpc_timeout=timedelta(seconds=5))
        except RPCError:
            pass  # it completed between the two calls; the test server then lets queries hang
    # A closed agreement's workflow has completed with its final state.
    return await handle._client.get_workflow_handle_for(AgreementWorkflow.run, handle.id).result()


async def sleep_until(env, handle, predicate, *, limit=200):
    """Skip time to each wake-up the decider plans until the state satisfies `predicate`."""
    for _ in range(limit):
        state = await state_of(handle)
        if predicate(state):
            return state
        wake = lifecycle.next_wakeup(state)
        assert wake is not None, "nothing more will happen"
        now = await env.get_current_time()
        await env.sleep(max(wake - now, timedelta(0)) + timedelta(seconds=1))
    raise AssertionError("the agreement never got there")


async def report_and_conclude(handle, number, recommendation="continue"):
    await act(
        handle,
        STAFF,
        m.SubmitEvaluationReport(
            evaluation=number,
            narrative=f"Laporan monev {number}",
            results=[m.IndicatorResult(indicator=INDICATOR, achieved=40 * number)],
        ),
    )
    await act(handle, PARTNER, m.SubmitEvaluationReport(evaluation=number, narrative="Sesuai rencana."))
    return await act(
        handle,
        STAFF,
        m.ConcludeEvaluation(evaluation=number, score=80, recommendation=recommendation, summary="Dilanjutkan."),
    )


async def sign_change(handle, document: str, gates: list[str]) -> m.Snapshot:
    snapshot = await act(handle, STAFF, m.SubmitDraft(document=document))
    version = snapshot.drafts[-1].version
    await act(handle, PARTNER, m.AcceptDraft(version=version))
    for gate in gates:
        await act(handle, REVIEW, m.Decide(gate=gate, outcome="approve"))
    await act(handle, SIGN_JABAR, m.Sign(version=version, method="electronic"))
    return await act(handle, SIGN_UNPAD, m.Sign(version=version, method="electronic"))


async def test_five_years_of_life(env, task_queue, sessionmaker):
    handle, created = await start(env.client, task_queue)
    final = await drive_to_implementation(handle)
    assert final.stage == "implementation"
    effective, end = final.effective_date, final.end_date
    assert (end.year - effective.year) * 12 + end.month - effective.month == 24
    assert final.next_evaluation_at is not None

    concluded = 0
    for number in range(1, 10):  # nine periodic evaluations, the tenth is the final one
        state = await sleep_until(env, handle, lambda s, number=number: s.evaluations_opened >= number)
        evaluation = state.evaluations[-1]
        assert evaluation.number == number and not evaluation.final
        assert state.deadlines["evaluation_report"] == evaluation.due_at
        record = await row(sessionmaker, created.id)
        assert record.state.evaluations_opened == number and record.next_deadline_at == evaluation.due_at

        if number == 3:  # a late report: reminders, then escalation after the due date
            state = await sleep_until(env, handle, lambda s: s.evaluations[-1].escalated)
            events = [e.type for e in await events_of(sessionmaker, created.id)]
            assert events.count("evaluation_reminder") >= 2 and "evaluation_escalated" in events
        if number == 4:  # an addendum while in force: interval and indicators change
            await act(
                handle,
                STAFF,
                m.ProposeAmendment(
                    summary="Tambah indikator",
                    evaluation_interval_months=6,
                    indicators=[m.Indicator(name=INDICATOR, target=300, unit="orang")],
                ),
            )
            snap = await sign_change(handle, "a" * 64, ["legal"])
            assert snap.amendments[-1].kind == "amendment" and snap.indicators[0].target == 300
        if number == 2:  # renew early for three more years
            await act(handle, STAFF, m.Renew(duration_months=36, note="Perpanjangan tiga tahun"))
            snap = await sign_change(handle, "b" * 64, ["legal"])
            assert snap.end_date == date(end.year + 3, end.month, end.day)
            assert (await row(sessionmaker, created.id)).end_date == snap.end_date
        snap = await report_and_conclude(handle, number)
        assert snap.evaluations[-1].recommendation == "continue"
        if number == 3:
            assert any(r.late for r in snap.evaluations[-1].reports)
        concluded += 1

    # The end of the (renewed) term: reminders, a final evaluation, then expiry.
    state = await sleep_until(env, handle, lambda s: any(e.final for e in s.evaluations))
    final_eval = next(e for e in state.evaluations if e.final)
    events = [e.type for e in await events_of(sessionmaker, created.id)]
    assert events.count("expiry_reminder") == 5 and final_eval.number == 10
    snap = await report_and_conclude(handle, final_eval.number, recommendation="continue")
    assert snap.stage == "expired" and snap.allowed_actions == []
    assert (await row(sessionmaker, created.id)).stage == "expired"
    assert concluded == 9 and len(snap.evaluations) == 10


async def test_stop_recommendation_opens_termination(env, task_queue, sessionmaker):
    handle, _created = await start(env.client, task_queue)
    await drive_to_implementation(handle)
    # no evaluation before the effective date (issue #10): the first scheduled one
    await sleep_until(env, handle, lambda s: s.evaluations_opened >= 1)
    snap = await report_and_conclude(handle, 1, recommendation="stop")
    assert snap.termination is not None and snap.step.key == "pengakhiran"
    assert any(g.gate == "head" and g.status == "pending" for g in snap.gates)
    snap = await act(handle, REVIEW, m.Decide(gate="head", outcome="approve"))
    assert snap.stage == "terminated"


async def test_final_evaluation_without_conclusion_expires_after_its_due_date(env, task_queue, sessionmaker):
    handle, _created = await start(env.client, task_queue)
    await drive_to_implementation(handle)
    state = await sleep_until(env, handle, lambda s: s.stage == "expired")
    assert state.evaluations[-1].final and state.evaluations[-1].concluded_at is None
    # Unanswered evaluations escalated on the way.
    assert all(e.escalated for e in state.evaluations if not e.final)
