"""The dispatcher's wake-up across processes: `LISTEN pakta_outbox` on a connection of its own.

A recording that writes deliveries sends `NOTIFY pakta_outbox` in its transaction
(`services.store.outbox.enqueue`); PostgreSQL delivers it when that transaction commits, to
every listening dispatcher, whatever process (or machine) wrote it. The listening
connection is one per dispatcher, outside the pool (a pooled connection goes back to the
pool, and its LISTEN with it). It may be lost (a database restart; PgBouncer in transaction
mode, which does not carry LISTEN): the dispatcher then wakes at its poll, and listens again
once a connection comes back — after which it looks at once for what it may have missed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import asyncpg
import structlog

from services.settings import Settings
from services.store.db import driver_dsn
from services.store.outbox import NOTIFY_CHANNEL

log = structlog.get_logger("pakta.outbox")


class OutboxListener:
    def __init__(self, settings: Settings, on_notify: Callable[[], None]) -> None:
        self._dsn = driver_dsn(settings.database_url)
        self._retry_seconds = settings.outbox_poll_seconds
        self._on_notify = on_notify
        self._connection: asyncpg.Connection | None = None
        self._tried = -float("inf")

    @property
    def listening(self) -> bool:
        return self._connection is not None and not self._connection.is_closed()

    async def ensure(self) -> bool:
        """Listen if not listening (trying at most once a poll interval). True when it has
        just started: deliveries written meanwhile were not announced, so look now."""
        if self.listening or time.monotonic() - self._tried < self._retry_seconds:
            return False
        self._tried = time.monotonic()
        await self.close()
        try:
            connection = await asyncpg.connect(self._dsn, timeout=self._retry_seconds)
            await connection.add_listener(NOTIFY_CHANNEL, self._notified)
        except Exception as error:  # the database is away: the poll goes on meanwhile
            log.warning("outbox_listen_failed", error_class=type(error).__name__, error=str(error))
            return False
        self._connection = connection
        log.info("outbox_listening", channel=NOTIFY_CHANNEL)
        return True

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            try:
                await connection.close(timeout=2)
            except Exception:
                connection.terminate()

    def _notified(self, *_: Any) -> None:
        self._on_notify()
