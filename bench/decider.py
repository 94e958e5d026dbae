"""`make bench ARGS=decider`: the pure decider, in seconds, no servers.

The cost of deciding and applying one command, and of a snapshot with `allowed_actions`,
against the floor any state-carrying step pays: one pydantic round trip of the same state
(`model_validate(model_dump())`). Only the ratios compare across runs (noisy machines).
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter

from bench.procedure import KSDD_STEPS, Pair, Step, pairs, proposal
from bench.progress import note

NOW = datetime(2027, 1, 4, 2, tzinfo=UTC)


def actor(pair: Pair, step: Step) -> Any:
    from workflows import messages as m

    org = pair.org(step.side)
    return m.Actor(sub=f"{step.role}@{org}", org=org, roles=[step.role], gates=list(step.gates))


def states(pair: Pair, agreement_id: str, now: datetime = NOW) -> Iterator[Any]:
    """The agreement's state after creation and after each of the procedure's actions."""
    from workflows import lifecycle as L
    from workflows import messages as m

    commands: TypeAdapter[Any] = TypeAdapter(m.Command)
    creator = m.Actor(sub=f"staff@{pair.initiator}", org=pair.initiator, roles=["staff"])
    state: Any = None  # the state once created
    for event in L.create(m.Proposal.model_validate(proposal(pair, "Bench KSDD")), creator, now, agreement_id):
        state = L.evolve(state, event)
    yield state
    for i, step in enumerate(KSDD_STEPS):
        body = dict(step.command)
        if step.uploads:
            body["document"] = hashlib.sha256(f"{agreement_id}/{i}".encode()).hexdigest()
        for event in L.decide(state, commands.validate_python(body), actor(pair, step), now):
            state = L.evolve(state, event)
        yield state


def _timed(fn: Callable[[], Any], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def bench_decider(n: int) -> None:
    from workflows import lifecycle as L
    from workflows import messages as m

    pair = pairs(1)[0]
    note("decider: warming up")
    *_, final = states(pair, "bench")
    assert final.stage == "implementation", final.stage
    staff = m.Actor(sub="s", org=pair.initiator, roles=["staff"])
    baseline = _timed(lambda: m.AgreementState.model_validate(final.model_dump()), n * 10)
    note("decider: whole procedures")
    per_command = [s / len(KSDD_STEPS) for s in _timed(lambda: list(states(pair, "bench")), n)]
    snapshot = _timed(lambda: L.snapshot(final, staff, NOW), n * 5)
    wakeup = _timed(lambda: L.next_wakeup(final), n * 5)
    base = statistics.median(baseline)
    print(f"\ndecider (pure, one KSDD agreement)  (baseline median {base * 1e3:.3f} ms)")
    print(f"  {'measure':<34}{'median ms':>11}{'p95 ms':>10}{'× baseline':>12}")
    for name, samples in (
        ("decide + evolve, per command", per_command),
        ("snapshot with allowed_actions", snapshot),
        ("next_wakeup", wakeup),
    ):
        ordered = sorted(samples)
        p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
        median = statistics.median(samples)
        print(f"  {name:<34}{median * 1e3:>11.3f}{p95 * 1e3:>10.3f}{median / base:>12.1f}")
