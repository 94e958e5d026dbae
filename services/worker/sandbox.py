"""The workflow sandbox, with the code it runs compiled once.

The SDK's sandbox enters a workflow by `exec` of a short source string: once per activation,
and once per payload sequence its payload visitors encode or decode (it asks the sandboxed
workflow for the payload's serialization context and external-storage context: six passes
an activation). `exec` of a string compiles it every time, and the compile was ≈ 5 % of the
worker's CPU under the benchmark (docs/performance.md). The strings are the same few for
every workflow of a type, so each is compiled once here and the code object is executed
instead — what runs in the sandbox, and how, is unchanged.
"""

from __future__ import annotations

import functools
from types import CodeType
from typing import Any

from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox._runner import _Instance


@functools.lru_cache(maxsize=256)
def compiled(source: str) -> CodeType:
    """The code of one of the sandbox's source strings, as `exec` of the string would compile it."""
    return compile(source, "<string>", "exec")


class _CompiledOnceInstance(_Instance):
    def _run_code(self, code: str, **extra_globals: Any) -> None:
        # `exec` takes a code object as it takes a string; the SDK's method does the rest.
        super()._run_code(compiled(code), **extra_globals)  # type: ignore[arg-type]


class CompiledOnceSandboxRunner(SandboxedWorkflowRunner):
    """`SandboxedWorkflowRunner` whose instances compile each source string they execute once."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _CompiledOnceInstance(det, self.runner_class, self.restrictions)
