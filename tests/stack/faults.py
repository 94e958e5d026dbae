"""A production-shaped topology on loopback for fault tests, and clients that drive
agreements through it while its processes are killed and restarted.

- `Topology`: embedded PostgreSQL, the Temporal dev server on a persistence file, an SMTP
  sink, and `pakta worker` / `pakta api` as separate OS processes (so each can be killed
  alone with SIGKILL, as an operator's `kill -9` or the OOM killer would).
- `ApiAddress`: where the drivers reach the API, unset while it is down (see there).
- `Driver`: moves one agreement from creation into implementation over HTTP, as its people
  would: it reads the snapshot, sends whichever command is owed, and retries after
  connection errors and 5xx with the same Idempotency-Key (derived from the version the
  command was decided against). It remembers every command answered 2xx.
- `check_outcome`: what must hold afterwards — every accepted command in the audit trail,
  chains valid, stage reached, every agreement still taking commands, mail delivered.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from services.auth import mint_token
from services.embedded.ports import free_port
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.temporal import EmbeddedTemporal
from services.settings import Settings
from services.store.migrate import upgrade_database
from tests.fixtures.ports import on_free_ports, on_free_ports_async, started_temporal, taken
from tests.fixtures.servers import started_postgres
from tests.receivers import MailSink

ROOT = Path(__file__).resolve().parents[2]
SECRET = "fAuLt-5x9LqZ7vN2mK8rT4yB6hJ1cF5dG0sA"
RETRYABLE = (httpx.TransportError,)


class ApiAddress:
    """Where the drivers reach the API: set only while our own API serves there, unset (None)
    from the moment it is killed until it serves again, perhaps on another port.

    A port left free by a killed API can be taken by a suite running beside this one before
    the restart binds it; the restart then comes up on another port. A driver that kept the
    old URL would reach the other suite's server (and fail on its answers), so it reads the
    address at each try, and while it is unset waits as for a connection refused. The
    address is unset before the kill's signal is sent, synchronously (no driver runs in
    between), and set only once our process listens on the port, which no one else can
    take while it does: a driver never reaches a port that is not our API's."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url


