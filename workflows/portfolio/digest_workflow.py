"""DigestWorkflow: delivers one organisation's digest, started by the portfolio sweep as
an abandoned child `digest-<org>-<day>`.

The inbox entry for the organisation's staff and an email to each of its staff contacts
in their language go through the same delivery steps (`workflows.notify.delivery`), the
same activities and the same exactly-once deliveries log as every other notification.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # By full name, so the host's module is passed through like the contracts.
    import workflows.notify.delivery as delivery
    from workflows.contracts import notify as n
    from workflows.contracts import portfolio as c


@workflow.defn(name=c.DIGEST_WORKFLOW)
class DigestWorkflow:
    def __init__(self) -> None:
        self._result = n.NotifyResult()

    @workflow.run
    async def run(self, input: c.DigestInput) -> n.NotifyResult:
        note = input.notification
        # A plan of one ready-made notification: no events, hence no webhook deliveries.
        plan = await delivery.plan(n.PlanInput(agreement_id=note.agreement_id, notifications=[note]), self._result)
        await delivery.deliver(plan, [], self._result)
        return self._result
