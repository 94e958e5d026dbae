"""The worker's sandbox compiles the code it enters workflows with once, not per
activation and per payload (`services.worker.sandbox`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from services.worker.registry import WORKFLOWS, workflow_runner
from services.worker.sandbox import compiled

pytestmark = pytest.mark.asyncio(loop_scope="session")
HISTORIES = Path(__file__).parents[1] / "histories"


async def replay_saved_histories() -> None:
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter, workflow_runner=workflow_runner())
    for path in sorted(HISTORIES.glob("*.json")):
        history = WorkflowHistory.from_json(f"agreement-{path.stem}", json.loads(path.read_text()))
        await replayer.replay_workflow(history)


async def test_a_second_run_of_the_same_agreements_compiles_nothing_new_and_replays_alike():
    await replay_saved_histories()
    before = compiled.cache_info()
    await replay_saved_histories()
    after = compiled.cache_info()
    assert after.misses == before.misses
    # Every activation and every payload sequence of the second pass ran precompiled code.
    assert after.hits > before.hits + len(list(HISTORIES.glob("*.json")))
