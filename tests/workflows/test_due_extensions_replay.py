"""A history recorded before one due date's extensions were bounded replays on today's code
(issue #11, review17): a run may hold more extensions of a date than
`bounds.EXTENSIONS_PER_DUE_DATE`, each accepted and recorded, and replaying it must decide
each one again as it was decided — not refuse the one past the bound, which would record
nothing where the history holds its events. A real worker on the time-skipping server
records the extensions; the replay is watched under a bound lower than their number, as a
history of the code before the bound is."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.worker import Replayer

from services.temporal_client import DATA_CONVERTER
from services.worker.registry import WORKFLOWS, workflow_runner
from tests.readmodel import events_of
from tests.workflows.test_agreement_before_the_patches import RecordedOnReplay
from tests.workflows.test_agreement_timeline import state_of
from tests.workflows.test_agreement_workflow import STAFF, act, start
from workflows import messages as m
from workflows.agreement import EXTENSIONS_BOUNDED
from workflows.lifecycle.handlers import implementation

pytestmark = pytest.mark.asyncio(loop_scope="session")
EXTENDED = 3


async def test_a_history_holding_more_extensions_of_a_date_than_the_bound_replays_to_the_same_events(
    env, task_queue, sessionmaker, monkeypatch
):
    handle, created = await start(env.client, task_queue)
    await act(handle, STAFF, m.Submit())
    for i in range(EXTENDED):
        await act(handle, STAFF, m.ExtendDeadline(days=1, reason=f"Perpanjangan {i + 1}"))
    state = await state_of(handle)
    assert len(state.due_counts["step"].extensions) == EXTENDED
    recorded = list(await events_of(sessionmaker, created.id))

    # The code before the bound took them all; today's bound is fewer than the history holds.
    monkeypatch.setattr(implementation, "EXTENSIONS_PER_DUE_DATE", EXTENDED - 1)
    history = await handle.fetch_history()
    replayed = RecordedOnReplay()
    replayer = Replayer(
        workflows=WORKFLOWS, data_converter=DATA_CONVERTER, workflow_runner=workflow_runner(), interceptors=[replayed]
    )
    await replayer.replay_workflow(history)
    assert [(e.seq, e.type, e.data) for e in replayed.events] == [(e.seq, e.type, e.data) for e in recorded]

    # Live, the bound holds for this run too: one more is refused, and nothing is recorded —
    # no marker either, since the validator refuses before the handler would ask.
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await act(handle, STAFF, m.ExtendDeadline(days=1, reason="Sekali lagi"))
    assert refused.value.cause.type == "too_many_extensions"
    assert (await state_of(handle)).version == state.version
    history = await handle.fetch_history()
    assert not [e for e in history.events if EXTENSIONS_BOUNDED.encode() in bytes(e.SerializeToString())]