class Topology:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.pg = EmbeddedPostgres(data_dir / "pg", free_port())
        self.temporal = EmbeddedTemporal(data_dir / "temporal", free_port(), ui_port=None)
        self.sink = MailSink()
        self.api_port = free_port()
        self.address = ApiAddress()  # the drivers' way to the API
        self.task_queue = f"faults-{uuid.uuid4().hex[:8]}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}
        self.log_starts: dict[str, int] = {}  # where each process's last start begins in its log

    @property
    def settings(self) -> Settings:
        return Settings(
            env="dev",
            database_url=self.pg.url,
            temporal_address=self.temporal.address,
            temporal_task_queue=self.task_queue,
            jwt_secret=SECRET,
            metrics_port=0,
        )

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("PAKTA_")},
            "PAKTA_ENV": "dev",
            "PAKTA_DATABASE_URL": self.pg.url,
            "PAKTA_TEMPORAL_ADDRESS": self.temporal.address,
            "PAKTA_TEMPORAL_TASK_QUEUE": self.task_queue,
            "PAKTA_JWT_SECRET": SECRET,
            "PAKTA_SMTP_HOST": "127.0.0.1",
            "PAKTA_SMTP_PORT": str(self.sink.port),
            "PAKTA_METRICS_PORT": "0",
            "PAKTA_API_HOST": "127.0.0.1",
            "PAKTA_API_PORT": str(self.api_port),
            "PAKTA_PORTFOLIO_SWEEP": "false",
            "PAKTA_DELIVERY_RETRY_INITIAL_SECONDS": "0.5",
            "PAKTA_DELIVERY_RETRY_MAX_SECONDS": "2",
            "PAKTA_LOG_JSON": "true",
        }

    async def start(self) -> None:
        self.sink.start()
        # Started on other ports if a suite beside this one took one first (a restart below
        # tries the port it had first, and moves only if that was taken meanwhile).
        self.pg = on_free_ports(lambda port: started_postgres(EmbeddedPostgres(self.data_dir / "pg", port)))
        await upgrade_database(self.settings)
        self.temporal = await started_temporal(self.data_dir / "temporal")
        self.start_process("worker")
        await self.start_api()

    async def start_api(self) -> None:
        """`pakta api` on its port, ready, or, if another process took that port before the
        API bound it (a suite running beside this one, even in the seconds a killed API is
        down), on another free one; then the drivers' address is set to it. The API binds
        its port itself, as in production, so the port is drawn again rather than handed over
        bound: uvicorn reads an inherited descriptor (`fd`) as a Unix socket's, and a setting
        only tests use would be one more way to start it."""

        async def start(port: int) -> None:
            self.api_port = port
            self.start_process("api")
            await self.wait_api()

        try:
            await start(self.api_port)
        except AssertionError as error:
            if not taken(error):
                raise
            await on_free_ports_async(start)
        self.address.url = self.api

    def start_process(self, name: str) -> None:
        log = self.data_dir / f"{name}.log"
        self.logs[name] = log
        with log.open("ab") as out:
            self.log_starts[name] = out.tell()
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "services.cli", name],
                cwd=ROOT,
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self, name: str) -> None:
        if name == "api":
            self.address.url = None  # before the signal: from now on its port may be anyone's
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    async def wait_api(self, timeout: float = 60) -> None:  # noqa: ASYNC109  (polls another process)
        """Until our API answers ready: its process alive and listening on the port, so a
        server of another suite that took the port is never taken for it. If it exited, its
        log since its start is raised (uvicorn's "address already in use" for a taken port)."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as http:
            while time.monotonic() < deadline:
                process = self.processes["api"]
                if process.poll() is not None:
                    raise AssertionError(f"the API exited ({process.returncode}):\n{self.since_start('api')}")
                try:
                    if (await http.get(f"{self.api}/readyz")).status_code == 200 and self._serves_api_port():
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError(f"API not ready in {timeout}s:\n{self.tail('api')}")

    def _serves_api_port(self) -> bool:
        """Is it our `pakta api` (or a process of its own, `PAKTA_API_PROCESSES`) that
        listens on the API's port?"""
        try:
            api = psutil.Process(self.processes["api"].pid)
            ours = [api, *api.children(recursive=True)]
            return any(
                s.status == psutil.CONN_LISTEN and s.laddr and s.laddr.port == self.api_port
                for process in ours
                for s in process.net_connections(kind="tcp")
            )
        except psutil.Error:  # it, or one of its processes, has exited
            return False

    def since_start(self, name: str) -> str:
        """What process `name` has logged since its last start."""
        with self.logs[name].open("rb") as log:
            log.seek(self.log_starts[name])
            return log.read().decode(errors="replace")

    async def start_postgres_again(self) -> bool:
        """PostgreSQL started again on its data after a stop: on its port, or, if another
        process took that port while it was down (a suite running beside this one), on
        another free one, and then the API and the worker restarted to follow it. Whether it
        moved: then the API and the worker are new processes, and a test of how they live
        through the outage has not tested it (`untested_if_moved`)."""
        try:
            started_postgres(self.pg)
        except RuntimeError as error:
            if not taken(error):
                raise
            self.pg = on_free_ports(lambda port: started_postgres(EmbeddedPostgres(self.data_dir / "pg", port)))
            await self.restart_clients()
            return True
        return False

    async def restart_temporal(self) -> bool:
        """The Temporal dev server stopped and started again on its persistence file: on its
        port, or, if another process took that port while it was down, on another free one,
        and then the API and the worker restarted to follow it. Whether it moved (as
        `start_postgres_again`)."""
        self.temporal.stop()
        self.temporal.spawn()
        try:
            await self.temporal.wait_ready()
        except RuntimeError as error:
            self.temporal.stop()
            if not taken(error):
                raise
            self.temporal = await started_temporal(self.data_dir / "temporal")
            await self.restart_clients()
            return True
        return False

    async def restart_clients(self) -> None:
        """The API and the worker, those of them running, stopped and started again on the
        servers' current addresses. Both read PostgreSQL's URL and Temporal's address once,
        at their start (their settings, their connection pools and clients), and neither
        can be told a new one: a server that moved is followed only by a restart, as an
        operator would do. The drivers wait meanwhile (`ApiAddress`), and follow the API if
        it moves too."""
        running = [name for name in ("api", "worker") if self.processes[name].poll() is None]
        if "api" in running:
            self.address.url = None  # before it stops: from then on its port may be anyone's
        for name in running:
            self.processes[name].send_signal(signal.SIGTERM)
        for name in running:
            try:
                self.processes[name].wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.processes[name].pid, signal.SIGKILL)
                self.processes[name].wait(timeout=10)
        if "worker" in running:
            self.start_process("worker")
        if "api" in running:
            await self.start_api()

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.logs.get(name)
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path and path.exists() else ""

    async def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.temporal.stop()
        self.pg.stop()
        self.sink.stop()


