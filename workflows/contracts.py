"""Activity names with their input and output models, timeouts and retry policies.

The workflow imports only this module (not the activity implementations), so the worker
and the workflow agree on names and shapes without the workflow touching any I/O code.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict
from temporalio.common import RetryPolicy

from workflows.messages import AgreementState, Event

TASK_QUEUE = "pakta"


class RecordEventsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: AgreementState  # the state after the events, projected into `agreements`
    events: list[Event]


class RecordEventsResult(BaseModel):
    inserted: int  # 0 when a retry finds the events already recorded
    head: str  # hash of the agreement's last audit row


RECORD_EVENTS = "record_events"
# A local activity: short and idempotent on (agreement_id, seq); retried until the database
# is back, so an accepted command is never lost, only delayed.
RECORD_EVENTS_TIMEOUT = timedelta(seconds=30)
RECORD_EVENTS_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200),
                                  backoff_coefficient=2.0, maximum_interval=timedelta(seconds=30))

ALL_ACTIVITIES: tuple[str, ...] = (RECORD_EVENTS,)


class NotifyInput(BaseModel):
    """What the agreement workflow hands to notification delivery after recording a
    command's events: the events and the state after them (who is party, who awaits)."""

    model_config = ConfigDict(extra="forbid")

    agreement_id: str
    events: list[Event]
    state: AgreementState


# A child workflow per recorded batch, abandoned by its parent: deliveries retry for days
# (webhooks with backoff) without holding the agreement's continue-as-new or completion.
NOTIFY_WORKFLOW = "NotifyWorkflow"


def notify_workflow_id(agreement_id: str, first_seq: int) -> str:
    return f"notify-{agreement_id}-{first_seq}"
