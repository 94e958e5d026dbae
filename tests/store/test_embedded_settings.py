"""The embedded PostgreSQL (`pakta dev`, the tests, the bench) runs with the settings
`services.embedded.postgres.SERVER_SETTINGS` gives it on its command line."""

from __future__ import annotations

from sqlalchemy import text


async def _setting(sessionmaker, name: str) -> str:
    async with sessionmaker() as session:
        return str((await session.execute(text(f"SHOW {name}"))).scalar_one())


async def test_the_embedded_server_compresses_the_whole_pages_it_writes_to_the_wal(sessionmaker):
    assert await _setting(sessionmaker, "wal_compression") == "pglz"


async def test_the_embedded_server_checkpoints_every_fifteen_minutes(sessionmaker):
    assert await _setting(sessionmaker, "checkpoint_timeout") == "15min"


async def test_the_embedded_server_waits_for_every_commit_to_reach_the_disk(sessionmaker):
    for durable in ("synchronous_commit", "fsync", "full_page_writes"):
        assert await _setting(sessionmaker, durable) == "on", durable
