"""The stack `make bench` runs on: started the way `pakta dev` starts it (embedded
PostgreSQL with its roles and passwords, the Temporal dev server with its UI, the same
migrations and the same settings, from `services.devstack`), except that the API, the
worker and the outbox dispatcher run as separate processes (`pakta api`, `pakta worker`
with `PAKTA_WORKER_DISPATCH=false`, `pakta dispatcher`) — N, M and D of them; with D = 0 the
workers dispatch, as one `pakta worker` does by default — so the operating system accounts
their CPU apart; plus the raw baseline's worker (`bench.raw`), an SMTP sink and a webhook
receiver.

Every server listens on 127.0.0.1 on a free port; every child dies with the bench.

With `BENCH_PG_STATEMENTS=<file>` in the environment, PostgreSQL runs with
`pg_stat_statements` (every statement, nested ones and planning included) and its totals
are written to `<file>` as JSON when the stack stops — what each statement cost, for the
profile (docs/performance-log.md). Unset, nothing of it is loaded. With
`BENCH_TEMPORAL_METRICS=<file>`, the Temporal dev server serves its metrics on a known port
and the legs' server counts per transition go to `<file>` (`bench.temporal_metrics`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import psutil

from bench.receivers import MailCounter, WebhookCounter
from bench.temporal_metrics import metrics_file
from services.devstack import dev_settings, migrate_dev_database
from services.embedded.ports import free_port
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.process import spawn, stop_process
from services.embedded.temporal import EmbeddedTemporal
from services.settings import Settings
from services.store.db import driver_dsn


@dataclass
class Service:
    """One Python process of the stack: `pakta api`, `pakta worker`, `pakta dispatcher` or
    the raw worker."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class BenchStack:
    data_dir: Path
    postgres: EmbeddedPostgres
    temporal: EmbeddedTemporal
    settings: Settings
    mail: MailCounter
    hooks: WebhookCounter
    apis: list[Service] = field(default_factory=list)
    workers: list[Service] = field(default_factory=list)
    dispatchers: list[Service] = field(default_factory=list)
    raw_worker: Service | None = None

    @property
    def services(self) -> list[Service]:
        return [*self.apis, *self.workers, *self.dispatchers, *([self.raw_worker] if self.raw_worker else [])]

    def processes(self) -> dict[str, psutil.Process]:
        """The roots the CPU accounting follows (each with its children)."""
        roots = {"temporal": self.temporal.process, "postgres": self.postgres.process}
        found = {name: psutil.Process(p.pid) for name, p in roots.items() if p is not None}
        found.update({s.name: psutil.Process(s.process.pid) for s in self.services})
        return found


async def start_stack(
    data_dir: Path,
    *,
    apis: int = 1,
    api_processes: int = 1,
    workers: int = 1,
    dispatchers: int = 1,
    search_attributes: bool = True,
) -> BenchStack:
    """Start everything (children are spawned from the calling thread, which must be the
    main one: see services/embedded/process.py) and wait until it answers. Without
    `search_attributes`, agreements run as with `PAKTA_TEMPORAL_SEARCH_ATTRIBUTES=false`:
    what the operators' search attributes cost, measured."""
    postgres = EmbeddedPostgres(data_dir, free_port(), secured=True)
    metrics_port = free_port() if metrics_file() is not None else None
    temporal = EmbeddedTemporal(data_dir, free_port(), free_port(), metrics_port=metrics_port)
    mail = MailCounter().start()
    hooks = await WebhookCounter().start()
    stack = BenchStack(data_dir, postgres, temporal, Settings(), mail, hooks)
    try:
        postgres.start()
        if statements_file() is not None:
            await _load_statements(postgres)
        temporal.spawn()
        ports = [free_port() for _ in range(apis)]
        stack.settings = dev_settings(data_dir, postgres, temporal, api_port=ports[0], smtp_port=mail.port)
        stack.settings = stack.settings.model_copy(update={"temporal_search_attributes": search_attributes})
        await migrate_dev_database(stack.settings, postgres)
        await temporal.wait_ready()
        for i, port in enumerate(ports):
            served_by = {"PAKTA_API_PROCESSES": str(api_processes)}  # its CPU: the process and its children
            stack.apis.append(_service(stack, f"api-{i + 1}", ["services.cli", "api"], port=port, extra=served_by))
        dispatch = {"PAKTA_WORKER_DISPATCH": "false"} if dispatchers > 0 else {}
        for i in range(workers):
            stack.workers.append(_service(stack, f"worker-{i + 1}", ["services.cli", "worker"], extra=dispatch))
        for i in range(dispatchers):
            stack.dispatchers.append(_service(stack, f"dispatcher-{i + 1}", ["services.cli", "dispatcher"]))
        stack.raw_worker = _service(stack, "raw-worker", ["bench.raw"], extra={"BENCH_RAW_DSN": owner_dsn(postgres)})
        await _until_ready(stack)
    except BaseException:
        await stop_stack(stack)
        raise
    return stack


