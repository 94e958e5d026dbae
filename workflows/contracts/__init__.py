"""The contracts between workflows and the activities and child workflows they run:
names, input and output models, timeouts and retry policies, one module per subject.

- `records`: the agreement workflow's `record_events` local activity;
- `notify`: NotifyWorkflow and its delivery activities (also used by DigestWorkflow);
- `portfolio`: PortfolioSweepWorkflow, DigestWorkflow and their activities.

Workflows import only these modules (never the activity implementations), so worker and
workflow agree on names and shapes without the workflow touching any I/O code.
"""

from __future__ import annotations

from workflows.contracts import notify, portfolio, records

# Every activity name a worker must register (a test checks that none is missing).
ALL_ACTIVITIES: tuple[str, ...] = records.ACTIVITIES + notify.ACTIVITIES + portfolio.ACTIVITIES
