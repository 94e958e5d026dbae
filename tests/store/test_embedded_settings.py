"""The embedded PostgreSQL (`pakta dev`, the tests, the bench) runs with the settings
`services.embedded.postgres.SERVER_SETTINGS` gives it on its command line."""

from __future__ import annotations

from sqlalchemy import text


async def test_the_embedded_server_compresses_the_whole_pages_it_writes_to_the_wal(sessionmaker):
    async with sessionmaker() as session:
        assert (await session.execute(text("SHOW wal_compression"))).scalar_one() == "pglz"
