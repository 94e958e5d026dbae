"""notifications: contacts, webhook endpoints and attempts, the delivery log, the inbox

Revision ID: 2026_11_22_0002
Revises: 2026_11_22_0001
Create Date: 2026-11-22 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2026_11_22_0002"
down_revision: str | Sequence[str] | None = "2026_11_22_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
TEXTS = postgresql.ARRAY(sa.Text())
EMPTY = sa.text("'{}'::text[]")


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("org", sa.Text(), nullable=False),
        sa.Column("sub", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), server_default="id", nullable=False),
        sa.Column("roles", TEXTS, nullable=False),
        sa.Column("gates", TEXTS, server_default=EMPTY, nullable=False),
        sa.Column("opt_out", TEXTS, server_default=EMPTY, nullable=False),
        sa.Column("time_zone", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
        # One row per address and organisation; also the index for "contacts of an org".
        sa.UniqueConstraint("org", "email", name="uq_contacts_org_email"),
        sa.CheckConstraint("language IN ('id', 'en')", name="ck_contacts_language"),
    )

    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("org", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", TEXTS, nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text(), nullable=True),
        sa.Column("previous_secret_expires_at", TZ, nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("failing_since", TZ, nullable=True),
        sa.Column("disabled_at", TZ, nullable=True),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_endpoints"),
    )
    op.create_index("ix_webhook_endpoints_org", "webhook_endpoints", ["org"])

    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("endpoint_id", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("agreement_id", sa.Text(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", TZ, nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_attempts"),
        # Deleting an endpoint deletes its history; the delivery log keeps the outcome.
        sa.ForeignKeyConstraint(["endpoint_id"], ["webhook_endpoints.id"], ondelete="CASCADE",
                                name="fk_webhook_attempts_endpoint_id_webhook_endpoints"),
    )
    op.create_index("ix_webhook_attempts_endpoint_id_id", "webhook_attempts",
                    ["endpoint_id", sa.text("id DESC")])

    op.create_table(
        "deliveries",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("agreement_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("claimed_until", TZ, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", TZ, nullable=True),
        # The exactly-once key: a delivery claims this row before it sends.
        sa.PrimaryKeyConstraint("event_id", "recipient", "channel", name="pk_deliveries"),
        sa.CheckConstraint("status IN ('sending', 'sent', 'failed')", name="ck_deliveries_status"),
        sa.CheckConstraint("channel IN ('email', 'webhook', 'inbox')", name="ck_deliveries_channel"),
    )

    op.create_table(
        "notifications",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("agreement_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("audience_key", sa.Text(), nullable=False),
        sa.Column("audience_org", sa.Text(), nullable=True),
        sa.Column("audience_role", sa.Text(), nullable=False),
        sa.Column("audience_gate", sa.Text(), nullable=True),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("data", postgresql.JSONB(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("created_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint("event_id", "audience_key", name="uq_notifications_event_id_audience_key"),
    )
    # A user's inbox: their org's (or any org's, for the ministry) notifications for a role.
    op.create_index("ix_notifications_audience", "notifications",
                    ["audience_org", "audience_role", sa.text("at DESC")])

    op.create_table(
        "notification_reads",
        sa.Column("sub", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("read_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("sub", "event_id", name="pk_notification_reads"),
    )


def downgrade() -> None:
    op.drop_table("notification_reads")
    op.drop_table("notifications")
    op.drop_table("deliveries")
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_endpoints")
    op.drop_table("contacts")
