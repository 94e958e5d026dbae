"""Tables: the agreement read model, the append-only audit trail, uploaded documents and
where they are attached.

The schema itself is created by the hand-written migrations in `migrations/versions/`
(which also hold what models cannot say: the append-only trigger, the pg_trgm index);
these models mirror it for queries and for Alembic's autogenerate check.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from services.store.db import Base

TZ = DateTime(timezone=True)


class Agreement(Base):
    """One row per agreement: the projection of its latest recorded state.

    Written only by `queries.append_events` (the record_events activity); lists and search
    read the columns, single reads parse `state`.
    """

    __tablename__ = "agreements"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(Text)
    step_key: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    procedure_key: Mapped[str] = mapped_column(Text)
    procedure_version: Mapped[str] = mapped_column(Text)
    initiator_org: Mapped[str] = mapped_column(Text)
    # Stored uncompressed, as `id` (STORAGE EXTERNAL, migration 2026_12_02_0025): compressed by
    # the toaster, it compared unequal to the next update's plain copy, which was then not HOT.
    orgs: Mapped[list[str]] = mapped_column(ARRAY(Text))
    sector: Mapped[str] = mapped_column(Text)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    value: Mapped[int | None] = mapped_column(BigInteger)
    next_deadline_at: Mapped[datetime | None] = mapped_column(TZ)
    ministry_visible: Mapped[bool] = mapped_column(Boolean)
    # At least one party publishes it on the public portal (a `publish` decision, #12).
    published: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    last_seq: Mapped[int] = mapped_column(Integer)
    # Hash of the last audit row: lets verification notice a trail cut short at its end.
    head_hash: Mapped[str] = mapped_column(CHAR(64))
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZ)
    updated_at: Mapped[datetime] = mapped_column(TZ)
    state: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # Lower-cased title, objectives and parties, for `q` (ILIKE, pg_trgm index when present).
    search: Mapped[str] = mapped_column(Text)
    # The implementation's health (on_track, at_risk, off_track) as of the last recorded
    # event; NULL outside implementation or without a plan (#13).
    health: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        # What the sweeps and the portfolio select by. Nothing here indexes a column a
        # transition changes (`updated_at`, `stage`, `version`, `state`, `next_deadline_at`),
        # so a transition's update can stay on its page without an entry in any index (HOT,
        # migrations 2026_12_02_0022 and 0023); what orders by time or deadline or filters by
        # stage reads `agreement_summaries`, as the lists, the inbox and the digest do. `orgs`,
        # `ministry_visible` and `published` change only when the parties, the ministry's gate
        # or a publication do.
        Index("ix_agreements_orgs", "orgs", postgresql_using="gin"),
        # Ministry approvers' notifications: the few agreements that reached their gate.
        Index("ix_agreements_ministry_visible", "ministry_visible", postgresql_where=text("ministry_visible")),
        # The portal lists the few published agreements.
        Index("ix_agreements_published", "published", postgresql_where=text("published")),
        # Pages filled to 70 % keep room for a transition's new version on the row's own page
        # (a row is 0.5–2 KB: the state compressed inline, or out of line once larger).
        {"postgresql_with": {"fillfactor": 70}},
    )


class AgreementSummary(Base):
    """What a list shows of an agreement, and what its filters and search read: the list
    columns of `agreements`, without the state, in a narrow table of their own. A trigger
    on `agreements` writes it (migration 2026_12_01_0014), so every writer of the read
    model keeps it, and a deleted agreement takes its summary along (foreign key).

    Lists read this table only: its rows are a tenth the width of `agreements`' (whose
    state PostgreSQL compresses, and past ≈ 2 KB keeps out of line in its TOAST table), so a
    page, a filter or a search reads a tenth of the pages.
    """

    __tablename__ = "agreement_summaries"

    id: Mapped[str] = mapped_column(Text, ForeignKey("agreements.id", ondelete="CASCADE"), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(Text)
    step_key: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    initiator_org: Mapped[str] = mapped_column(Text)
    orgs: Mapped[list[str]] = mapped_column(ARRAY(Text))
    sector: Mapped[str] = mapped_column(Text)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    next_deadline_at: Mapped[datetime | None] = mapped_column(TZ)
    ministry_visible: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(TZ)
    search: Mapped[str] = mapped_column(Text)
    health: Mapped[str | None] = mapped_column(Text, nullable=True)  # (#13)
    # The parties' organisations as the recorded state names them, which decide who sees
    # the row (`orgs` only selects): the trigger writes them from the state it records, not
    # from `orgs` (migration 2026_12_01_0018).
    party_orgs: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # The words of `search` (text-search `simple`: no stemming, no stop words), which the
    # list's text search matches by prefix (migration 2026_12_01_0016).
    search_words: Mapped[str | None] = mapped_column(
        TSVECTOR, Computed("to_tsvector('simple'::regconfig, search)", persisted=True)
    )

    __table_args__ = (
        Index("ix_agreement_summaries_updated_at_id", updated_at.desc(), id.desc()),
        Index("ix_agreement_summaries_stage_updated_at", "stage", updated_at.desc(), id.desc()),
        Index("ix_agreement_summaries_kind_updated_at", "kind", updated_at.desc(), id.desc()),
        Index("ix_agreement_summaries_next_deadline_at", "next_deadline_at"),
        Index("ix_agreement_summaries_end_date", "end_date"),
        Index("ix_agreement_summaries_ministry_visible", "ministry_visible", postgresql_where=text("ministry_visible")),
        Index("ix_agreement_summaries_health", "health", postgresql_where=text("health IS NOT NULL")),
        Index("ix_agreement_summaries_search_words", "search_words", postgresql_using="gin"),
    )


class AgreementSummaryOrg(Base):
    """A summary once per organisation of its `orgs`, with what a staff list filters and
    orders by: an organisation's page of agreements, newest first, perhaps in a stage, is one
    walk of an index here (migration 2026_12_02_0024). The summaries' trigger writes it with
    every write of `agreements`; a deleted summary takes its rows along."""

    __tablename__ = "agreement_summary_orgs"

    agreement_id: Mapped[str] = mapped_column(
        Text, ForeignKey("agreement_summaries.id", ondelete="CASCADE"), primary_key=True
    )
    org: Mapped[str] = mapped_column(Text, primary_key=True)
    stage: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(TZ)

    __table_args__ = (
        Index("ix_agreement_summary_orgs_org_updated_at", "org", updated_at.desc(), agreement_id.desc()),
        Index("ix_agreement_summary_orgs_org_stage_updated_at", "org", "stage", updated_at.desc(), agreement_id.desc()),
    )


class AgreementEvent(Base):
    """The audit trail: append-only (a trigger refuses UPDATE, DELETE and TRUNCATE),
    hash-chained per agreement (see `services.store.audit`)."""

    __tablename__ = "agreement_events"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    # Looked up by the unique (agreement_id, seq) index; no separate index needed.
    agreement_id: Mapped[str] = mapped_column(Text)
    seq: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(Text)
    actor: Mapped[dict[str, Any]] = mapped_column(JSONB)
    at: Mapped[datetime] = mapped_column(TZ)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    prev_hash: Mapped[str] = mapped_column(CHAR(64))
    hash: Mapped[str] = mapped_column(CHAR(64))
    recorded_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    # Which workflow run, at which length of its history, recorded the row: a row recorded by
    # an earlier task of the same run (or by the run before it) that history does not hold
    # may be superseded; one recorded later may not (see `queries.append_events`).
    run_id: Mapped[str | None] = mapped_column(Text)
    history_length: Mapped[int | None] = mapped_column(Integer)
    # When that task started: orders two tasks of one run that saw the same history length.
    task_started_at: Mapped[datetime | None] = mapped_column(TZ)

    __table_args__ = (UniqueConstraint("agreement_id", "seq"),)


class SupersededEvent(Base):
    """Rows that left the trail because the workflow task that recorded them never
    completed: Temporal's history does not hold them, and the agreement decided other
    events under their seqs. Kept whole, append-only, with when and why."""

    __tablename__ = "superseded_events"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    agreement_id: Mapped[str] = mapped_column(Text)
    seq: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(Text)
    actor: Mapped[dict[str, Any]] = mapped_column(JSONB)
    at: Mapped[datetime] = mapped_column(TZ)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    prev_hash: Mapped[str] = mapped_column(CHAR(64))
    hash: Mapped[str] = mapped_column(CHAR(64))
    recorded_at: Mapped[datetime] = mapped_column(TZ)
    run_id: Mapped[str | None] = mapped_column(Text)
    history_length: Mapped[int | None] = mapped_column(Integer)
    task_started_at: Mapped[datetime | None] = mapped_column(TZ)
    superseded_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    superseded_by_run_id: Mapped[str | None] = mapped_column(Text)
    superseded_by_history_length: Mapped[int | None] = mapped_column(Integer)
    superseded_by_task_started_at: Mapped[datetime | None] = mapped_column(TZ)
    reason: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_superseded_events_agreement_id_seq", "agreement_id", "seq"),)


class Document(Base):
    """Uploaded documents, content-addressed within their organisation: (org, SHA-256) is
    the key, so an upload is idempotent, the same bytes uploaded by two organisations are
    two documents (each with its own media type), and only the hash travels through
    Temporal."""

    __tablename__ = "documents"

    org: Mapped[str] = mapped_column(Text, primary_key=True)
    sha256: Mapped[str] = mapped_column(CHAR(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())


class DocumentAttachment(Base):
    """Where a document is shared: the organisation `org`'s document `sha256` attached to
    an agreement by the event at `seq` (a draft version, a signature's evidence, an
    import's signed text). Written by the projection in `queries.append_events`; the
    agreement's parties (and whoever may see it) may read the document."""

    __tablename__ = "document_attachments"

    agreement_id: Mapped[str] = mapped_column(Text, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(CHAR(64), primary_key=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    org: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_document_attachments_sha256", "sha256"),)


class IdempotencyKey(Base):
    """The first response a caller got for an `Idempotency-Key`, with the fingerprint of
    the request it answered: a retry of the same request gets it again; the same key on
    another request is refused. Scoped to the caller (organisation and subject)."""

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(CHAR(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    etag: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    # A success names the agreement and the version it showed: should the recording behind
    # that version be superseded (history does not hold it), the answer is forgotten with it.
    agreement_id: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_idempotency_keys_created_at", "created_at"),
        Index("ix_idempotency_keys_agreement_id_version", "agreement_id", "version"),
    )


from services.store.notification_models import *  # noqa: E402, F403  (registers notification tables on Base)


class OrganisationSettings(Base):
    """What an organisation sets once for all its agreements: its time zone (office hours
    for deadlines and reminders) and how long before an end date it wants reminders."""

    __tablename__ = "organisation_settings"

    org: Mapped[str] = mapped_column(Text, primary_key=True)
    time_zone: Mapped[str | None] = mapped_column(Text)
    expiry_reminder_days: Mapped[list[int] | None] = mapped_column(ARRAY(Integer))
    # The region's own days without service (regional holidays), beyond the national ones.
    days_off: Mapped[list[date] | None] = mapped_column(ARRAY(Date))
    updated_by: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())


class PublicFeedback(Base):
    """A citizen's feedback on a published agreement: held until the staff of the
    organisation it went to (the initiator if it publishes the agreement, else the first
    party that does) approve it (only then shown on the portal), its sender's address kept
    only as a keyed hash, for rate limiting."""

    __tablename__ = "public_feedback"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    agreement_id: Mapped[str] = mapped_column(Text)
    org: Mapped[str] = mapped_column(Text)  # the publishing organisation whose staff moderate
    name: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default=text("'pending'"))
    client: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    moderated_by: Mapped[str | None] = mapped_column(Text)
    moderated_at: Mapped[datetime | None] = mapped_column(TZ)

    __table_args__ = (
        Index("ix_public_feedback_agreement_status", "agreement_id", "status"),
        Index("ix_public_feedback_client_created_at", "client", "created_at"),
    )


class RegisteredOrganisation(Base):
    """The register of organisations (master data): who an organisation is (its official
    names, its level — a province, a regency, a ministry, a university …), which province it
    is in (a code of `data/provinces.json`) and, where the platform says so, who oversees it
    otherwise than by default (`services.store.register` derives the default). Kept by the
    platform's operators; an organisation's administrator keeps its own names and contacts."""

    __tablename__ = "organisations"

    org: Mapped[str] = mapped_column(Text, primary_key=True)
    name_id: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)
    level: Mapped[str] = mapped_column(Text)
    foreign: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    province_code: Mapped[str | None] = mapped_column(Text)
    # Set only to override the derived overseer (regency/city → its province's government,
    # province → the Ministry of Home Affairs).
    overseer: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())

    __table_args__ = (
        Index("ix_organisations_province_code_level", "province_code", "level"),
        Index("ix_organisations_overseer", "overseer"),
        # One government per province: the derived overseer of its regencies and cities.
        Index(
            "uq_organisations_province_government",
            "province_code",
            unique=True,
            postgresql_where=text("level = 'province'"),
        ),
    )
