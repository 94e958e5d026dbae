"""What the operating system says the stack spent: CPU seconds per process tree (a
PostgreSQL server is its postmaster and every backend, live or already exited and reaped),
and the workers' resident memory; and what PostgreSQL wrote to its WAL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Any

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


# With `BENCH_PG_WAL=<file>`: each leg's WAL split by table (its indexes and TOAST with it)
# and by record type, per transition, read back from the WAL itself (`pg_walinspect`)
# between the positions before and after the leg, into `<file>` as JSON by leg.
WAL_SPLIT_ENV = "BENCH_PG_WAL"

_WAL_BY_TABLE = """
WITH relation AS (
    SELECT pg_relation_filenode(c.oid) AS filenode,
        coalesce(toasted.relname || ' (TOAST)', indexed_toasted.relname || ' (TOAST)', indexed.relname, c.relname)
            AS owner
    FROM pg_class AS c
    LEFT JOIN pg_index AS x ON x.indexrelid = c.oid
    LEFT JOIN pg_class AS indexed ON indexed.oid = x.indrelid
    LEFT JOIN pg_class AS toasted ON toasted.reltoastrelid = c.oid
    LEFT JOIN pg_class AS indexed_toasted ON indexed_toasted.reltoastrelid = indexed.oid
)
SELECT coalesce(r.owner, b.relfilenode::text) AS owner, count(*) AS blocks,
    count(*) FILTER (WHERE b.block_fpi_length > 0) AS full_page_images,
    sum(b.block_data_length + b.block_fpi_length)
        + sum(CASE WHEN b.block_id = 0 THEN b.main_data_length ELSE 0 END) AS bytes
FROM pg_get_wal_block_info($1::text::pg_lsn, $2::text::pg_lsn) AS b
LEFT JOIN relation AS r ON r.filenode = b.relfilenode
GROUP BY 1 ORDER BY bytes DESC
"""
# The same blocks by relation as itself (each index by its own name, a TOAST table and its
# index by their table's) and record type: which index a transition writes entries into.
_WAL_BY_RELATION = """
WITH relation AS (
    SELECT pg_relation_filenode(c.oid) AS filenode,
        coalesce(toasted.relname || ' (TOAST)', indexed_toasted.relname || ' (TOAST index)', c.relname) AS name
    FROM pg_class AS c
    LEFT JOIN pg_index AS x ON x.indexrelid = c.oid
    LEFT JOIN pg_class AS indexed ON indexed.oid = x.indrelid
    LEFT JOIN pg_class AS toasted ON toasted.reltoastrelid = c.oid
    LEFT JOIN pg_class AS indexed_toasted ON indexed_toasted.reltoastrelid = indexed.oid
)
SELECT coalesce(r.name, b.relfilenode::text) AS relation, b.resource_manager || '/' || b.record_type AS record_type,
    count(*) AS blocks, sum(b.block_data_length + b.block_fpi_length) AS bytes
FROM pg_get_wal_block_info($1::text::pg_lsn, $2::text::pg_lsn) AS b
LEFT JOIN relation AS r ON r.filenode = b.relfilenode
GROUP BY 1, 2 ORDER BY 1, bytes DESC
"""
_WAL_BY_RECORD_TYPE = """
SELECT "resource_manager/record_type" AS record_type, count, combined_size AS bytes, fpi_size AS image_bytes
FROM pg_get_wal_stats($1::text::pg_lsn, $2::text::pg_lsn, true) WHERE count > 0 ORDER BY combined_size DESC
"""


def wal_split_file() -> Path | None:
    value = os.environ.get(WAL_SPLIT_ENV)
    return Path(value) if value else None


def _lsn(position: int) -> str:
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


async def save_wal_split(dsn: str, leg: str, start: int, end: int, transitions: int, target: Path) -> None:
    """Add `leg`'s split (WAL positions `start` to `end`, as `wal_counters`' bytes) to `target`."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
        by_table = await connection.fetch(_WAL_BY_TABLE, _lsn(start), _lsn(end))
        by_type = await connection.fetch(_WAL_BY_RECORD_TYPE, _lsn(start), _lsn(end))
        by_relation = await connection.fetch(_WAL_BY_RELATION, _lsn(start), _lsn(end))
    finally:
        await connection.close()
    n = max(1, transitions)
    _merge(
        target,
        leg,
        {
            "transitions": transitions,
            "bytes_per_transition": round((end - start) / n),
            "by_table": {
                row["owner"]: {k: round(int(row[k]) / n, 2) for k in ("bytes", "blocks", "full_page_images")}
                for row in by_table
            },
            "by_relation": _by_relation(by_relation, n),
            "by_record_type": {
                row["record_type"]: {k: round(int(row[k]) / n, 2) for k in ("count", "bytes", "image_bytes")}
                for row in by_type
            },
        },
    )


def _by_relation(rows: list[asyncpg.Record], transitions: int) -> dict[str, dict[str, dict[str, float]]]:
    """Each relation's blocks and bytes per transition by record type (`Btree/INSERT_LEAF`: one entry)."""
    split: dict[str, dict[str, dict[str, float]]] = {}
    for row in rows:
        split.setdefault(row["relation"], {})[row["record_type"]] = {
            k: round(int(row[k]) / transitions, 2) for k in ("blocks", "bytes")
        }
    return split


def _merge(target: Path, leg: str, split: dict[str, Any]) -> None:
    """`split` under `leg` in `target`; a leg measured again (the floor after Pakta) gets a suffix."""
    legs: dict[str, Any] = json.loads(target.read_text()) if target.exists() else {}
    name, again = leg, 1
    while name in legs:
        again += 1
        name = f"{leg} #{again}"
    legs[name] = split
    target.write_text(json.dumps(legs, indent=1) + "\n")


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
