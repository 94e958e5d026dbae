"""The worker's sandbox (`services.worker.sandbox`): entered for the workflow's code with
code compiled once; the payload visitors' context questions answered without entering it,
as the SDK's sandbox answers them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox._runner import _Instance

from services.temporal_client import DATA_CONVERTER
from services.worker import sandbox
from services.worker.registry import WORKFLOWS, workflow_runner

pytestmark = pytest.mark.asyncio(loop_scope="session")
HISTORIES = sorted((Path(__file__).parents[1] / "histories").glob("*.json"))
CONTEXT_QUESTIONS = ("get_serialization_context", "get_external_store_context")


async def replay_saved_histories(runner: WorkflowRunner) -> None:
    replayer = Replayer(workflows=WORKFLOWS, data_converter=DATA_CONVERTER, workflow_runner=runner)
    for path in HISTORIES:
        history = WorkflowHistory.from_json(f"agreement-{path.stem}", json.loads(path.read_text()))
        await replayer.replay_workflow(history)


def recording_answers(instance_class: type[_Instance], answers: list[tuple[str, Any]], monkeypatch) -> None:
    def recorded(name: str, question: Callable[..., Any]) -> Callable[..., Any]:
        def ask(self: _Instance, command_info: Any) -> Any:
            answer = question(self, command_info)
            answers.append((name, answer))
            return answer

        return ask

    for name in CONTEXT_QUESTIONS:
        monkeypatch.setattr(instance_class, name, recorded(name, getattr(instance_class, name)))


async def test_a_second_run_of_the_same_agreements_compiles_nothing_new():
    await replay_saved_histories(workflow_runner())
    before = sandbox.compiled.cache_info()
    await replay_saved_histories(workflow_runner())
    after = sandbox.compiled.cache_info()
    assert after.misses == before.misses
    # Every activation of the second pass ran precompiled code.
    assert after.hits > before.hits + len(HISTORIES)


async def test_every_payload_gets_the_context_the_sdk_sandbox_would_give_it(monkeypatch):
    ours = workflow_runner()
    sdks = SandboxedWorkflowRunner(restrictions=ours.restrictions)
    answers_sdk: list[tuple[str, Any]] = []
    answers_ours: list[tuple[str, Any]] = []
    recording_answers(_Instance, answers_sdk, monkeypatch)
    await replay_saved_histories(sdks)
    monkeypatch.undo()
    recording_answers(sandbox._EnteredForWorkflowCode, answers_ours, monkeypatch)
    await replay_saved_histories(ours)

    assert answers_ours == answers_sdk
    # Activities' payloads (the recording's) get their activity's context, not the workflow's.
    assert any(type(answer).__name__ == "ActivitySerializationContext" for _, answer in answers_ours)
