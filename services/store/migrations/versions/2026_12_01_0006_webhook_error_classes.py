"""webhook error classes: what attempts recorded of receivers' answers is scrubbed

Attempts used to record the first 200 characters of a non-2xx answer, or an exception's
text: an internal service's reply could be read back through `GET
/webhooks/{id}/deliveries`. They now record a status code and an error class; this
migration reduces what is already stored to the same (an HTTP status keeps its number).

Revision ID: 2026_12_01_0006
Revises: 2026_12_01_0005
Create Date: 2026-12-01 16:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "2026_12_01_0006"
down_revision: str | Sequence[str] | None = "2026_12_01_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLASSES = (
    "'http_status', 'timeout', 'connection_refused', 'connection_error', 'tls_error', 'dns_error', "
    "'refused_address', 'invalid_url', 'unexpected_error'"
)


def _scrub(table: str, column: str, where: str = "TRUE") -> None:
    op.execute(
        f"UPDATE {table} SET {column} = CASE "
        f"WHEN {column} ~ '^HTTP [0-9]{{3}}' THEN substring({column} FROM '^HTTP [0-9]{{3}}') "
        f"ELSE 'connection_error' END "
        f"WHERE {column} IS NOT NULL AND {column} NOT IN ({CLASSES}) AND {where}"
    )


def upgrade() -> None:
    op.execute(
        "UPDATE webhook_attempts SET error = CASE WHEN status_code IS NOT NULL THEN 'http_status' "
        f"ELSE 'connection_error' END WHERE error IS NOT NULL AND error NOT IN ({CLASSES})"
    )
    _scrub("deliveries", "last_error", "channel = 'webhook'")
    _scrub("webhook_endpoints", "disabled_reason")


def downgrade() -> None:
    pass  # what was scrubbed is gone on purpose
