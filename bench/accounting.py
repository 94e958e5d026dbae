"""What the operating system says the stack spent: CPU seconds per process tree (a
PostgreSQL server is its postmaster and every backend, live or already exited and reaped),
and the workers' resident memory."""

from __future__ import annotations

import asyncio
import contextlib

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
