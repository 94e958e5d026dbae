"""Group commit: bookkeeping asked for while a write is in flight goes in the next one.

The dispatcher's sends finish one by one, each needing a small write (the attempt started,
the delivery sent). One transaction each costs a pool checkout with its ping, a BEGIN, the
statement and a COMMIT — most of the dispatcher's CPU at a few deliveries per transition.
A `GroupWrite` runs one write at a time: callers arriving while it runs wait for the next,
which takes them all (up to `limit`) in one transaction. Alone, a caller is written at once,
as before; under load, a transaction carries many.

A writer may also `linger`: while callers it was told to expect (`expecting`) are still on
their way, a write waits up to that long for them before it starts — one write for the
sends of a claim finishing a few milliseconds apart rather than one for the first and one for
the rest. The first caller is then written up to `linger` later, never sooner.

Each caller gets its own result, or the write's exception. A caller that stops waiting
(cancelled) does not stop the write its item is in.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupWrite(Generic[Item, Result]):
    def __init__(
        self,
        write: Callable[[list[Item]], Awaitable[Sequence[Result]]],
        *,
        limit: int = 100,
        linger: float = 0.0,
    ) -> None:
        # `write` returns one result per item, in the items' order.
        self._write = write
        self._limit = limit
        self._linger = linger
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._expected = 0  # callers on their way (`expecting`)
        self._changed = asyncio.Event()  # a caller came, or one expected will not

    @contextlib.contextmanager
    def expecting(self) -> Iterator[None]:
        """While the block runs, a caller is on its way (a send in flight): a write lingers
        for it. Leave the block just before calling, or when no call will come."""
        self._expected += 1
        try:
            yield
        finally:
            self._expected -= 1
            self._changed.set()

    async def __call__(self, item: Item) -> Result:
        done: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        self._changed.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        return await asyncio.shield(done)

    async def close(self) -> None:
        """Stop writing: what is in flight is cancelled and its callers told so."""
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        for _, done in self._waiting:
            if not done.done():
                done.cancel()
        self._waiting = []

    async def _gather(self) -> None:
        """Wait up to `linger` while expected callers are on their way and the batch has room."""
        if self._linger <= 0:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._linger
        while self._expected and len(self._waiting) < self._limit:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def _drain(self) -> None:
        while self._waiting:
            await self._gather()
            batch, self._waiting = self._waiting[: self._limit], self._waiting[self._limit :]
            try:
                results = await self._write([item for item, _ in batch])
            except BaseException as error:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error) if isinstance(error, Exception) else done.cancel()
                if not isinstance(error, Exception):
                    raise
                continue
            for (_, done), result in zip(batch, results, strict=True):
                if not done.done():
                    done.set_result(result)
