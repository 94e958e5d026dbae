"""Tables of notification delivery: who to tell (contacts, webhook endpoints), what was
told (the in-app notifications and their read marks) and the delivery log that makes every
delivery happen once. Created by migration 2026_11_22_0002 (the outbox: 2026_12_01_0010)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.store.db import Base

TZ = DateTime(timezone=True)
EMPTY_ARRAY = text("'{}'::text[]")


class Contact(Base):
    """A person to email: matched against a notification's audience by org, roles and gates."""

    __tablename__ = "contacts"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    org: Mapped[str] = mapped_column(Text)
    sub: Mapped[str | None] = mapped_column(Text)  # their user id, when they also log in
    name: Mapped[str] = mapped_column(Text)
    email: Mapped[str] = mapped_column(Text)  # stored lower-cased
    language: Mapped[str] = mapped_column(Text, server_default="id")
    roles: Mapped[list[str]] = mapped_column(ARRAY(Text))
    gates: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=EMPTY_ARRAY)
    # Channels ("email") or notification templates ("comment_added") they do not want.
    opt_out: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=EMPTY_ARRAY)
    time_zone: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())

    __table_args__ = (
        UniqueConstraint("org", "email"),
        CheckConstraint("language IN ('id', 'en')", name="language"),
    )


class WebhookEndpoint(Base):
    """An organisation's Standard Webhooks endpoint. The secret is kept in clear because
    signing needs it; it never travels through Temporal (activities read it here)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    org: Mapped[str] = mapped_column(Text, index=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(ARRAY(Text))  # ["*"] or event types
    secret: Mapped[str] = mapped_column(Text)
    # After a rotation the old secret signs too for a while, so receivers can switch over.
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(TZ)
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    failing_since: Mapped[datetime | None] = mapped_column(TZ)  # first failure since the last success
    disabled_at: Mapped[datetime | None] = mapped_column(TZ)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())


class WebhookAttempt(Base):
    """Every HTTP attempt of a webhook delivery, written before the request goes out and
    completed after, so an attempt cut short by a crash still shows (unfinished)."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)  # from its sequence
    endpoint_id: Mapped[str] = mapped_column(
        Text, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(Text)
    agreement_id: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(TZ)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)

    # One b-tree serves every query (migration 0029): the listing by endpoint, newest first (a
    # backward scan), the outcomes' updates, which name the endpoint with the id, and the
    # cascade from the endpoint. A second index on `id` alone cost an entry per attempt.
    __table_args__ = (PrimaryKeyConstraint("endpoint_id", "id"),)


class Delivery(Base):
    """The exactly-once log and the outbox: one row per (event, recipient, channel). A
    delivery claims its row ('sending', with a lease) before sending and marks it 'sent'
    after; a retry or a replay that finds 'sent' does nothing. Rows the recording writes
    ('pending', with `payload` and `due_at`) are the outbox the worker's dispatcher sends;
    its claim leases them (`claimed_until`) and leaves them 'pending' (a HOT update)."""

    __tablename__ = "deliveries"

    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    recipient: Mapped[str] = mapped_column(Text, primary_key=True)
    channel: Mapped[str] = mapped_column(Text, primary_key=True)
    agreement_id: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    claimed_until: Mapped[datetime | None] = mapped_column(TZ)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(TZ)
    # The outbox (migration 2026_12_01_0010): what to send, and when it may go next (office
    # hours, then the retry backoff). NULL for rows NotifyWorkflow's activities keep.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    due_at: Mapped[datetime | None] = mapped_column(TZ)
    # Releases of a mail never begun since its last try that began (migration 0030): the
    # first keeps it due at once, each one after backs off (`outbox.release_unbegun`).
    unbegun: Mapped[int] = mapped_column(Integer, server_default=text("0"))

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="status"),
        # 'inbox': the lines inbox notifications had here until their own row became their
        # only record (`notifications._PLAN_WRITES`); those written before stay, read by nothing.
        CheckConstraint("channel IN ('email', 'webhook', 'inbox')", name="channel"),
        Index(
            "ix_deliveries_due",
            "due_at",
            postgresql_where=text("payload IS NOT NULL AND status IN ('pending', 'sending')"),
        ),
        # Room on each page for the claims' HOT updates (migration 2026_12_01_0017).
        {"postgresql_with": {"fillfactor": 50}},
    )


class InboxNotification(Base):
    """An in-app notification for an audience; shown to every user whose token matches it."""

    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    event_id: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(Text)
    agreement_id: Mapped[str] = mapped_column(Text)
    seq: Mapped[int] = mapped_column(Integer)
    audience_key: Mapped[str] = mapped_column(Text)
    audience_org: Mapped[str | None] = mapped_column(Text)
    audience_role: Mapped[str] = mapped_column(Text)
    audience_gate: Mapped[str | None] = mapped_column(Text)
    template: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    at: Mapped[datetime] = mapped_column(TZ)
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())

    # One row per (event, audience): `id` is derived from the two (`notifications.inbox_id`),
    # so the primary key keeps them unique (migration 2026_12_02_0026 dropped the pair's own
    # unique index, an entry written for every notification and read by no query).
    __table_args__ = (Index("ix_notifications_audience", "audience_org", "audience_role", at.desc()),)


class NotificationRead(Base):
    """Read marks per user and event (a user matching two audiences of one event sees it once)."""

    __tablename__ = "notification_reads"

    sub: Mapped[str] = mapped_column(Text, primary_key=True)
    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    read_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())


class RecipientsVersion(Base):
    """One row whose version changes with whom a plan can reach (contacts; webhook
    endpoints' organisation, events and switch): a random stamp drawn by triggers in the
    changing transaction, never a value it had before, even after a restore. A worker keeps
    the recipients it read with the version they were read at, and a recording that planned
    with them writes only while the version is still that (migrations 2026_12_02_0027 and
    0028, `services.worker.recipients`)."""

    __tablename__ = "notification_recipients_version"

    one: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default=text("true"))
    version: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))

    __table_args__ = (CheckConstraint("one", name="one_row"),)
