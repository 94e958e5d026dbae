"""How much Temporal history each command leaves: the workflows' histories fetched through
the client after the run, every run of each (continued-as-new runs included), grouped by
workflow type — with their events counted by type, so a change in what each transition
writes (timers started, cancelled and fired; workflow tasks; markers; upserts) shows."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client


def _type_name(event_type: int) -> str:
    return EventType.Name(event_type).removeprefix("EVENT_TYPE_").lower()  # type: ignore[arg-type]


async def history_by_type(client: Client, query: str = "", concurrency: int = 8) -> dict[str, dict[str, Any]]:
    """{workflow type: {"executions", "events", "bytes", "event_types": {type: count}}} for
    every execution `query` lists."""
    executions = [wf async for wf in client.list_workflows(query)]
    totals: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"executions": 0, "events": 0, "bytes": 0, "event_types": Counter()}
    )
    gate = asyncio.Semaphore(concurrency)

    async def measure(workflow_id: str, run_id: str | None, workflow_type: str) -> None:
        async with gate:
            history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        bucket = totals[workflow_type]
        bucket["executions"] += 1
        bucket["events"] += len(history.events)
        bucket["bytes"] += sum(event.ByteSize() for event in history.events)
        bucket["event_types"].update(_type_name(event.event_type) for event in history.events)

    await asyncio.gather(*(measure(wf.id, wf.run_id, wf.workflow_type) for wf in executions))
    return {name: {**bucket, "event_types": dict(bucket["event_types"])} for name, bucket in totals.items()}


def per_command(totals: dict[str, dict[str, Any]], types: list[str], commands: int) -> dict[str, Any]:
    chosen = [totals[t] for t in types if t in totals]
    events = sum(bucket["events"] for bucket in chosen)
    size = sum(bucket["bytes"] for bucket in chosen)
    by_type: Counter[str] = Counter()
    for bucket in chosen:
        by_type.update(bucket.get("event_types", {}))
    return {
        "workflow_types": types,
        "commands": commands,
        "events_per_command": round(events / max(1, commands), 2),
        "bytes_per_command": round(size / max(1, commands)),
        "event_types_per_command": {
            name: round(count / max(1, commands), 3) for name, count in sorted(by_type.items())
        },
    }
