"""The workflow sandbox, entered for what only the workflow's code can do.

The SDK's sandbox enters a workflow by `exec` of a short source string inside its importer
(built-in `__import__` and `sys.modules` swapped for the sandbox's): once per activation,
and once per payload sequence its payload visitors encode or decode, to ask the sandboxed
workflow for that payload's serialization and external-storage contexts — 14 entries per
agreement command, each compiling its string anew (≈ 90 µs) and swapping the importer in
and out. Under the benchmark that was ≈ 5 % of the worker's CPU (docs/performance-log.md).

Here each string is compiled once, and the two context questions skip the sandbox: their
answers are SDK dataclasses (namespace, workflow id, the pending activity's or child's
name) read from the workflow instance's bookkeeping — SDK code only, no workflow code and no
import (`temporalio` is passed through the sandbox, so they are the host's very classes).
Activations, where the workflow's code runs, enter the sandbox as before.
"""

from __future__ import annotations

import functools
from types import CodeType
from typing import Any, cast

from temporalio.converter import SerializationContext
from temporalio.converter._extstore import StorageDriverStoreContext
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker._command_aware_visitor import CommandInfo
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox._in_sandbox import InSandbox
from temporalio.worker.workflow_sandbox._runner import _Instance


@functools.lru_cache(maxsize=256)
def compiled(source: str) -> CodeType:
    """The code of one of the sandbox's source strings, as `exec` of the string would compile it."""
    return compile(source, "<string>", "exec")


class _EnteredForWorkflowCode(_Instance):
    def _run_code(self, code: str, **extra_globals: Any) -> None:
        # `exec` takes a code object as it takes a string; the SDK's method does the rest.
        super()._run_code(compiled(code), **extra_globals)  # type: ignore[arg-type]

    def _in_sandbox(self) -> InSandbox:
        # The object the SDK's `_create_instance` left in the sandbox's globals.
        return cast(InSandbox, self.globals_and_locals["__temporal_in_sandbox"])

    def get_serialization_context(self, command_info: CommandInfo | None) -> SerializationContext | None:
        return self._in_sandbox().get_serialization_context(command_info)

    def get_external_store_context(self, command_info: CommandInfo | None) -> StorageDriverStoreContext:
        return self._in_sandbox().get_external_store_context(command_info)


class WorkflowCodeSandboxRunner(SandboxedWorkflowRunner):
    """`SandboxedWorkflowRunner` whose instances compile each source string once and answer
    the payload visitors' context questions without entering the sandbox."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _EnteredForWorkflowCode(det, self.runner_class, self.restrictions)
