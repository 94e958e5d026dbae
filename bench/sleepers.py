"""Agreements asleep on their timers: the worker's memory and the stack's CPU while nothing
is due (issue #11: 10,000 open agreements under 400 MB of worker RSS, no CPU when idle).

`--sleepers N` creates N agreements over HTTP and submits each (so each waits in review
on its step's deadline timer, weeks away), then lets the stack sit for `idle_s` and reads,
from the operating system, the worker's RSS and the CPU every process spent meanwhile.

Why it stays small by design: a worker keeps at most `PAKTA_WORKER_CACHED_WORKFLOWS`
agreements in memory (the sticky cache, 1,000 by default) — the others are evicted and
replayed from history on their next task — and a timer lives in the Temporal server, not
in the worker, so a sleeping agreement costs the worker nothing until it is due.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx

from bench.accounting import cpu_seconds, spent
from bench.legs import Tokens, _deliveries_settled, _expect
from bench.procedure import Pair, proposal
from bench.progress import Bar, note
from bench.stack import BenchStack


async def sleepers_leg(
    stack: BenchStack, pairs: list[Pair], count: int, *, clients: int = 16, idle_s: float = 30.0
) -> dict[str, Any]:
    tokens = Tokens(stack)
    run = uuid.uuid4().hex[:6]
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    bar = Bar(f"sleepers: create and submit {count:,}", count)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=stack.apis[0].url, timeout=120, limits=limits) as http:

        async def client() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                pair = pairs[i % len(pairs)]
                staff = tokens.auth(pair.initiator, "staff")
                body = proposal(pair, f"Sleeper {run} #{i}")
                created = _expect(await http.post("/agreements", json=body, headers=staff), 201)
                submit = {"type": "submit"}
                _expect(await http.post(f"/agreements/{created['id']}/actions", json=submit, headers=staff), 200)
                bar.advance()

        try:
            await asyncio.gather(*(client() for _ in range(clients)))
        finally:
            bar.close()
    created_s = time.perf_counter() - started
    # The submissions' notifications (mail and webhooks to every party) are delivered
    # first: the idle window starts once nothing has arrived for a few seconds.
    note(f"sleepers: {count:,} asleep; waiting for their notifications to be delivered")
    await _deliveries_settled(stack, quiet_s=5.0, limit_s=900.0)
    note(f"sleepers: the stack now idles for {idle_s:.0f} s")
    roots = stack.processes()
    before = cpu_seconds(roots)
    await asyncio.sleep(idle_s)
    idle = spent(before, cpu_seconds(roots))
    rss = {name: round(p.memory_info().rss / 2**20, 1) for name, p in roots.items() if name.startswith("worker-")}
    return {
        "agreements": count,
        "create_and_submit_s": round(created_s, 1),
        "idle_s": idle_s,
        "worker_rss_mb": rss,
        # CPU share of one core while nothing is due (polls, metrics, the dispatcher's poll).
        "idle_cpu_percent_by_process": {name: round(100 * s / idle_s, 2) for name, s in idle.items()},
    }
