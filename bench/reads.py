"""Reads at scale: `list_n` agreements loaded into the read model, then `GET /agreements`
with filters (50 per page) and `GET /agreements/{id}`, `concurrency` requests in flight,
as the regions' staff (who see their own) and as an auditor (who sees all)."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx

from bench.legs import Tokens
from bench.progress import Bar, latency_ms, note
from bench.readmodel_fallback import load_agreements
from bench.stack import BenchStack, owner_dsn

# (who, query): a region's staff filter their own; an auditor filters everyone's.
LIST_QUERIES = (
    ("staff", "stage=review"),
    ("staff", "kind=ksdd&stage=implementation"),
    ("staff", ""),
    ("auditor", "stage=signing"),
    ("auditor", "kind=ksdd"),
    ("auditor", "q=bench%2012"),
)


async def load(stack: BenchStack, count: int) -> list[tuple[str, str]]:
    """The one place that loads the read model (switch to bench.readmodel once it lands)."""
    return await load_agreements(owner_dsn(stack.postgres), count)


async def reads_leg(stack: BenchStack, list_n: int, requests: int, concurrency: int = 16) -> dict[str, Any]:
    note(f"reads: loading {list_n:,} agreements into the read model")
    started = time.perf_counter()
    loaded = await load(stack, list_n)
    load_s = time.perf_counter() - started
    tokens = Tokens(stack)
    chance = random.Random(11)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    results: dict[str, Any] = {"agreements": list_n, "load_s": round(load_s, 1), "concurrency": concurrency}
    async with httpx.AsyncClient(base_url=stack.apis[0].url, timeout=60, limits=limits) as http:

        def list_request(i: int) -> tuple[str, dict[str, str]]:
            who, query = LIST_QUERIES[i % len(LIST_QUERIES)]
            org = loaded[chance.randrange(len(loaded))][1]
            return f"/agreements?limit=50&{query}", tokens.auth(org if who == "staff" else "bench-audit", who)

        def one_request(i: int) -> tuple[str, dict[str, str]]:
            agreement_id, org = loaded[chance.randrange(len(loaded))]
            return f"/agreements/{agreement_id}", tokens.auth(org, "staff")

        for name, build in (("list", list_request), ("get", one_request)):
            for i in range(min(20, requests)):  # warm the caches and the connection pool
                await _get(http, *build(i))
            results[name] = latency_ms(await _measure(http, build, requests, concurrency, f"reads: GET {name}"))
    return results


async def _measure(http: httpx.AsyncClient, build: Any, requests: int, concurrency: int, label: str) -> list[float]:
    samples: list[float] = []
    bar = Bar(label, requests)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)

    async def client() -> None:
        while not queue.empty():
            path, headers = build(queue.get_nowait())
            started = time.perf_counter()
            await _get(http, path, headers)
            samples.append(time.perf_counter() - started)
            bar.advance()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    bar.close()
    return samples


async def _get(http: httpx.AsyncClient, path: str, headers: dict[str, str]) -> None:
    resp = await http.get(path, headers=headers)
    if resp.status_code != 200:
        raise RuntimeError(f"GET {path}: {resp.status_code} {resp.text[:300]}")
