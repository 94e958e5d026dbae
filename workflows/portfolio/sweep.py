"""PortfolioSweepWorkflow: reconcile the read model with the agreement workflows, and send
each organisation its digest at office hours in its own zone.

Started every hour by the Temporal Schedule `pakta-portfolio-sweep` (which the worker
keeps in place at start-up). Each run:

1. **reconciles** — in the run whose time falls in `RECONCILE_UTC_HOUR` (once a day, at
   night everywhere in Indonesia), or when asked: pages over the open rows of the read
   model (`reconcile_rows`), then over the running agreement workflows
   (`reconcile_workflows`, for workflows without a row). Activities re-project stale
   rows from the workflow's state and report the rest; they never write events. A party
   whose days off or zone differ from its organisation's settings is sent them as the
   system's `refresh_party_settings`, which its agreement's workflow decides and records.
2. **sends digests** — pages over the organisations party to open agreements
   (`plan_digests`); those whose local time is in the digest window (08:00 until 17:00,
   so a missed run is caught up the same office day) and that have not had today's digest
   get one, delivered by an abandoned `DigestWorkflow` (`digest_workflow.py`) whose id is
   the digest's event id `digest-<org>-<day>`: a second start the same day is refused by Temporal, and the
   deliveries log makes each inbox entry and email happen once besides.

Work is paged (`page_size` agreements or organisations per activity) and the workflow
continues as new after `pages_per_run` pages, carrying its progress and its reference
time, so tens of thousands of agreements keep the history short.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import portfolio as c
    from workflows.notify.rules import Notification

Result = TypeVar("Result", bound=BaseModel)


@workflow.defn(name=c.PORTFOLIO_SWEEP_WORKFLOW)
class PortfolioSweepWorkflow:
    def __init__(self) -> None:
        self._progress: c.SweepInput | None = None

    @workflow.run
    async def run(self, input: c.SweepInput) -> c.SweepResult:
        at = input.at or workflow.now()
        reconcile = input.reconcile if input.reconcile is not None else at.hour == c.RECONCILE_UTC_HOUR
        p = input.model_copy(update={"at": at, "reconcile": reconcile}, deep=True)
        if p.phase in ("rows", "workflows") and not reconcile:
            p.phase = "digests"
        if p.phase == "digests" and not p.digests:
            p.phase = "done"
        self._progress = p
        pages = 0
        while p.phase != "done":
            if pages >= p.pages_per_run or workflow.info().is_continue_as_new_suggested():
                workflow.logger.info("portfolio sweep continues as new in phase %s", p.phase)
                workflow.continue_as_new(p)
            pages += 1
            p.totals.pages += 1
            if p.phase in ("rows", "workflows"):
                try:
                    await self._reconcile_page(p)
                except ActivityError as error:
                    # Out of retries (database or visibility down for long): the digests
                    # still go out; the next day's reconciliation starts afresh.
                    workflow.logger.error("portfolio reconciliation abandoned in phase %s: %s", p.phase, error.cause)
                    p.totals.by_kind["reconcile_failed"] = p.totals.by_kind.get("reconcile_failed", 0) + 1
                    p.phase = "digests" if p.digests else "done"
            else:
                plan = await self._activity(
                    c.PLAN_DIGESTS,
                    c.PlanDigestsInput(
                        at=at,
                        after_org=p.after_org,
                        limit=p.page_size,
                        orgs=p.orgs,
                        digest_hour=p.digest_hour,
                        digest_until_hour=p.digest_until_hour,
                    ),
                    c.PlanDigestsResult,
                )
                p.totals.digests_empty += plan.empty
                p.totals.digests_already_sent += plan.already_sent
                await asyncio.gather(*(self._send(note, p.totals) for note in plan.digests))
                p.after_org = plan.after_org
                if plan.after_org is None:
                    p.phase = "done"
        t = p.totals
        workflow.logger.info(
            "portfolio sweep done: checked=%d repaired=%d discrepancies=%d digests sent=%d empty=%d already=%d",
            t.checked,
            t.repaired,
            t.discrepancies,
            t.digests_sent,
            t.digests_empty,
            t.digests_already_sent,
        )
        return c.SweepResult(at=at, reconciled=reconcile, totals=t, discrepancies=p.discrepancies)

    async def _reconcile_page(self, p: c.SweepInput) -> None:
        if p.phase == "rows":
            result = await self._activity(
                c.RECONCILE_ROWS,
                c.ReconcileRowsInput(after_id=p.after_id, limit=p.page_size, orgs=p.orgs),
                c.ReconcileResult,
            )
            self._absorb(p, result)
            p.after_id = result.after_id
            if result.after_id is None:
                p.phase = "workflows"
        else:
            result = await self._activity(
                c.RECONCILE_WORKFLOWS,
                c.ReconcileWorkflowsInput(page_token=p.page_token, limit=p.page_size, orgs=p.orgs),
                c.ReconcileResult,
            )
            self._absorb(p, result)
            p.page_token = result.page_token
            if result.page_token is None:
                p.phase = "digests" if p.digests else "done"

    @workflow.query
    def progress(self) -> c.SweepInput | None:
        return self._progress

    async def _activity(self, name: str, arg: BaseModel, result_type: type[Result]) -> Result:
        result: Result = await workflow.execute_activity(
            name,
            arg,
            result_type=result_type,
            start_to_close_timeout=c.PORTFOLIO_PAGE_TIMEOUT,
            heartbeat_timeout=c.PORTFOLIO_HEARTBEAT,
            retry_policy=c.PORTFOLIO_RETRY,
        )
        return result

    @staticmethod
    def _absorb(p: c.SweepInput, result: c.ReconcileResult) -> None:
        t = p.totals
        t.checked += result.checked
        t.repaired += result.repaired
        t.discrepancies += len(result.discrepancies)
        for found in result.discrepancies:
            t.by_kind[found.kind] = t.by_kind.get(found.kind, 0) + 1
        room = c.MAX_REPORTED_DISCREPANCIES - len(p.discrepancies)
        p.discrepancies.extend(result.discrepancies[: max(room, 0)])

    async def _send(self, note: Notification, totals: c.SweepTotals) -> None:
        try:
            await workflow.start_child_workflow(
                c.DIGEST_WORKFLOW,
                c.DigestInput(notification=note),
                id=c.digest_workflow_id(note.event_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
            totals.digests_sent += 1
        except WorkflowAlreadyStartedError:
            totals.digests_already_sent += 1
