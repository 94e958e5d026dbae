"""`pakta dev`: the whole stack on one machine, from Python packages alone.

Embedded PostgreSQL and the Temporal dev server run as child processes that die with us;
migrations, one worker and the API run in this process, on one event loop. Everything
persists under the data dir, so a restart continues where the last run stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import re
import secrets
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from temporalio.client import Client

from services import eventloop
from services.auth import mint_token
from services.demo import register_organisations
from services.demo import seed as seed_demo
from services.demo_people import DEMO_ORG, DEMO_USERS, demo_sub
from services.embedded.ports import free_port, port_is_free
from services.embedded.postgres import APP_ROLE, OWNER_ROLE, PASSWORDS_FILE, EmbeddedPostgres
from services.embedded.temporal import EmbeddedTemporal
from services.heap import settle_heap_for_the_worker
from services.logging import configure_logging
from services.settings import Settings
from services.store.migrate import upgrade_database
from services.store.roles import grant_application_role
from services.temporal_client import connect_temporal

DEFAULT_PG_PORT = 5433
DEFAULT_SMTP_PORT = 1025
DEMO_TOKEN_TTL = 30 * 24 * 3600


@dataclass(frozen=True)
class DevOptions:
    data_dir: Path = Path(".pakta")
    port: int = 8000
    temporal_port: int = 7233
    ui_port: int = 8233
    pg_port: int | None = None
    demo: bool = False


class StartupError(Exception):
    """A one-line reason to stop, with the exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def run_dev(options: DevOptions) -> int:
    try:
        return _run(options)
    except StartupError as exc:
        print(f"pakta dev: {exc}", file=sys.stderr, flush=True)
        return exc.code
    except KeyboardInterrupt:
        return 130


def _run(options: DevOptions) -> int:
    data_dir = options.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pg_port = _postgres_port(data_dir, options.pg_port)
    api_socket = _claim_ports(options, pg_port)
    try:
        return _run_on(options, data_dir, pg_port, api_socket)
    finally:
        api_socket.close()


def _run_on(options: DevOptions, data_dir: Path, pg_port: int, api_socket: socket.socket) -> int:
    _remember(data_dir / "pg_port", str(pg_port))

    postgres = EmbeddedPostgres(data_dir, pg_port, secured=True)
    temporal = EmbeddedTemporal(data_dir, options.temporal_port, options.ui_port)
    # The SMTP sink takes the usual dev port when it is free (so PAKTA_SMTP_PORT's default
    # matches), any free port otherwise: a busy 1025 must not stop `pakta dev`.
    smtp_port = DEFAULT_SMTP_PORT if port_is_free(DEFAULT_SMTP_PORT) else free_port()
    settings = dev_settings(data_dir, postgres, temporal, api_port=options.port, smtp_port=smtp_port)
    configure_logging(settings)
    # Keep the terminal to progress lines, URLs and real problems.
    for noisy in ("alembic", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        # Children are spawned here, on the main thread (see services/embedded/process.py).
        with _step("starting PostgreSQL"):
            claims = ((pg_port, "PostgreSQL", "--pg-port"),)
            _or_fail(postgres.start, postgres.log_path, postgres.log_since_start, claims)
        # The API and the worker use the least-privilege role; migrations, the owner's.
        settings = settings.model_copy(update={"database_url": postgres.app_url})
        with _step("starting the Temporal dev server"):
            temporal.spawn()
        eventloop.run(_serve(settings, options, postgres, temporal, api_socket))
    finally:
        with _step("stopping", quiet_if_fast=True):
            temporal.stop()
            postgres.stop()
    return 0


async def dev_mail_sink(directory: Path, port: int) -> asyncio.Server:
    """The SMTP sink on `port` (the usual 1025 when it was free at the start) or, if another
    process took it in the seconds PostgreSQL and the migrations took, on a port the kernel
    picks as it binds: a busy port must not stop `pakta dev` (nor its test beside another
    suite's)."""
    from services.embedded.mailsink import start_mail_sink

    try:
        return await start_mail_sink(directory, port)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
    return await start_mail_sink(directory, 0)


async def _serve(
    settings: Settings,
    options: DevOptions,
    postgres: EmbeddedPostgres,
    temporal: EmbeddedTemporal,
    api_socket: socket.socket,
) -> None:
    # Temporal boots while the migrations run.
    with _step("migrating the database"):
        await _or_fail_async(migrate_dev_database(settings, postgres), postgres.log_path)
    with _step("waiting for Temporal"):
        await _or_fail_async(
            temporal.wait_ready(),
            temporal.log_path,
            temporal.log_since_start,
            ((options.temporal_port, "Temporal", "--temporal-port"), (options.ui_port, "Temporal UI", "--ui-port")),
        )
    client = await connect_temporal(settings)
    assert settings.dev_mail_dir is not None
    mail_sink = await dev_mail_sink(Path(settings.dev_mail_dir), settings.smtp_port)
    settings = settings.model_copy(update={"smtp_port": mail_sink.sockets[0].getsockname()[1]})

    from services.api.app import create_app
    from services.api.server import server_options
    from services.worker.main import run_worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    worker_stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, client, stop=worker_stop), name="worker")
    server = _Server(
        uvicorn.Config(
            create_app(settings, temporal_client=client),
            host=settings.api_host,
            port=settings.api_port,
            log_config=None,
            access_log=False,
            lifespan="on",
            **server_options(),
        )
    )
    # On the socket bound when the ports were checked, so nothing took the port since.
    api = asyncio.create_task(server.serve(sockets=[api_socket]), name="api")
    with _step("starting the worker and the API"):
        while not server.started:
            if api.done() or worker.done():
                break
            await asyncio.sleep(0.05)
        if api.done() or worker.done():
            worker_stop.set()
            server.should_exit = True
            results = await asyncio.gather(api, worker, return_exceptions=True)
            errors = [repr(r) for r in results if isinstance(r, BaseException)]
            raise StartupError(f"the API or the worker failed to start: {'; '.join(errors) or 'see the log above'}")

    _announce(settings, options, temporal, postgres)
    if options.demo:
        await _seed_demo(settings, client)
    # Everything start-up built (the API's routes and schemas, the worker's sandbox) lives as
    # long as this process: out of the collector's sight, as in `pakta api`/`worker`
    # (services/heap.py). Once, after the announcement, so it does not delay readiness. It
    # hosts the worker: young collections at CPython's pace, as in `pakta worker`.
    settle_heap_for_the_worker()

    # Run until Ctrl-C/SIGTERM, or until the API or the worker dies (then stop it all).
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({stopped, api, worker}, return_when=asyncio.FIRST_COMPLETED)
    crashed = [task for task in (api, worker) if task.done()]
    print("\nshutting down…", flush=True)
    stopped.cancel()
    server.should_exit = True
    await asyncio.gather(api, return_exceptions=True)
    worker_stop.set()
    await asyncio.gather(worker, return_exceptions=True)
    mail_sink.close()
    for task in crashed:
        error = task.exception() if not task.cancelled() else None
        raise StartupError(f"the {task.get_name()} stopped unexpectedly: {error!r}")


