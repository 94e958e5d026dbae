"""NotifyWorkflow: delivers the notifications of one recorded batch of events.

Started by the agreement workflow as an abandoned child (id `notify-<agreement>-<seq>`),
so deliveries may retry for days without holding the agreement up. It plans the batch in
one activity — the pure rules run there, so what they decided is recorded in history and a
later change of the rules cannot make this workflow's replay diverge — then runs one
activity per delivery, in parallel (see `workflows.notify.delivery`): inbox per audience,
email per recipient, webhook per subscribed endpoint of each party organisation.

Each delivery activity is idempotent on (event_id, recipient, channel), so a retry, a
replay or a second run of this workflow for the same events delivers nothing twice.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # By full name, so the host's module is passed through like the contracts.
    import workflows.notify.delivery as delivery
    from workflows.contracts import notify as c


@workflow.defn(name=c.NOTIFY_WORKFLOW)
class NotifyWorkflow:
    def __init__(self) -> None:
        self._result = c.NotifyResult()

    @workflow.run
    async def run(self, input: c.NotifyInput) -> c.NotifyResult:
        plan = await delivery.plan(
            c.PlanInput(agreement_id=input.agreement_id, events=input.events, state=input.state), self._result
        )
        await delivery.deliver(plan, input.events, self._result)
        return self._result

    @workflow.query
    def progress(self) -> c.NotifyResult:
        return self._result
