"""How much Temporal history each command leaves: the workflows' histories fetched through
the client after the run, every run of each (continued-as-new runs included), grouped by
workflow type — with their events counted and sized by type, so a change in what each
transition writes (timers started, cancelled and fired; workflow tasks; markers; upserts)
shows; and the bytes of the payloads Pakta itself encodes (the Update's input and result,
the local activity's result, the start's input), split from the server's own fields."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from typing import Any

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client


def _type_name(event_type: int) -> str:
    return EventType.Name(event_type).removeprefix("EVENT_TYPE_").lower()  # type: ignore[arg-type]


def _payloads(message: Message) -> list[Payload]:
    """Every Payload inside `message` (the converter's output: data and its metadata)."""
    if isinstance(message, Payload):
        return [message]
    found: list[Payload] = []
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if isinstance(value, Message):
            items = [value]
        elif hasattr(value, "values"):  # a map
            items = [entry for entry in value.values() if isinstance(entry, Message)]
        else:  # repeated
            items = list(value)
        for item in items:
            found += _payloads(item)
    return found


def payload_bytes(event: HistoryEvent) -> tuple[int, int]:
    """(data, metadata) bytes of the payloads `event` carries: what the data converter wrote
    (and Core's own marker data, which is JSON too)."""
    data = metadata = 0
    for payload in _payloads(event):
        data += len(payload.data)
        metadata += payload.ByteSize() - len(payload.data)
    return data, metadata


async def history_by_type(client: Client, query: str = "", concurrency: int = 8) -> dict[str, dict[str, Any]]:
    """{workflow type: {"executions", "events", "bytes", "event_types": {type: count},
    "event_bytes": {type: bytes}, "payload_data_bytes": {type: bytes},
    "payload_metadata_bytes": {type: bytes}}} for every execution `query` lists."""
    executions = [wf async for wf in client.list_workflows(query)]
    totals: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "executions": 0,
            "events": 0,
            "bytes": 0,
            "event_types": Counter(),
            "event_bytes": Counter(),
            "payload_data_bytes": Counter(),
            "payload_metadata_bytes": Counter(),
        }
    )
    gate = asyncio.Semaphore(concurrency)

    async def measure(workflow_id: str, run_id: str | None, workflow_type: str) -> None:
        async with gate:
            history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        bucket = totals[workflow_type]
        bucket["executions"] += 1
        bucket["events"] += len(history.events)
        for event in history.events:
            name, size = _type_name(event.event_type), event.ByteSize()
            data, metadata = payload_bytes(event)
            bucket["bytes"] += size
            bucket["event_types"][name] += 1
            bucket["event_bytes"][name] += size
            bucket["payload_data_bytes"][name] += data
            bucket["payload_metadata_bytes"][name] += metadata

    await asyncio.gather(*(measure(wf.id, wf.run_id, wf.workflow_type) for wf in executions))
    return {
        name: {key: dict(value) if isinstance(value, Counter) else value for key, value in bucket.items()}
        for name, bucket in totals.items()
    }


def per_command(totals: dict[str, dict[str, Any]], types: list[str], commands: int) -> dict[str, Any]:
    chosen = [totals[t] for t in types if t in totals]
    events = sum(bucket["events"] for bucket in chosen)
    size = sum(bucket["bytes"] for bucket in chosen)
    sums: dict[str, Counter[str]] = {
        key: Counter() for key in ("event_types", "event_bytes", "payload_data_bytes", "payload_metadata_bytes")
    }
    for bucket in chosen:
        for key, counter in sums.items():
            counter.update(bucket.get(key, {}))

    def per(key: str, digits: int) -> dict[str, float]:
        return {name: round(value / max(1, commands), digits) for name, value in sorted(sums[key].items())}

    return {
        "workflow_types": types,
        "commands": commands,
        "events_per_command": round(events / max(1, commands), 2),
        "bytes_per_command": round(size / max(1, commands)),
        "event_types_per_command": per("event_types", 3),
        "event_bytes_per_command": per("event_bytes", 1),
        "payload_data_bytes_per_command": per("payload_data_bytes", 1),
        "payload_metadata_bytes_per_command": per("payload_metadata_bytes", 1),
    }
