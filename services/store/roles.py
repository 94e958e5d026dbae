"""The application's database role: rows, not schema.

The API and the worker need to read and write rows; they never need DDL, and the audit
trail is theirs to append to, not to edit. Run `grant_application_role` as the database's
owner after every migration (new tables get their grants): `pakta dev` does; in production
do the same with your owner and application roles (see docs/security.md).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

# Append-only (their triggers refuse UPDATE and TRUNCATE): no UPDATE granted at all.
APPEND_ONLY = ("agreement_events", "superseded_events")
# Rows the application deletes: a superseded task's rows (the trigger lets a row leave
# agreement_events only once its copy stands in superseded_events), what they attached and
# the notifications that announced them (unsent deliveries, inbox rows and their reads), a
# contact, a webhook endpoint, idempotency keys past their retention or whose answer showed
# superseded rows; a summary's rows by organisation, which the summaries' trigger writes
# again (as the writer's role) when an agreement's organisations change.
DELETED_BY_THE_APPLICATION = (
    "agreement_summary_orgs",
    "agreement_events",
    "document_attachments",
    "deliveries",
    "notifications",
    "notification_reads",
    "contacts",
    "webhook_endpoints",
    "idempotency_keys",
)
READ_ONLY = ("alembic_version",)


def application_grants(role: str) -> list[str]:
    return [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}",
        f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {role}",
        f"REVOKE UPDATE ON {', '.join(APPEND_ONLY)} FROM {role}",
        f"REVOKE INSERT, UPDATE ON {', '.join(READ_ONLY)} FROM {role}",
        f"GRANT DELETE ON {', '.join(DELETED_BY_THE_APPLICATION)} TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
    ]


async def grant_application_role(owner_url: str, role: str) -> None:
    """Give `role` exactly the application's rights on every table there is now."""
    engine = create_async_engine(owner_url)
    try:
        async with engine.begin() as connection:
            for statement in application_grants(role):
                await connection.execute(text(statement))
    finally:
        await engine.dispose()
