"""Reads at scale: `list_n` agreements loaded into the read model, then `GET /agreements`
with filters (50 per page) and `GET /agreements/{id}`, `concurrency` requests in flight,
as the regions' staff (who see their own) and as an auditor (who sees all), the
connections spread over the stack's API processes.

Each list filter is measured on its own, then the six mixed, then the single reads: the
latency percentiles and the CPU each request cost the API, PostgreSQL and the bench's
own client (user + system time from the operating system, over the measure)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

import asyncpg

from bench.accounting import cpu_seconds, spent
from bench.http11 import KeptConnection
from bench.legs import Tokens
from bench.procedure import pairs
from bench.progress import Bar, latency_ms, note
from bench.readmodel import Loaded, load_agreements
from bench.stack import BenchStack, owner_dsn
from services.store.db import driver_dsn

# (who, query): a region's staff filter their own; an auditor filters everyone's.
LIST_QUERIES = (
    ("staff", "stage=review"),
    ("staff", "kind=ksdd&stage=implementation"),
    ("staff", ""),
    ("auditor", "stage=signing"),
    ("auditor", "kind=ksdd"),
    ("auditor", "q=bench%2012"),
)
# The processes whose CPU a read costs (the worker and Temporal idle meanwhile).
READ_PROCESSES = ("postgres", "bench-client")

Request = tuple[str, dict[str, str]]


async def load(stack: BenchStack, count: int) -> list[Loaded]:
    """The one place that loads the read model."""
    regions = [org for pair in pairs(50) for org in pair.orgs]  # a region is party to 2 in 100
    loaded = await load_agreements(owner_dsn(stack.postgres), count, regions)
    # A deployment's autovacuum vacuums and analyses a table a minute or so after rows pour
    # in, and its checkpointer writes them out; the bench reads at once. Without statistics
    # the planner guesses how many rows a filter or a word selects, and picks a plan for a
    # rare one where it is common; without this, autovacuum's pass over the 100,000 new rows
    # and the checkpoint run during the measurement and show as its slowest requests.
    connection = await asyncpg.connect(owner_dsn(stack.postgres))
    try:
        await connection.execute("VACUUM (ANALYZE) agreements, agreement_summaries, agreement_summary_orgs")
    finally:
        await connection.close()
    superuser = await asyncpg.connect(driver_dsn(stack.postgres.url))
    try:
        await superuser.execute("CHECKPOINT")  # only a superuser may ask for one
    finally:
        await superuser.close()
    return loaded


async def reads_leg(stack: BenchStack, list_n: int, requests: int, concurrency: int = 16) -> dict[str, Any]:
    note(f"reads: loading {list_n:,} agreements into the read model")
    started = time.perf_counter()
    loaded = await load(stack, list_n)
    load_s = time.perf_counter() - started
    tokens = Tokens(stack)
    chance = random.Random(11)
    roots = {name: p for name, p in stack.processes().items() if name in READ_PROCESSES or name.startswith("api-")}
    results: dict[str, Any] = {"agreements": list_n, "load_s": round(load_s, 1), "concurrency": concurrency}

    def list_request(queries: tuple[tuple[str, str], ...]) -> Callable[[int], Request]:
        def build(i: int) -> Request:
            who, query = queries[i % len(queries)]
            org = loaded[chance.randrange(len(loaded))][1]
            return f"/agreements?limit=50&{query}", tokens.auth(org if who == "staff" else "bench-audit", who)

        return build

    def one_request(i: int) -> Request:
        agreement_id, org = loaded[chance.randrange(len(loaded))]
        return f"/agreements/{agreement_id}", tokens.auth(org, "staff")

    per_filter = max(20, requests // 4)
    measures: list[tuple[str, Callable[[int], Request], int]] = [
        (f"list {who} {query or '(no filter)'}", list_request(((who, query),)), per_filter)
        for who, query in LIST_QUERIES
    ]
    measures += [("list", list_request(LIST_QUERIES), requests), ("get", one_request, requests)]
    # The connections spread over every API process, as a load balancer would (`--apis N`).
    connections = [KeptConnection(stack.apis[i % len(stack.apis)].url) for i in range(concurrency)]
    try:
        for name, build, count in measures:
            # Warm the caches, the plans and every connection (the API's pool too).
            await _measure(connections, build, 2 * concurrency, None)
            before = cpu_seconds(roots)
            samples = await _measure(connections, build, count, f"reads: GET {name}")
            cpu = spent(before, cpu_seconds(roots))
            results[name] = latency_ms(samples) | {
                "cpu_ms_per_request_by_process": {p: round(s * 1e3 / count, 2) for p, s in cpu.items()}
            }
    finally:
        for connection in connections:
            connection.close()
    return results


async def _measure(
    connections: list[KeptConnection], build: Callable[[int], Request], requests: int, label: str | None
) -> list[float]:
    """`requests` GETs, one in flight per connection; their latencies."""
    samples: list[float] = []
    bar = Bar(label, requests) if label else None
    pending = iter(range(requests))

    async def client(connection: KeptConnection) -> None:
        for i in pending:
            path, headers = build(i)
            started = time.perf_counter()
            status, body = await connection.get(path, headers)
            samples.append(time.perf_counter() - started)
            if status != 200:
                raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
            if bar:
                bar.advance()

    await asyncio.gather(*(client(c) for c in connections))
    if bar:
        bar.close()
    return samples
