"""Group commit: bookkeeping asked for while a write is in flight goes in the next one.

The dispatcher's sends finish one by one, each needing a small write (the attempt started,
the delivery sent). One transaction each costs a pool checkout with its ping, a BEGIN, the
statement and a COMMIT — most of the dispatcher's CPU at a few deliveries per transition.
A `GroupWrite` runs one write at a time: callers arriving while it runs wait for the next,
which takes them all (up to `limit`) in one transaction. Alone, a caller is written at once,
as before; under load, a transaction carries many.

Each caller gets its own result, or the write's exception. A caller that stops waiting
(cancelled) does not stop the write its item is in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupWrite(Generic[Item, Result]):
    def __init__(self, write: Callable[[list[Item]], Awaitable[Sequence[Result]]], *, limit: int = 100) -> None:
        # `write` returns one result per item, in the items' order.
        self._write = write
        self._limit = limit
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def __call__(self, item: Item) -> Result:
        done: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
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

    async def _drain(self) -> None:
        while self._waiting:
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