async def stop_stack(stack: BenchStack) -> None:
    for service in stack.services:
        stop_process(service.process, signal.SIGTERM, timeout=25)
    stack.temporal.stop()
    target = statements_file()
    if target is not None and stack.postgres.process is not None:
        await _save_statements(stack.postgres, target)
    stack.postgres.stop()
    stack.mail.stop()
    await stack.hooks.stop()


def service_env(settings: Settings) -> dict[str, str]:
    """`settings` as the PAKTA_* variables a `pakta api` or `pakta worker` reads."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAKTA_")}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, list):
            text = ",".join(str(v) for v in value)
        elif isinstance(value, dict):
            text = json.dumps(value)
        else:
            text = str(value)
        env[f"PAKTA_{name.upper()}"] = text
    return env


def owner_dsn(postgres: EmbeddedPostgres) -> str:
    # The raw worker makes its own table: it connects as the database's owner, with asyncpg.
    return driver_dsn(postgres.owner_url)


STATEMENTS_ENV = "BENCH_PG_STATEMENTS"


def statements_file() -> Path | None:
    """Where the per-statement totals go, when asked for."""
    value = os.environ.get(STATEMENTS_ENV)
    return Path(value) if value else None


async def _load_statements(postgres: EmbeddedPostgres) -> None:
    # A preloaded library takes a restart; the migrations and every process come after it.
    connection = await asyncpg.connect(driver_dsn(postgres.url))
    try:
        await connection.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        await connection.execute("ALTER SYSTEM SET pg_stat_statements.track = 'all'")
        await connection.execute("ALTER SYSTEM SET pg_stat_statements.track_planning = on")
    finally:
        await connection.close()
    postgres.stop()
    postgres.start()
    connection = await asyncpg.connect(driver_dsn(postgres.url))
    try:
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    finally:
        await connection.close()


async def _save_statements(postgres: EmbeddedPostgres, target: Path) -> None:
    connection = await asyncpg.connect(driver_dsn(postgres.url))
    try:
        rows = await connection.fetch(
            "SELECT s.query, s.toplevel, r.rolname AS role, s.calls, s.plans, s.total_exec_time, s.total_plan_time,"
            " s.rows, s.shared_blks_hit, s.shared_blks_read, s.shared_blks_dirtied,"
            " s.wal_records, s.wal_fpi, s.wal_bytes"
            " FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid"
            " ORDER BY s.total_exec_time + s.total_plan_time DESC"
        )
        wal = await connection.fetchrow("SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal")
        # Updates that stayed on their page without index entries (HOT) against all, and which
        # indexes anything read: what a table's indexes cost its writes and what they earn.
        tables = await connection.fetch(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables ORDER BY n_tup_upd DESC"
        )
        indexes = await connection.fetch(
            "SELECT relname, indexrelname, idx_scan FROM pg_stat_user_indexes ORDER BY relname, indexrelname"
        )
    finally:
        await connection.close()
    report = {
        "wal": {key: int(value) for key, value in dict(wal or {}).items()},
        "tables": [dict(row) for row in tables],
        "indexes": [dict(row) for row in indexes],
        "statements": [{key: (int(v) if key == "wal_bytes" else v) for key, v in dict(row).items()} for row in rows],
    }
    await asyncio.to_thread(target.write_text, json.dumps(report, indent=1, default=str))


def _service(
    stack: BenchStack, name: str, module: list[str], *, port: int | None = None, extra: dict[str, str] | None = None
) -> Service:
    settings = stack.settings if port is None else stack.settings.model_copy(update={"api_port": port})
    env = service_env(settings) | (extra or {})
    log_path = stack.data_dir / f"{name}.log"
    with log_path.open("ab") as log:
        process = spawn([sys.executable, "-m", *module], stdout=log, env=env, death_signal=signal.SIGTERM)
    return Service(name, process, log_path, port)


async def _until_ready(stack: BenchStack, timeout: float = 90.0) -> None:  # noqa: ASYNC109 -- named in the error
    deadline = time.monotonic() + timeout
    waiting = {s.name for s in stack.services}
    async with httpx.AsyncClient(timeout=2) as http:
        while waiting:
            for service in stack.services:
                if service.name not in waiting:
                    continue
                if service.process.poll() is not None:
                    tail = service.log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{service.name} exited at start (log {service.log_path}):\n{tail}")
                if await _ready(http, service):
                    waiting.discard(service.name)
            if time.monotonic() > deadline:
                names = ", ".join(sorted(waiting))
                raise RuntimeError(f"not ready in {timeout:.0f}s: {names} (logs in {stack.data_dir})")
            await asyncio.sleep(0.2)


async def _ready(http: httpx.AsyncClient, service: Service) -> bool:
    if service.port is not None:
        try:
            return (await http.get(f"{service.url}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False
    # Workers say so in their log once they poll (`worker_started`; the raw one
    # `raw_worker_started`), dispatchers once they run (`dispatcher_started`).
    text = service.log_path.read_text(errors="replace")
    return "worker_started" in text or "dispatcher_started" in text
