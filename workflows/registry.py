"""What a Pakta worker registers: every workflow, and an activity for every name in
`workflows.contracts.ALL_ACTIVITIES` (a test checks that none is missing)."""

from __future__ import annotations

from typing import Any, Callable

from workflows.agreement import AgreementWorkflow

WORKFLOWS: list[type] = [AgreementWorkflow]


def activities(settings: Any, sessionmaker: Any) -> list[Callable[..., Any]]:
    # Imported here, not at module level: the workflow sandbox imports this package and
    # must never pull in database or network code.
    from services.worker.activities.records import RecordActivities

    records = RecordActivities(sessionmaker)
    return [records.record_events]

