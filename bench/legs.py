"""The two write legs, driven the same way: N agreements, C at a time, each taken through
the whole KSDD procedure by one client in order.

- Pakta: over HTTP as a client would (`POST /agreements`, `POST /documents` before a draft,
  `POST /agreements/{id}/actions` with each party's bearer token), notifications on: every
  region has contacts for its staff, approvers and signatories and a webhook for every event.
  Requests go over kept HTTP/1.1 connections (`bench.http11`), one per client.
- raw: the same number of transitions per agreement as Updates on `bench.raw_workflow`,
  through the Temporal client, local-activity or regular-activity variant.

Only the actions (Updates) count as transitions; creation and uploads take wall time
in both legs but have their own latencies.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from temporalio.client import Client

from bench.accounting import cpu_seconds, save_wal_split, spent, wal_counters, wal_per_transition, wal_split_file
from bench.http11 import KeptConnection, KeptConnections
from bench.procedure import ACTIONS_PER_AGREEMENT, KSDD_STEPS, Pair, Step, proposal
from bench.progress import Bar, latency_ms
from bench.raw import RAW_TASK_QUEUE
from bench.raw_workflow import RAW_WORKFLOW, RawPlan, RawTransition
from bench.stack import BenchStack
from services.auth import mint_token
from services.store.db import driver_dsn


@dataclass
class Leg:
    name: str
    agreements: int
    clients: int
    transitions: int = 0
    wall_s: float = 0.0
    actions: list[float] = field(default_factory=list)
    creates: list[float] = field(default_factory=list)
    uploads: list[float] = field(default_factory=list)
    cpu_s: dict[str, float] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    deliveries: int = 0  # mails and webhook requests the receivers got during the leg
    wal: dict[str, int] = field(default_factory=dict)  # PostgreSQL's WAL counters' growth (`wal_counters`)

    def joined(self, other: Leg) -> Leg:
        """This leg and `other` (the same measure run again) as one: their transitions,
        latencies, wall time and CPU added up — a floor measured before and after what it
        is compared with, so a machine whose speed drifts meanwhile weighs on both alike."""
        cpu = dict(self.cpu_s)
        for process, seconds in other.cpu_s.items():
            cpu[process] = cpu.get(process, 0.0) + seconds
        return Leg(
            name=self.name,
            agreements=self.agreements + other.agreements,
            clients=self.clients,
            transitions=self.transitions + other.transitions,
            wall_s=self.wall_s + other.wall_s,
            actions=[*self.actions, *other.actions],
            creates=[*self.creates, *other.creates],
            uploads=[*self.uploads, *other.uploads],
            cpu_s=cpu,
            ids=[*self.ids, *other.ids],
            deliveries=self.deliveries + other.deliveries,
            wal={name: self.wal.get(name, 0) + other.wal.get(name, 0) for name in {*self.wal, *other.wal}},
        )

    def cpu_ms_per_transition(self, processes: list[str]) -> float:
        return round(1e3 * sum(self.cpu_s.get(p, 0.0) for p in processes) / max(1, self.transitions), 1)

    def cpu_ms_per_delivery(self, processes: list[str]) -> float:
        if not self.deliveries or not processes:
            return math.nan
        return round(1e3 * sum(self.cpu_s.get(p, 0.0) for p in processes) / self.deliveries, 2)

    def summary(
        self, processes: list[str], path: list[str] | None = None, senders: Sequence[str] = ()
    ) -> dict[str, Any]:
        """`processes`: the total; `path`: those on the transition path (not the
        dispatchers); `senders`: the dispatcher processes, whose CPU goes per delivery."""
        return {
            "agreements": self.agreements,
            "clients": self.clients,
            "transitions": self.transitions,
            "wall_s": round(self.wall_s, 2),
            "transitions_per_s": round(self.transitions / self.wall_s, 2) if self.wall_s else 0.0,
            "action": latency_ms(self.actions),
            "create": latency_ms(self.creates),
            "upload": latency_ms(self.uploads),
            "cpu_s_by_process": self.cpu_s,
            "cpu_ms_per_transition": self.cpu_ms_per_transition(processes),
            "cpu_ms_per_transition_path": self.cpu_ms_per_transition(path if path is not None else processes),
            "deliveries": self.deliveries,
            "cpu_ms_per_delivery": self.cpu_ms_per_delivery(list(senders)),
            "wal_per_transition": wal_per_transition(self.wal, self.transitions),
            "cpu_ms_per_transition_by_process": {
                p: round(1e3 * s / max(1, self.transitions), 1) for p, s in self.cpu_s.items()
            },
        }


async def _run_leg(
    stack: BenchStack,
    leg: Leg,
    drive: Callable[[int, Bar], Awaitable[None]],
    settle: Callable[[], Awaitable[None]] | None = None,
) -> Leg:
    """Run `drive(i)` for every agreement i, `leg.clients` at a time; account the CPU the
    stack spent meanwhile (and while `settle` waits for the work the leg left running)."""
    roots = stack.processes()
    bar = Bar(leg.name, leg.agreements * ACTIONS_PER_AGREEMENT)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(leg.agreements):
        queue.put_nowait(i)

    async def client() -> None:
        while not queue.empty():
            await drive(queue.get_nowait(), bar)

    superuser = driver_dsn(stack.postgres.url)
    wal_before = await wal_counters(superuser)
    before = cpu_seconds(roots)
    delivered = stack.mail.messages + stack.hooks.requests
    started = time.perf_counter()
    try:
        await asyncio.gather(*(client() for _ in range(leg.clients)))
    finally:
        bar.close()
    leg.wall_s = time.perf_counter() - started
    if settle is not None:
        await settle()
    leg.cpu_s = spent(before, cpu_seconds(roots))
    wal_after = await wal_counters(superuser)
    leg.wal = {name: wal_after[name] - wal_before[name] for name in wal_after}
    leg.deliveries = stack.mail.messages + stack.hooks.requests - delivered
    leg.transitions = len(leg.actions)
    split = wal_split_file()
    if split is not None:
        await save_wal_split(superuser, leg.name, wal_before["bytes"], wal_after["bytes"], leg.transitions, split)
    return leg


# ---------------------------------------------------------------- Pakta over HTTP


class Tokens:
    def __init__(self, stack: BenchStack) -> None:
        self.settings = stack.settings
        self._cache: dict[tuple[str, str, tuple[str, ...]], dict[str, str]] = {}

    def auth(self, org: str, role: str, gates: tuple[str, ...] = ()) -> dict[str, str]:
        key = (org, role, gates)
        if key not in self._cache:
            token = mint_token(
                self.settings, sub=f"{role}@{org}", org=org, roles=[role], gates=list(gates), ttl_seconds=24 * 3600
            )
            self._cache[key] = {"Authorization": f"Bearer {token}"}
        return self._cache[key]

    def of(self, pair: Pair, step: Step) -> dict[str, str]:
        return self.auth(pair.org(step.side), step.role, step.gates)


async def register_notifications(stack: BenchStack, pairs: list[Pair]) -> None:
    """Each region's contacts (staff, review and legal approvers, signatory) and one webhook
    for every event, pointing at the bench's SMTP sink (the stack's SMTP settings) and its
    webhook receiver."""
    tokens = Tokens(stack)
    people = (("staff", ()), ("approver", ("review", "legal")), ("signatory", ()))
    http = KeptConnection(stack.apis[0].url)
    try:
        for org in (org for pair in pairs for org in pair.orgs):
            staff = tokens.auth(org, "staff")
            for role, gates in people:
                contact = {"name": f"{role} {org}", "email": f"{role}@{org}.example.go.id", "roles": [role]}
                answer = await http.post("/contacts", staff, json_body={**contact, "gates": list(gates)})
                _answered("POST /contacts", answer, 201)
            hook = {"url": stack.hooks.url(f"/{org}"), "events": ["*"]}
            _answered("POST /webhooks", await http.post("/webhooks", staff, json_body=hook), 201)
    finally:
        http.close()


async def pakta_leg(stack: BenchStack, name: str, pairs: list[Pair], agreements: int, clients: int) -> Leg:
    leg = Leg(name, agreements, clients)
    tokens = Tokens(stack)
    # One kept connection per client and API (bench.http11: a tenth of httpx's CPU per request,
    # which the bench's process would otherwise take from the stack it measures).
    pools = [KeptConnections(api.url, clients) for api in stack.apis]
    run = uuid.uuid4().hex[:6]

    async def drive(i: int, bar: Bar) -> None:
        async with pools[i % len(pools)].connection() as http:
            await take_through_the_procedure(http, i, bar)

    async def take_through_the_procedure(http: KeptConnection, i: int, bar: Bar) -> None:
        pair = pairs[i % len(pairs)]
        started = time.perf_counter()
        answer = await http.post(
            "/agreements", tokens.auth(pair.initiator, "staff"), json_body=proposal(pair, f"Bench {run} #{i}")
        )
        leg.creates.append(time.perf_counter() - started)
        agreement_id = _answered("POST /agreements", answer, 201)["id"]
        leg.ids.append(agreement_id)
        for n, step in enumerate(KSDD_STEPS):
            body = dict(step.command)
            if step.uploads:
                started = time.perf_counter()
                answer = await http.post(
                    "/documents",
                    tokens.auth(pair.org(step.side), "staff"),
                    content=f"# {agreement_id} draft {n}\n\nPasal 1.\n".encode(),
                    content_type="text/markdown",
                )
                leg.uploads.append(time.perf_counter() - started)
                body["document"] = _answered("POST /documents", answer, 201)["sha256"]
            started = time.perf_counter()
            path = f"/agreements/{agreement_id}/actions"
            answer = await http.post(path, tokens.of(pair, step), json_body=body)
            leg.actions.append(time.perf_counter() - started)
            _answered(f"POST {path}", answer, 200)
            bar.advance()

    try:
        return await _run_leg(stack, leg, drive, settle=lambda: _deliveries_settled(stack))
    finally:
        for pool in pools:
            pool.close()


async def _deliveries_settled(stack: BenchStack, quiet_s: float = 2.0, limit_s: float = 60.0) -> None:
    """Wait until no mail or webhook has arrived for `quiet_s`: deliveries run after the
    action has answered, and their CPU belongs to the leg."""
    deadline = time.monotonic() + limit_s
    last, quiet_since = (-1, -1), time.monotonic()
    while time.monotonic() < deadline:
        now = (stack.mail.messages, stack.hooks.requests)
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return
        await asyncio.sleep(0.2)


def _answered(request: str, answer: tuple[int, bytes], status: int) -> Any:
    """The JSON of an answer of `status`; anything else stops the bench with what it said."""
    got, body = answer
    if got != status:
        raise RuntimeError(f"{request}: {got} {body[:500].decode(errors='replace')}")
    return json.loads(body)


def _expect(resp: httpx.Response, status: int) -> Any:
    """`_answered` for an httpx response (bench.sleepers creates its agreements with httpx)."""
    if resp.status_code != status:
        raise RuntimeError(f"{resp.request.method} {resp.request.url.path}: {resp.status_code} {resp.text[:500]}")
    return resp.json()


# ---------------------------------------------------------------- raw Temporal


async def raw_leg(stack: BenchStack, client: Client, name: str, agreements: int, clients: int, *, local: bool) -> Leg:
    leg = Leg(name, agreements, clients)
    run = uuid.uuid4().hex[:6]

    async def drive(i: int, bar: Bar) -> None:
        started = time.perf_counter()
        handle = await client.start_workflow(
            RAW_WORKFLOW,
            RawPlan(transitions=ACTIONS_PER_AGREEMENT, local=local),
            id=f"bench-raw-{run}-{i}",
            task_queue=RAW_TASK_QUEUE,
        )
        leg.creates.append(time.perf_counter() - started)
        leg.ids.append(handle.id)
        for version, step in enumerate(KSDD_STEPS):
            started = time.perf_counter()
            transition = RawTransition(version, str(step.command["type"]), f"{step.side}:{step.role}")
            await handle.execute_update("transition", transition, result_type=int)
            leg.actions.append(time.perf_counter() - started)
            bar.advance()
        await handle.result()

    return await _run_leg(stack, leg, drive)
