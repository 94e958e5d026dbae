"""How much Temporal history each command leaves: the workflows' histories fetched through
the client after the run, every run of each (continued-as-new runs included), grouped by
workflow type."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from temporalio.client import Client


async def history_by_type(client: Client, query: str = "", concurrency: int = 8) -> dict[str, dict[str, int]]:
    """{workflow type: {"executions", "events", "bytes"}} for every execution `query` lists."""
    executions = [wf async for wf in client.list_workflows(query)]
    totals: dict[str, dict[str, int]] = defaultdict(lambda: {"executions": 0, "events": 0, "bytes": 0})
    gate = asyncio.Semaphore(concurrency)

    async def measure(workflow_id: str, run_id: str | None, workflow_type: str) -> None:
        async with gate:
            history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        bucket = totals[workflow_type]
        bucket["executions"] += 1
        bucket["events"] += len(history.events)
        bucket["bytes"] += sum(event.ByteSize() for event in history.events)

    await asyncio.gather(*(measure(wf.id, wf.run_id, wf.workflow_type) for wf in executions))
    return dict(totals)


def per_command(totals: dict[str, dict[str, int]], types: list[str], commands: int) -> dict[str, Any]:
    events = sum(totals.get(t, {}).get("events", 0) for t in types)
    size = sum(totals.get(t, {}).get("bytes", 0) for t in types)
    return {
        "workflow_types": types,
        "commands": commands,
        "events_per_command": round(events / max(1, commands), 2),
        "bytes_per_command": round(size / max(1, commands)),
    }
