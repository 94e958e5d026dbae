"""Contract of the agreement workflow's `record_events` local activity: it writes a
command's events to the audit trail and projects the state into `agreements`."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from temporalio.common import RetryPolicy

from workflows.messages import AgreementState, Event


class Recorder(BaseModel):
    """Who records a batch: the workflow run, the length of its history when the recording
    task ran, when that task started, and the run it continued from. Orders competing
    writes under one seq."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    history_length: int
    continued_run_id: str | None = None
    # When the recording workflow task started (`workflow.now()`). Two tasks can see the same
    # history length: a task the server lost without a trace (an Update's speculative task when
    # the Temporal server dies) and its retry, or attempts of a failing task after the first
    # (Temporal writes only the first failure). The server runs one task per workflow at a
    # time, so of two such tasks the one that started later is the one that may complete.
    task_started_at: datetime | None = None


class RecordEventsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: AgreementState  # the state after the events, projected into `agreements`
    events: list[Event]
    recorder: Recorder | None = None  # None: callers from before superseding existed
    # Plan the batch's notifications in the same transaction (inbox rows, and the outbox of
    # email and webhook deliveries). False: the caller starts a NotifyWorkflow instead, as
    # agreements did before the outbox ("notify-outbox").
    plan_notifications: bool = False
    # The audit trail's hash the batch follows, as the workflow's last recording returned it
    # (`RecordEventsResult.head`): the rows' hashes are computed before anything is read, and
    # a plain append is recorded in one statement. None (a creation, a head this run does not
    # know, a workflow of before): the recording reads the head under the lock, as always.
    follows: str | None = None


class RecordEventsResult(BaseModel):
    inserted: int  # 0 when a retry finds the events already recorded
    head: str  # hash of the agreement's last audit row
    superseded: int = 0  # rows of a task that never completed, moved out of the chain


# The hash an agreement's first audit row follows: the head of a trail with no rows yet.
CHAIN_START = "0" * 64

RECORD_EVENTS = "record_events"
# A local activity: short and idempotent on (agreement_id, seq); retried until the database
# is back, so an accepted command is never lost, only delayed.
RECORD_EVENTS_TIMEOUT = timedelta(seconds=30)
RECORD_EVENTS_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), backoff_coefficient=2.0, maximum_interval=timedelta(seconds=30)
)

ACTIVITIES: tuple[str, ...] = (RECORD_EVENTS,)