@dataclass(frozen=True)
class Person:
    sub: str
    org: str
    roles: tuple[str, ...]
    gates: tuple[str, ...] = ()


@dataclass
class Driver:
    """One agreement between a region and a university (KSDPK), driven to implementation."""

    api: ApiAddress
    secret: str
    region: str
    university: str
    accepted: list[tuple[str, int]] = field(default_factory=list)  # (command type, version after)
    retries: int = 0
    agreement_id: str | None = None
    trace: list[str] = field(default_factory=list)  # what each action got, for a failure's message

    def people(self) -> list[Person]:
        return [
            Person(f"staf@{self.region}", self.region, ("staff",)),
            Person(f"mitra@{self.university}", self.university, ("partner",)),
            Person(f"penyetuju@{self.region}", self.region, ("approver",), ("review", "legal", "dprd", "head")),
            Person(f"ttd@{self.region}", self.region, ("signatory",)),
            Person(f"rektor@{self.university}", self.university, ("signatory",)),
        ]

    def auth(self, person: Person) -> dict[str, str]:
        token = mint_token(
            Settings(jwt_secret=self.secret), sub=person.sub, org=person.org, roles=person.roles, gates=person.gates
        )
        return {"Authorization": f"Bearer {token}"}

    async def call(
        self, http: httpx.AsyncClient, method: str, path: str, person: Person, *, deadline: float, **kwargs: Any
    ) -> httpx.Response:
        """A request retried while the stack is down or restarting: connection errors, 5xx,
        and no address (the API killed, not yet serving again)."""
        delay = 0.2
        headers = {**self.auth(person), **kwargs.pop("headers", {})}  # every retry sends them all
        while True:
            try:
                if (api := self.api.url) is not None:
                    response = await http.request(method, f"{api}{path}", headers=headers, **kwargs)
                    if response.status_code < 500:
                        return response
            except RETRYABLE:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} {path} kept failing")
            self.retries += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def run(self, *, timeout: float = 300) -> None:  # noqa: ASYNC109  (a deadline over many requests)
        deadline = time.monotonic() + timeout
        staff = self.people()[0]
        async with httpx.AsyncClient(timeout=30) as http:
            body = proposal(self.region, self.university)
            key = f"create-{self.region}-{self.university}"
            created = await self.call(
                http, "POST", "/agreements", staff, deadline=deadline, json=body, headers={"Idempotency-Key": key}
            )
            assert created.status_code in (200, 201), created.text
            self.agreement_id = created.json()["id"]
            self.accepted.append(("create", created.json()["version"]))
            while True:
                snapshot = (
                    await self.call(http, "GET", f"/agreements/{self.agreement_id}", staff, deadline=deadline)
                ).json()
                if snapshot["stage"] == "implementation":
                    return
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{self.agreement_id} stuck at {snapshot['stage']} v{snapshot['version']}; "
                        "its last actions:\n" + "\n".join(self.trace[-12:])
                    )
                step = await self.next_command(http, snapshot, deadline)
                person, command = step
                response = await self.call(
                    http,
                    "POST",
                    f"/agreements/{self.agreement_id}/actions",
                    person,
                    deadline=deadline,
                    json=command,
                    headers={"Idempotency-Key": f"{self.agreement_id}-v{snapshot['version']}"},
                )
                answer = f"v{response.json()['version']}" if response.status_code == 200 else response.text[:300]
                replayed = " (replayed)" if response.headers.get("Idempotent-Replayed") else ""
                self.trace.append(
                    f"v{snapshot['version']} {person.sub} {command['type']} → {response.status_code}{replayed} {answer}"
                )
                if response.status_code == 200:
                    self.accepted.append((command["type"], response.json()["version"]))
                elif response.status_code not in (409, 412):  # lost a race with our own retry: re-read
                    raise AssertionError(f"{command} → {response.status_code} {response.text}")

    async def next_command(
        self, http: httpx.AsyncClient, snapshot: dict[str, Any], deadline: float
    ) -> tuple[Person, dict[str, Any]]:
        aid = snapshot["id"]
        for person in self.people():
            seen = (await self.call(http, "GET", f"/agreements/{aid}", person, deadline=deadline)).json()
            allowed = seen["allowed_actions"]
            if "submit" in allowed:
                return person, {"type": "submit"}
            if "decide" in allowed:
                gate = next(
                    g["gate"]
                    for g in seen["gates"]
                    if g["status"] == "pending" and g["gate"] in person.gates and g["org"] in (None, person.org)
                )
                return person, {"type": "decide", "gate": gate, "outcome": "approve"}
            if "sign" in allowed:
                agreed = seen["drafts"][-1]["version"]
                return person, {"type": "sign", "version": agreed, "method": "electronic"}
            if "accept_draft" in allowed and seen["drafts"]:
                latest = seen["drafts"][-1]
                if person.org not in latest["accepted_by"]:
                    return person, {"type": "accept_draft", "version": latest["version"]}
        # Nobody owes a decision: the step wants a document from the region's staff.
        staff = self.people()[0]
        upload = await self.call(
            http,
            "POST",
            "/documents",
            staff,
            deadline=deadline,
            content=f"# {snapshot['step']['key']} {aid}\n".encode(),
            headers={"Content-Type": "text/markdown"},
        )
        assert upload.status_code in (200, 201), upload.text
        return staff, {"type": "submit_draft", "document": upload.json()["sha256"]}


