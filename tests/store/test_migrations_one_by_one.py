"""Each migration commits on its own: a migration that fails leaves the database at the one
before it, with everything up to there applied — not rolled back to where the run began, and
not holding an earlier migration's locks (0029's swap of `webhook_attempts`'s key takes an
ACCESS EXCLUSIVE lock) until the whole run ends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from alembic import command

from services.settings import Settings
from services.store.db import driver_dsn
from services.store.migrate import MIGRATIONS_DIR, alembic_config

pytestmark = pytest.mark.asyncio(loop_scope="session")

BEFORE_THE_SWAP = "2026_12_02_0028"
THE_SWAP = "2026_12_02_0029"

# A migration after the last one that fails half-way, in a folder of the test's own: the
# table it creates first must go with it, and what came before it must stay.
FAILING = """
from alembic import op

revision = "test_failing_after_{head}"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE TABLE half_applied (id int)")
    op.execute("SELECT 1 / 0")


def downgrade() -> None:
    pass
"""


async def test_a_failing_migration_leaves_the_ones_before_it_applied_and_nothing_of_its_own(
    own_database: Settings, tmp_path: Path
) -> None:
    url = own_database.database_url
    await asyncio.to_thread(command.downgrade, alembic_config(url), BEFORE_THE_SWAP)
    (tmp_path / "failing.py").write_text(FAILING.format(head=THE_SWAP))
    config = alembic_config(url)
    config.set_main_option("version_locations", f"{MIGRATIONS_DIR / 'versions'}:{tmp_path}")

    with pytest.raises(Exception, match="division by zero"):
        await asyncio.to_thread(command.upgrade, config, "heads")

    connection = await asyncpg.connect(driver_dsn(url))
    try:
        assert await connection.fetchval("SELECT version_num FROM alembic_version") == THE_SWAP
        assert await connection.fetchval("SELECT to_regclass('half_applied')") is None
        key = await connection.fetchval("SELECT pg_get_indexdef('pk_webhook_attempts'::regclass)")
        assert key.endswith("(endpoint_id, id)")
    finally:
        await connection.close()
