"""An agreement that decides nothing after a newer national edition takes effect is prompted
by the night's reconciliation, which already brings the register's settings: the prompt
records the recount of its running due date (`deadline_recounted`, "national_calendar"), and
the next night finds nothing to count again (docs/lifecycle.md, "Days of service").

Real PostgreSQL, Temporal and worker; the test-only edition enters through the registry's
seam (`national_days.EDITIONS`), which the in-process worker and API see too."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.api.stack import Stack
from tests.api.test_api_organisations import proposal
from tests.api.test_party_settings import a_working_day_ahead, events_of
from tests.workflows.test_national_days_editions import with_day_off
from workflows import national_days
from workflows.contracts import portfolio as c
from workflows.national_days import EDITIONS
from workflows.portfolio.sweep import PortfolioSweepWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def night(stack: Stack, temporal_env: Any, org: str) -> c.SweepResult:
    return await temporal_env.client.execute_workflow(
        PortfolioSweepWorkflow.run,
        c.SweepInput(reconcile=True, digests=False, orgs=[org]),
        id=f"sweep-{uuid.uuid4()}",
        task_queue=stack.settings.temporal_task_queue,
        result_type=c.SweepResult,
    )


async def test_the_nightly_reconciliation_prompts_an_asleep_agreement_to_count_its_gate_with_a_newer_edition(
    stack: Stack, temporal_env, monkeypatch
):
    region, partner = f"sulsel-{uuid.uuid4().hex[:6]}", f"unhas-{uuid.uuid4().hex[:6]}"
    staff = stack.user(region, "staff")
    agreement = await stack.create(staff, proposal(region, partner))
    submitted = await stack.act(staff, agreement["id"], {"type": "submit"})
    due = datetime.fromisoformat(submitted["deadlines"]["step"])
    # A decree takes a day of the review's window off, in an edition in force a second later.
    decreed = a_working_day_ahead(3)
    assert decreed < due.date()
    effective = datetime.now(UTC) + timedelta(seconds=1)
    monkeypatch.setattr(national_days, "EDITIONS", (EDITIONS[0], with_day_off(EDITIONS[0], 2, effective, decreed)))
    await asyncio.sleep(max((effective - datetime.now(UTC)).total_seconds(), 0) + 0.5)

    await night(stack, temporal_env, region)

    recounted = [e for e in await events_of(stack, agreement["id"]) if e["type"] == "deadline_recounted"]
    assert [(e["actor"]["sub"], e["data"]["reason"], e["data"]["edition"]) for e in recounted] == [
        ("system", "national_calendar", 2)
    ]
    assert recounted[0]["data"]["previous_due_at"] == due.isoformat()
    moved = datetime.fromisoformat(recounted[0]["data"]["due_at"])
    assert moved > due
    snapshot = await stack.snapshot(staff, agreement["id"])
    assert datetime.fromisoformat(snapshot["deadlines"]["step"]) == moved

    # The next night finds the date counted with the edition in force: nothing to record.
    count = len(await events_of(stack, agreement["id"]))
    result = await night(stack, temporal_env, region)
    assert len(await events_of(stack, agreement["id"])) == count
    assert [d for d in result.discrepancies if d.agreement_id == agreement["id"]] == []


def prompts(outcome: str) -> float:
    return REGISTRY.get_sample_value("pakta_edition_recount_prompts_total", {"outcome": outcome}) or 0.0


async def test_a_newer_edition_that_moves_no_running_date_is_not_sent_to_the_agreement_at_night(
    stack: Stack, temporal_env, monkeypatch
):
    region, partner = f"sulsel-{uuid.uuid4().hex[:6]}", f"unhas-{uuid.uuid4().hex[:6]}"
    staff = stack.user(region, "staff")
    agreement = await stack.create(staff, proposal(region, partner))
    submitted = await stack.act(staff, agreement["id"], {"type": "submit"})
    due = datetime.fromisoformat(submitted["deadlines"]["step"])
    # The decree's day off falls after the review's window: the date stays where it is.
    decreed = a_working_day_ahead(40)
    assert decreed > due.date()
    effective = datetime.now(UTC) + timedelta(seconds=1)
    monkeypatch.setattr(national_days, "EDITIONS", (EDITIONS[0], with_day_off(EDITIONS[0], 2, effective, decreed)))
    await asyncio.sleep(max((effective - datetime.now(UTC)).total_seconds(), 0) + 0.5)
    count = len(await events_of(stack, agreement["id"]))
    before = {outcome: prompts(outcome) for outcome in ("nothing_to_move", "unchanged", "sent")}

    result = await night(stack, temporal_env, region)

    # Asked of the decider on the state the night queried anyway, not of the workflow: an
    # Update it would refuse, every night until the step moves on.
    assert prompts("nothing_to_move") == before["nothing_to_move"] + 1
    assert prompts("unchanged") == before["unchanged"]
    assert prompts("sent") == before["sent"]
    assert len(await events_of(stack, agreement["id"])) == count
    assert [d for d in result.discrepancies if d.agreement_id == agreement["id"]] == []
