"""The Temporal Schedule of the portfolio sweep, created idempotently at startup by every
`pakta worker` (and so by `pakta dev`).

The schedule fires **hourly** (minute 0, UTC). Hourly rather than daily because the digest
of each organisation goes out at 08:00 in *its* zone (WIB, WITA, WIT or a partner's own,
half-hour zones included): each run sends the digests of the organisations whose local
time is in the digest window, so each one gets it at the start of its own office day.
The reconciliation, the costly part (a describe and a query per open agreement), runs in
one of the 24 runs only (see `workflows.contracts.portfolio.RECONCILE_UTC_HOUR`).
Overlapping runs are skipped; a run missed for up to an hour (server down) is caught up.
"""

from __future__ import annotations

import json
from datetime import timedelta

import structlog
from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from services.settings import Settings
from workflows.contracts import portfolio as c
from workflows.portfolio.digest import DIGEST_HOUR

log = structlog.get_logger("pakta.portfolio")

EVERY = timedelta(hours=1)  # aligned to the epoch: at minute 0 of every UTC hour


def portfolio_schedule(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            c.PORTFOLIO_SWEEP_WORKFLOW,
            c.SweepInput(digest_hour=settings.digest_hour),
            id=c.PORTFOLIO_SWEEP_WORKFLOW_ID,
            task_queue=settings.temporal_task_queue,
            execution_timeout=timedelta(hours=6),
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=EVERY)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(hours=1)),
    )


async def ensure_portfolio_schedule(client: Client, settings: Settings) -> str:
    """Create the schedule, or bring an existing one's action and timing in line with these
    settings (several workers starting at once all end in the same place). Returns
    "created", "updated" or "unchanged". Pausing the schedule by hand (UI, CLI) survives:
    the state is left as it is."""
    wanted = portfolio_schedule(settings)
    try:
        await client.create_schedule(c.PORTFOLIO_SCHEDULE_ID, wanted)
        log.info(
            "portfolio_schedule_created",
            schedule_id=c.PORTFOLIO_SCHEDULE_ID,
            every=str(EVERY),
            task_queue=settings.temporal_task_queue,
        )
        return "created"
    except ScheduleAlreadyRunningError:
        pass
    changed = False

    def update(current: ScheduleUpdateInput) -> ScheduleUpdate | None:
        nonlocal changed
        schedule = current.description.schedule
        action = schedule.action
        same = (
            isinstance(action, ScheduleActionStartWorkflow)
            and action.workflow == c.PORTFOLIO_SWEEP_WORKFLOW
            and action.task_queue == settings.temporal_task_queue
            and _digest_hour(action) == settings.digest_hour
            and [i.every for i in schedule.spec.intervals] == [EVERY]
            and schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
        )
        if same:
            return None
        changed = True
        schedule.action, schedule.spec, schedule.policy = wanted.action, wanted.spec, wanted.policy
        return ScheduleUpdate(schedule=schedule)

    await client.get_schedule_handle(c.PORTFOLIO_SCHEDULE_ID).update(update)
    log.info("portfolio_schedule_" + ("updated" if changed else "unchanged"), schedule_id=c.PORTFOLIO_SCHEDULE_ID)
    return "updated" if changed else "unchanged"


def _digest_hour(action: ScheduleActionStartWorkflow) -> int | None:
    """The digest hour an existing schedule passes (its args come back as raw payloads)."""
    try:
        raw = action.args[0]
        data = json.loads(raw.data) if isinstance(raw, Payload) else raw.model_dump()
        return int(data.get("digest_hour", DIGEST_HOUR))
    except Exception:
        return None
