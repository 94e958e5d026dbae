"""The raw baseline's worker process (`python -m bench.raw`, started by `bench.stack`):
the raw workflow and its one activity, which inserts a row with asyncpg.

Reads the stack's PAKTA_* settings (Temporal address, namespace) and BENCH_RAW_DSN (the
database, as its owner: the worker creates its table).
"""

from __future__ import annotations

import asyncio
import os
import signal

import asyncpg
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from bench.raw_workflow import RAW_RECORD, RawAgreement, RawRow
from services.settings import Settings

RAW_TASK_QUEUE = "bench-raw"
TABLE = """
CREATE TABLE IF NOT EXISTS bench_raw_transitions (
    workflow_id text NOT NULL,
    version integer NOT NULL,
    action text NOT NULL,
    payload text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, version)
)
"""


class Recorder:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @activity.defn(name=RAW_RECORD)
    async def record(self, row: RawRow) -> None:
        async with self.pool.acquire() as connection:
            await connection.execute(
                "INSERT INTO bench_raw_transitions (workflow_id, version, action, payload) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT DO NOTHING",
                row.workflow_id,
                row.version,
                row.action,
                row.payload,
            )


async def main() -> None:
    settings = Settings()
    pool = await asyncpg.create_pool(os.environ["BENCH_RAW_DSN"], min_size=1, max_size=10)
    async with pool.acquire() as connection:
        await connection.execute(TABLE)
    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    worker = Worker(client, task_queue=RAW_TASK_QUEUE, workflows=[RawAgreement], activities=[Recorder(pool).record])
    async with worker:
        print("raw_worker_started", flush=True)
        await stop.wait()
    await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