def dev_settings(
    data_dir: Path, postgres: EmbeddedPostgres, temporal: EmbeddedTemporal, *, api_port: int, smtp_port: int
) -> Settings:
    """How `pakta dev` configures the API and the worker (`make bench` starts its stack with
    these too). The database URL is the application role's, complete once PostgreSQL has
    started (it holds the role's password)."""
    return Settings(
        env="dev",
        database_url=postgres.app_url,
        temporal_address=temporal.address,
        jwt_secret=_dev_secret(data_dir),
        api_host="127.0.0.1",
        api_port=api_port,
        metrics_port=0,  # the API's /metrics serves the worker's metrics too: same process
        public_url=f"http://127.0.0.1:{api_port}",  # links in the caught mails
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        dev_mail_dir=str(data_dir / "mail"),
    )


async def migrate_dev_database(settings: Settings, postgres: EmbeddedPostgres) -> None:
    """Migrations run as the database's owner; the API and the worker get the application role.
    The demo organisations enter the register (kept as they are if already there)."""
    await upgrade_database(settings.model_copy(update={"database_url": postgres.owner_url}))
    await grant_application_role(postgres.owner_url, APP_ROLE)
    await register_organisations(settings)


class _Server(uvicorn.Server):
    # uvicorn would take over SIGINT/SIGTERM and re-raise them after serving; we stop the
    # API ourselves, in order, after our own handlers fire.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _announce(settings: Settings, options: DevOptions, temporal: EmbeddedTemporal, postgres: EmbeddedPostgres) -> None:
    data_dir = options.data_dir.resolve()
    api = f"http://{settings.api_host}:{settings.api_port}"
    tokens = {
        name: mint_token(
            settings,
            sub=demo_sub(name),
            org=DEMO_ORG,
            roles=user.roles,
            gates=user.gates,
            ttl_seconds=DEMO_TOKEN_TTL,
        )
        for name, user in DEMO_USERS.items()
    }
    token_file = data_dir / "tokens.txt"
    # The tokens are bearer credentials (an admin's among them): readable by us only.
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("".join(f"{name}\t{token}\n" for name, token in tokens.items()))
    token_file.chmod(0o600)
    lines = [
        "",
        "Pakta is running.",
        f"  API           {api}",
        f"  API docs      {api}/docs",
        f"  Temporal UI   {temporal.ui_url}",
        f"  Temporal      {temporal.address} (namespace {settings.temporal_namespace})",
        f"  PostgreSQL    postgresql://{OWNER_ROLE}@127.0.0.1:{postgres.port}/pakta "
        f"(passwords in {data_dir / PASSWORDS_FILE})",
        f"  Data dir      {data_dir}",
        f"  Mail (dev)    {api}/dev/mail (SMTP sink on 127.0.0.1:{settings.smtp_port}, "
        f"files in {settings.dev_mail_dir})",
        "",
        f"Demo bearer tokens for organisation {DEMO_ORG!r} (valid 30 days; also in {token_file}):",
        *(f"  {name:<10} {token}" for name, token in tokens.items()),
        "",
        f"Try: curl -H 'Authorization: Bearer <token>' {api}/readyz",
        "Press Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)


async def _seed_demo(settings: Settings, client: Client) -> None:
    with _step("seeding demo data"):
        await seed_demo(settings, client)


# -- ports, secrets and progress ------------------------------------------------------------


def _postgres_port(data_dir: Path, requested: int | None) -> int:
    if requested:
        return requested
    remembered = data_dir / "pg_port"
    if remembered.exists():
        return int(remembered.read_text().strip())
    return DEFAULT_PG_PORT if port_is_free(DEFAULT_PG_PORT) else free_port()


# A port of ours, what it serves, and the option that changes it.
Claim = tuple[int, str, str]


def _claim_ports(options: DevOptions, pg_port: int) -> socket.socket:
    """The API's socket, bound; the other ports checked free. The API runs in this process,
    so its port is held from here on. PostgreSQL and Temporal bind theirs seconds later (after
    initdb, after PostgreSQL): another process may take one in between, which `_or_fail`
    reports as it reports one taken now. A configured port is never moved: it is the one the
    person asked for (and the URLs they use)."""
    api = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    api.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn's own: TIME_WAIT is free
    try:
        api.bind(("127.0.0.1", options.port))
        # Listening from now: a socket only bound can be bound again by another process that
        # sets SO_REUSEADDR too (uvicorn, PostgreSQL do), and the first to listen has the port.
        # Requests that come before the API serves wait in the backlog.
        api.listen(2048)
    except OSError as exc:
        api.close()
        if exc.errno != errno.EADDRINUSE:
            raise
        raise _taken((options.port, "API", "--port")) from exc
    for claim in (
        (options.temporal_port, "Temporal", "--temporal-port"),
        (options.ui_port, "Temporal UI", "--ui-port"),
        (pg_port, "PostgreSQL", "--pg-port"),
    ):
        if not port_is_free(claim[0]):
            api.close()
            raise _taken(claim)
    return api


def _taken(claim: Claim) -> StartupError:
    port, what, flag = claim
    return StartupError(f"port {port} is already in use ({what}); choose another with {flag}", 2)


def _port_taken(log: str, log_path: Path, claims: tuple[Claim, ...]) -> StartupError | None:
    """The one-line reason for a server whose start's `log` says a port was taken: the port
    and its option when it is one of ours, else the server's own line (a port the Temporal
    dev server picks itself)."""
    lines = [line.strip() for line in log.splitlines() if "address already in use" in line.lower()]
    if not lines:
        return None
    for claim in claims:
        if re.search(rf"(?<!\d){claim[0]}(?!\d)", lines[-1]):  # the dev server's line names it
            return _taken(claim)
    if len(claims) == 1:  # PostgreSQL's: it binds one TCP port (its line names the address only)
        return _taken(claims[0])
    return StartupError(f"{lines[-1]} (log: {log_path})", 2)


def _dev_secret(data_dir: Path) -> str:
    """Generated once per data dir, so printed tokens stay valid across restarts."""
    path = data_dir / "jwt_secret"
    if not path.exists():
        _remember(path, secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _remember(path: Path, value: str) -> None:
    path.write_text(value + "\n")


@contextlib.contextmanager
def _step(what: str, *, quiet_if_fast: bool = False) -> Iterator[None]:
    started = time.monotonic()
    if not quiet_if_fast:
        print(f"{what}…", end=" ", flush=True)
    try:
        yield
    except BaseException:
        if not quiet_if_fast:
            print("failed", flush=True)
        raise
    if not quiet_if_fast:
        print(f"ok ({time.monotonic() - started:.1f}s)", flush=True)


def _or_fail(start: Callable[[], object], log_path: Path, log: Callable[[], str], claims: tuple[Claim, ...]) -> None:
    """`start()`, or the one-line reason it failed: a port of `claims` taken (as `log`, the
    server's since this start, says), else the error's first line."""
    try:
        start()
    except RuntimeError as exc:
        taken = _port_taken(log(), log_path, claims)
        raise (taken or StartupError(f"{_first_line(exc)} (log: {log_path})")) from exc


async def _or_fail_async(
    awaitable: Awaitable[object],
    log_path: Path,
    log: Callable[[], str] | None = None,
    claims: tuple[Claim, ...] = (),
) -> None:
    """`_or_fail` for a start that is awaited."""
    try:
        await awaitable
    except (RuntimeError, OSError) as exc:
        taken = _port_taken(log(), log_path, claims) if log else None
        raise (taken or StartupError(f"{_first_line(exc)} (log: {log_path})")) from exc


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
