"""What the operating system says the stack spent: CPU seconds per process tree (a
PostgreSQL server is its postmaster and every backend, live or already exited and reaped),
and the workers' resident memory; and what PostgreSQL wrote to its WAL."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import psutil


def cpu_seconds(roots: dict[str, psutil.Process]) -> dict[str, float]:
    """User + system CPU of each root and its descendants so far, and of this process
    (`bench-client`: the HTTP clients, the receivers, the raw leg's Temporal client)."""
    totals: dict[str, float] = {}
    for name, root in roots.items():
        total = 0.0
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            tree = []
        for process in tree:
            with contextlib.suppress(psutil.Error):
                t = process.cpu_times()
                # children_*: descendants that exited and were waited for (PostgreSQL backends).
                total += t.user + t.system + t.children_user + t.children_system
        totals[name] = total
    own = psutil.Process().cpu_times()
    totals["bench-client"] = own.user + own.system
    return totals


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before.get(name, 0.0), 3) for name in after}


# PostgreSQL's WAL since it started: the bytes exactly (the insert position), the records and
# full-page images as the backends have reported them (each reports at most once a second,
# and when it goes idle: the leg's settling covers that), the WAL flushes every process
# waited for (`pg_stat_io`: a synchronous commit's, the WAL writer's) and the checkpoints
# done. A leg's difference, per transition, says what each transition wrote and how often
# something waited for the disk — on the server the floor and Pakta share.
_WAL_COUNTERS = """
SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint AS bytes,
    w.wal_records AS records, w.wal_fpi AS full_page_images,
    (SELECT coalesce(sum(fsyncs), 0) FROM pg_stat_io WHERE object = 'wal')::bigint AS flushes,
    c.num_done AS checkpoints
FROM pg_stat_wal AS w, pg_stat_checkpointer AS c
"""


async def wal_counters(dsn: str) -> dict[str, int]:
    """The WAL counters now, read on a connection of their own (a superuser's `dsn`)."""
    connection = await asyncpg.connect(dsn)
    try:
        row = await connection.fetchrow(_WAL_COUNTERS)
    finally:
        await connection.close()
    return {name: int(value) for name, value in row.items()}


def wal_per_transition(wal: dict[str, int], transitions: int) -> dict[str, float]:
    return {name: round(value / max(1, transitions), 2) for name, value in wal.items()}


class PeakRss:
    """Samples the resident memory of some processes twice a second; keeps each one's peak."""

    def __init__(self, processes: dict[str, psutil.Process]) -> None:
        self.processes = processes
        self.peak: dict[str, int] = dict.fromkeys(processes, 0)
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> dict[str, int]:
        now = {}
        for name, process in self.processes.items():
            with contextlib.suppress(psutil.Error):
                now[name] = process.memory_info().rss
                self.peak[name] = max(self.peak[name], now[name])
        return now

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.5)

    def __enter__(self) -> PeakRss:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        self.sample()
