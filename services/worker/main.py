"""The Temporal worker (`pakta worker`): runs the agreement workflows and their activities,
and — unless `PAKTA_WORKER_DISPATCH` is off — the outbox dispatcher that sends the email and
webhook deliveries their recordings write. `pakta dispatcher` runs the dispatcher alone.

What it runs comes from `services.worker.registry` (WORKFLOWS, and `activities(settings,
sessionmaker)` returning the activity callables), so this file needs no edit when
workflows or activities are added. Workers and dispatchers are stateless: run as many of
each as needed (dispatchers claim with leases and SKIP LOCKED, `services.store.outbox`).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from services.settings import Settings
from services.store.db import create_engine, create_sessionmaker
from services.temporal_client import connect_temporal
from services.worker import registry
from services.worker.dispatcher import OutboxDispatcher
from services.worker.portfolio import ensure_portfolio_schedule

log = structlog.get_logger("pakta.worker")


def build_worker(
    client: Client,
    settings: Settings,
    *,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    task_queue: str | None = None,
    dispatcher: OutboxDispatcher | None = None,
    **worker_options: Any,
) -> Worker:
    """The Worker for every workflow and activity in the registry; its recordings wake
    `dispatcher` when they write to the outbox."""
    if sessionmaker is None:
        sessionmaker = create_sessionmaker(worker_engine(settings))
    return Worker(
        client,
        task_queue=task_queue or settings.temporal_task_queue,
        workflows=registry.WORKFLOWS,
        activities=registry.activities(settings, sessionmaker, dispatcher=dispatcher),
        workflow_runner=registry.workflow_runner(),
        # Only used by synchronous activities (async ones run on the event loop).
        activity_executor=ThreadPoolExecutor(max_workers=16),
        graceful_shutdown_timeout=timedelta(seconds=10),
        **{**tuning(settings), **worker_options},
    )


def worker_engine(settings: Settings) -> AsyncEngine:
    """The worker's database, without a ping before every use: everything the worker writes
    is retried (recordings by Temporal, the outbox by its leases and backoff), so a
    connection a database restart broke costs one retry — SQLAlchemy then replaces the
    whole pool; a recording, on the driver's connection (`driver_transaction`), drops that
    connection, and any other asyncpg knows is closed as it leaves the pool — while the
    ping cost a round trip per transaction, always (5% of the worker's CPU under the
    benchmark, docs/performance-log.md)."""
    return create_engine(settings, pool_pre_ping=False)


def tuning(settings: Settings) -> dict[str, Any]:
    """The Worker options `PAKTA_WORKER_*` set: concurrency, pollers, sticky cache."""
    return {
        "max_concurrent_workflow_tasks": settings.worker_max_workflow_tasks,
        "max_concurrent_activities": settings.worker_max_activities,
        "max_concurrent_local_activities": settings.worker_max_local_activities,
        "max_concurrent_workflow_task_polls": settings.worker_workflow_pollers,
        "max_concurrent_activity_task_polls": settings.worker_activity_pollers,
        "max_cached_workflows": settings.worker_cached_workflows,
    }


# Activities get `graceful_shutdown_timeout` to finish; the whole stop never takes longer.
SHUTDOWN_LIMIT_SECONDS = 20.0


async def run_worker(
    settings: Settings,
    client: Client | None = None,
    *,
    stop: asyncio.Event | None = None,
) -> None:
    """Run until `stop` is set, or until SIGTERM/SIGINT when no `stop` is given."""
    stop = _stop_on_signals(stop)
    _serve_metrics(settings)
    client = client or await connect_temporal(settings)
    engine = worker_engine(settings)
    try:
        sessionmaker = create_sessionmaker(engine)
        dispatcher = OutboxDispatcher(settings, sessionmaker) if settings.worker_dispatch else None
        worker = build_worker(client, settings, sessionmaker=sessionmaker, dispatcher=dispatcher)
        log.info("worker_started", task_queue=worker.task_queue, dispatching=dispatcher is not None)
        if settings.portfolio_sweep:  # `pakta dev` runs this too
            await _ensure_portfolio_schedule(client, settings)
        running = asyncio.create_task(worker.run())
        dispatching = asyncio.create_task(dispatcher.run(stop) if dispatcher else stop.wait())
        await stop.wait()
        # Stop polling and let running tasks finish — but within bounds: a recording waiting
        # for a database that is down retries until it is back, and must not hold the process.
        # Whatever was not finished is retried by Temporal on another (or the next) worker;
        # sends the dispatcher had in flight are sent again once their leases run out.
        try:
            await asyncio.wait_for(asyncio.gather(worker.shutdown(), dispatching), timeout=SHUTDOWN_LIMIT_SECONDS)
            log.info("worker_stopped")
        except TimeoutError:
            log.error("worker_shutdown_timed_out", after_seconds=SHUTDOWN_LIMIT_SECONDS)
        if not running.done():
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(running, timeout=5)
    finally:
        await engine.dispose()


async def run_dispatcher(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """`pakta dispatcher`: only the outbox dispatcher, until `stop` or SIGTERM/SIGINT. Its
    CPU (SMTP, HTTP, the delivery log) is then off the workers' event loops, where it
    delayed the next command's workflow task; the sends in flight get the same bounded stop."""
    stop = _stop_on_signals(stop)
    _serve_metrics(settings)
    engine = worker_engine(settings)
    try:
        dispatcher = OutboxDispatcher(settings, create_sessionmaker(engine))
        log.info("dispatcher_started")
        await dispatcher.run(stop)
        log.info("dispatcher_stopped")
    finally:
        await engine.dispose()


def _stop_on_signals(stop: asyncio.Event | None) -> asyncio.Event:
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    return stop


def _serve_metrics(settings: Settings) -> None:
    if settings.metrics_port > 0:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port)
        log.info("metrics_listening", port=settings.metrics_port)


async def _ensure_portfolio_schedule(client: Client, settings: Settings) -> None:
    """Create (or align) the hourly portfolio sweep schedule. A failure is logged, not
    fatal: the worker's main job is running agreements; the next start tries again."""
    try:
        await asyncio.wait_for(ensure_portfolio_schedule(client, settings), timeout=30)
    except Exception as error:
        log.error("portfolio_schedule_failed", error=f"{type(error).__name__}: {error}")
