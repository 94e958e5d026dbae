"""A clock for the event loop of a test whose mail server runs on that loop: it moves only
while the server waits on purpose, so the client's timeouts race nothing but those waits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Self


class ServerClock:
    """The event loop's clock for the length of `installed()`, moving only while it is run:
    during a server's `pause` (and no further than its end) or `running()` (a server keeping
    a reply back, a test waiting for something to happen), standing still otherwise.

    A test of a reply timeout has the server answer within it or not, by its pauses or its
    silence. On the loop's own clock, a machine that stalls the process (another suite
    beside it) moves the clock past the timeout while the answer is on its way: asyncio runs
    the due timers in the same round as the reply's read, and the reader's task only in the
    next one, so an answered command times out, and a setup or an envelope takes longer than
    its pauses. On this clock, the time the client measures is the time the server spends
    on purpose, exactly, however slow the machine: the same timeouts and pauses, with
    silences still waited out in real time. For a server on the test's own loop, one
    connection at a time (a pause caps the clock for every connection)."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._real = self.loop.time
        self._reading = self._real()  # what the clock read when it last stood still
        self._since: float | None = None  # the real time it has been running since
        self._runs = 0
        self._ends: list[float] = []  # the ends of the pauses under way: it goes no further

    def time(self) -> float:
        now = self._reading + (self._real() - self._since if self._since is not None else 0.0)
        return min(now, *self._ends) if self._ends else now

    def run(self) -> None:
        self._runs += 1
        if self._since is None:
            self._since = self._real()

    def stop(self) -> None:
        self._runs -= 1
        if self._runs == 0 and self._since is not None:
            self._reading, self._since = self.time(), None

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        self.run()
        try:
            yield
        finally:
            self.stop()

    async def pause(self, seconds: float) -> None:
        """`seconds` on this clock, and no more: it runs until their end and stops there."""
        end = self.time() + seconds
        done = self.loop.create_future()
        timer = self.loop.call_at(end, lambda: done.done() or done.set_result(None))
        self._ends.append(end)
        self.run()
        try:
            await done
        finally:
            timer.cancel()
            self.stop()
            self._ends.remove(end)

    @contextlib.contextmanager
    def installed(self) -> Iterator[Self]:
        self.loop.time = self.time  # type: ignore[method-assign]  # asyncio reads it for every timer
        try:
            yield self
        finally:
            del self.loop.time  # timers still due after this are a few seconds early at most
