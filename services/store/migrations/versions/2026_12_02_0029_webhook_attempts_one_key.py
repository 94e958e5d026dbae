"""webhook attempts, one key: the primary key is (endpoint_id, id), the index by endpoint goes

`webhook_attempts` had two b-trees: the primary key on `id` and `(endpoint_id, id DESC)`.
Every attempt wrote an entry in each (≈ 0.3 KB of WAL a transition under the bench). One
key on `(endpoint_id, id)` serves every query: the listing by endpoint newest first (a
backward scan), the outcomes' updates (which now name the endpoint with the id), and the
foreign key's cascade from `webhook_endpoints`. `id` still comes from its sequence, so it
is still unique; what the table no longer refuses is a row given by hand an `id` that
another endpoint's row has (nothing writes one: every insert takes the sequence's).

On a live database: the new index is built with `CREATE UNIQUE INDEX CONCURRENTLY`, outside
a transaction (it waits for the transactions running when it starts, and blocks no writes;
1.3–1.4 s for 500,000 rows on a busy two-core machine). The swap of the keys then holds an
ACCESS EXCLUSIVE lock for about a millisecond: `ADD CONSTRAINT ... PRIMARY KEY USING INDEX`
reads no rows (the columns are NOT NULL already) and the drops only unlink files. Its `lock_timeout` keeps a
long transaction on the table from queueing every other session behind the swap: it fails
instead, and running the upgrade again takes the valid index already built.

The downgrade is the same dance backwards: both old indexes built concurrently, then the
swap.

Revision ID: 2026_12_02_0029
Revises: 2026_12_02_0028
Create Date: 2026-12-02 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "2026_12_02_0029"
down_revision: str | Sequence[str] | None = "2026_12_02_0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW_KEY = "uq_webhook_attempts_endpoint_id_id"
_OLD_KEY = "uq_webhook_attempts_id"
_OLD_INDEX = "ix_webhook_attempts_endpoint_id_id"
# Long enough for the swap's catalog work; short enough that the sessions queued behind its
# lock request (every reader and writer of the table) barely notice when it waits in vain.
_SWAP_LOCK_TIMEOUT = "5s"
_COLUMNS = {
    _NEW_KEY: "(endpoint_id, id)",
    _OLD_KEY: "(id)",
    _OLD_INDEX: "(endpoint_id, id DESC)",
}


def _build_concurrently(name: str, definition: str) -> None:
    """`CREATE INDEX CONCURRENTLY`, outside the migration's transaction; an index an earlier,
    interrupted build left invalid is dropped and built again, a valid one is kept."""
    with op.get_context().autocommit_block():
        valid = (
            op.get_bind()
            .execute(text("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"), {"name": name})
            .scalar()
        )
        if valid is False:
            op.execute(f"DROP INDEX CONCURRENTLY {name}")
        if valid is not True:
            op.execute(f"CREATE {definition} CONCURRENTLY {name} ON webhook_attempts {_COLUMNS[name]}")



def _swap_key(to: str, *, drop: str | None = None) -> None:
    """The primary key becomes the valid index `to` (and `drop` goes), in one short
    ACCESS EXCLUSIVE lock that gives up after `_SWAP_LOCK_TIMEOUT`."""
    op.execute(f"SET LOCAL lock_timeout = '{_SWAP_LOCK_TIMEOUT}'")
    op.execute(
        "ALTER TABLE webhook_attempts DROP CONSTRAINT pk_webhook_attempts, "
        f"ADD CONSTRAINT pk_webhook_attempts PRIMARY KEY USING INDEX {to}"
    )
    if drop is not None:
        op.execute(f"DROP INDEX {drop}")
    op.execute("RESET lock_timeout")  # the migrations after this one run on the default


def upgrade() -> None:
    _build_concurrently(_NEW_KEY, "UNIQUE INDEX")
    _swap_key(_NEW_KEY, drop=_OLD_INDEX)


def downgrade() -> None:
    _build_concurrently(_OLD_KEY, "UNIQUE INDEX")
    _build_concurrently(_OLD_INDEX, "INDEX")
    _swap_key(_OLD_KEY)
