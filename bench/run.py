"""Pakta benchmarks. Figures are ratios against a baseline measured in the same run, since
these machines are noisy; absolute times are printed for context only.

    make bench                      # both
    make bench ARGS="decider"       # the pure decider only (seconds)
    make bench ARGS="api --n 200"   # the real stack over HTTP (a minute or two)

- decider: cost of deciding and applying one command, and of computing a snapshot with
  `allowed_actions`, against the baseline of one pydantic round trip of the same state
  (`model_validate(model_dump())`) — the floor any state-carrying step pays.
- api: latency of an action (`POST /agreements/{id}/actions`: HTTP → Temporal update →
  local activity → PostgreSQL) and of a snapshot read, against `GET /healthz` on the same
  app and transport.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def _timed(fn: Callable[[], Any], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


async def _atimed(fn: Callable[[], Awaitable[Any]], n: int, label: str) -> list[float]:
    samples = []
    for i in range(n):
        start = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - start)
        if (i + 1) % max(1, n // 4) == 0:
            _progress(f"{label}: {i + 1}/{n}")
    return samples


def _report(title: str, rows: list[tuple[str, list[float]]], baseline: list[float]) -> None:
    base = statistics.median(baseline)
    print(f"\n{title}  (baseline median {base * 1e3:.3f} ms)")
    print(f"  {'measure':<34}{'median ms':>11}{'p95 ms':>10}{'× baseline':>12}")
    for name, samples in rows:
        ordered = sorted(samples)
        p95 = ordered[int(len(ordered) * 0.95) - 1] if len(ordered) > 1 else ordered[0]
        median = statistics.median(samples)
        print(f"  {name:<34}{median * 1e3:>11.3f}{p95 * 1e3:>10.3f}{median / base:>12.1f}")


def bench_decider(n: int) -> None:
    from workflows import lifecycle as L
    from workflows import messages as m

    now = datetime(2027, 1, 4, 2, tzinfo=UTC)
    staff = m.Actor(sub="s", org="jabar", roles=["staff"])
    partner = m.Actor(sub="p", org="jateng", roles=["staff"])
    approvers = {
        org: m.Actor(sub=f"a-{org}", org=org, roles=["approver"], gates=["review", "legal", "dprd"])
        for org in ("jabar", "jateng")
    }
    proposal = m.Proposal(
        title="Bench KSDD",
        kind="ksdd",
        objectives="bench",
        sector="bench",
        start_date="2027-01-01",
        duration_months=60,
        indicators=[m.Indicator(name="x", target=1, unit="u")],
        parties=[
            m.Party(org="jabar", role="initiator", sector="government", signatory="A"),
            m.Party(org="jateng", role="counterparty", sector="government", signatory="B"),
        ],
    )

    def lifecycle_run() -> m.AgreementState:
        state = None
        for event in L.create(proposal, staff, now, "bench"):
            state = L.evolve(state, event)

        def do(actor, command):
            nonlocal state
            for event in L.decide(state, command, actor, now):
                state = L.evolve(state, event)

        do(staff, m.Submit())
        for org in ("jabar", "jateng"):
            do(approvers[org], m.Decide(gate="review", outcome="approve"))
        for doc, step_docs in (("a", "ksb"), ("b", "pks")):
            do(staff, m.SubmitDraft(document=doc * 64))
            version = state.drafts[-1].version
            do(partner, m.AcceptDraft(version=version))
            if step_docs == "pks":
                for org in ("jabar", "jateng"):
                    do(approvers[org], m.Decide(gate="legal", outcome="approve"))
            for org in ("jabar", "jateng"):
                do(m.Actor(sub=f"g-{org}", org=org, roles=["signatory"]), m.Sign(version=version, method="electronic"))
        return state

    _progress("decider: warming up")
    final = lifecycle_run()
    commands = 13
    baseline = _timed(lambda: m.AgreementState.model_validate(final.model_dump()), n * 10)
    _progress("decider: full procedures")
    per_command = [s / commands for s in _timed(lifecycle_run, n)]
    snapshot = _timed(lambda: L.snapshot(final, staff, now), n * 5)
    wakeup = _timed(lambda: L.next_wakeup(final), n * 5)
    _report(
        "decider (pure, one KSDD agreement)",
        [
            ("decide + evolve, per command", per_command),
            ("snapshot with allowed_actions", snapshot),
            ("next_wakeup", wakeup),
        ],
        baseline,
    )


async def bench_api(n: int) -> None:
    import httpx
    from temporalio.worker import Worker

    from services.api.app import create_app
    from services.auth import mint_token
    from services.settings import Settings
    from services.store.db import create_engine, create_sessionmaker
    from services.worker.registry import WORKFLOWS, activities, workflow_runner
    from tests.fixtures.servers import start_dev_server, start_postgres

    with tempfile.TemporaryDirectory(prefix="pakta-bench-") as tmp:
        _progress("api: starting embedded PostgreSQL and the Temporal dev server")
        pg = start_postgres(Path(tmp) / "pg")
        env = await start_dev_server()
        try:
            queue = f"bench-{uuid.uuid4()}"
            settings = Settings(
                database_url=pg.url,
                temporal_address=env.client.service_client.config.target_host,
                temporal_task_queue=queue,
                metrics_port=0,
                log_level="WARNING",
            )
            engine = create_engine(settings)
            sessionmaker = create_sessionmaker(engine)
            app = create_app(settings)
            worker = Worker(
                env.client,
                task_queue=queue,
                workflows=WORKFLOWS,
                workflow_runner=workflow_runner(),
                activities=activities(settings, sessionmaker),
            )
            token = mint_token(settings, sub="bench", org="jabar", roles=["staff"])
            auth = {"Authorization": f"Bearer {token}"}
            body = {
                "title": "Bench",
                "kind": "ksdpk",
                "objectives": "bench",
                "sector": "bench",
                "start_date": "2027-01-01",
                "duration_months": 12,
                "parties": [
                    {"org": "jabar", "role": "initiator", "sector": "government", "signatory": "A"},
                    {"org": "univ", "role": "counterparty", "sector": "academia", "signatory": "B"},
                ],
            }
            async with (
                worker,
                app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60) as http,
            ):
                created = (await http.post("/agreements", json=body, headers=auth)).json()
                path = f"/agreements/{created['id']}"
                for _ in range(5):  # warm up every path once
                    await http.get("/healthz")
                    await http.get(path, headers=auth)
                    await http.post(f"{path}/actions", json={"type": "comment", "text": "w"}, headers=auth)
                baseline = await _atimed(lambda: http.get("/healthz"), n, "healthz")
                reads = await _atimed(lambda: http.get(path, headers=auth), n, "snapshot reads")
                actions = await _atimed(
                    lambda: http.post(f"{path}/actions", json={"type": "comment", "text": "b"}, headers=auth),
                    n,
                    "actions",
                )
                creates = await _atimed(
                    lambda: http.post("/agreements", json=body, headers=auth), max(10, n // 5), "creates"
                )
            await engine.dispose()
        finally:
            await env.shutdown()
            pg.stop()
    _report(
        "api (in-process HTTP, dev server, embedded PostgreSQL)",
        [("GET /agreements/{id}", reads), ("POST …/actions (comment)", actions), ("POST /agreements", creates)],
        baseline,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("which", nargs="*", choices=["decider", "api"], default=["decider", "api"])
    parser.add_argument("--n", type=int, default=100, help="samples per measure")
    args = parser.parse_args(argv)
    if "decider" in args.which:
        bench_decider(args.n)
    if "api" in args.which:
        asyncio.run(bench_api(args.n))


if __name__ == "__main__":
    main()