def proposal(region: str, university: str) -> dict[str, Any]:
    return {
        "title": f"Riset bersama {region} – {university}",
        "kind": "ksdpk",
        "objectives": "Riset terapan untuk ketahanan pangan daerah.",
        "sector": "research",
        "parties": [
            {"org": region, "role": "initiator", "sector": "government", "signatory": "Bupati"},
            {"org": university, "role": "counterparty", "sector": "academia", "signatory": "Rektor"},
        ],
        "start_date": "2027-01-01",
        "duration_months": 24,
    }


async def check_outcome(drivers: list[Driver], *, expected_stage: str = "implementation") -> dict[str, int]:
    """Every accepted command is in the trail, chains verify, the stage was reached, and
    every agreement still takes a command at once. Returns totals for the report."""
    totals: Counter[str] = Counter()
    async with httpx.AsyncClient(timeout=30) as http:
        for driver in drivers:
            assert driver.agreement_id is not None
            staff, deadline = driver.people()[0], time.monotonic() + 120
            aid = driver.agreement_id
            snapshot = (await driver.call(http, "GET", f"/agreements/{aid}", staff, deadline=deadline)).json()
            assert snapshot["stage"] == expected_stage, (aid, snapshot["stage"])
            events = (await driver.call(http, "GET", f"/agreements/{aid}/events", staff, deadline=deadline)).json()[
                "events"
            ]
            if expected_stage == "implementation":
                # Procedure 2026.1: the TKKSD approved the drafted KSB on the way (`decide`).
                assert snapshot["procedure"] == {"key": "ksdpk", "version": "2026.1"}, snapshot["procedure"]
                decided = {e["data"]["step"] for e in events if e["type"] == "gate_decided"}
                assert decided == {"persiapan", "persetujuan_ksb", "telaah_hukum"}, (aid, decided)
            versions = {e["version"] for e in events}
            lost = [(kind, v) for kind, v in driver.accepted if v not in versions]
            assert not lost, f"accepted commands missing from the trail of {aid}: {lost}"
            assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
            verify = (
                await driver.call(http, "GET", f"/agreements/{aid}/events/verify", staff, deadline=deadline)
            ).json()
            assert verify["valid"] and verify["count"] == len(events), verify
            comment = await driver.call(
                http,
                "POST",
                f"/agreements/{aid}/actions",
                staff,
                deadline=deadline,
                json={"type": "comment", "text": "Masih menerima perintah."},
            )
            assert comment.status_code == 200, comment.text
            totals["agreements"] += 1
            totals["accepted"] += len(driver.accepted)
            totals["retries"] += driver.retries
            totals["superseded"] += verify.get("superseded", 0)
    return dict(totals)


async def run_burst(
    api: ApiAddress, secret: str, count: int, tag: str
) -> tuple[list[Driver], list[asyncio.Task[None]]]:
    drivers = [Driver(api, secret, f"kab-{tag}{i}", f"univ-{tag}{i}") for i in range(count)]
    tasks = [asyncio.create_task(d.run()) for d in drivers]
    return drivers, tasks


async def until_progress(drivers: list[Driver], commands: int, timeout: float = 60) -> None:  # noqa: ASYNC109
    """Wait until the burst has had `commands` accepted in all, so a fault lands mid-burst."""
    deadline = time.monotonic() + timeout
    while sum(len(d.accepted) for d in drivers) < commands:
        if time.monotonic() > deadline:
            raise AssertionError("the burst made no progress")
        await asyncio.sleep(0.05)
