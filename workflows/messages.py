"""Pydantic messages of the agreement lifecycle: proposal, commands, events, state, snapshot.

One model per message. These models validate *shape* (types, lengths, formats) so that a
malformed request is refused before anything is recorded; the *rules* (who may do what,
when, with which parties) live in `workflows.lifecycle`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Kind = Literal["ksdd", "ksdpk", "ksdpl", "ksdll"]
PartyRole = Literal["initiator", "counterparty"]
Sector = Literal["government", "industry", "academia", "community", "media"]
Gate = Literal["review", "legal", "dprd", "ministry", "head"]
Outcome = Literal["approve", "request_changes", "reject"]
SignMethod = Literal["electronic", "wet_ink"]
Stage = Literal[
    "draft", "review", "negotiation", "approval", "signing", "implementation",
    "rejected", "withdrawn", "terminated", "expired",
]
GateStatus = Literal["waiting", "pending", "approved", "changes_requested", "rejected"]
DocumentKind = Literal["loi", "plan", "ksb", "pks", "adendum"]

GATES: tuple[str, ...] = ("review", "legal", "dprd", "ministry", "head")
TERMINAL_STAGES: frozenset[str] = frozenset({"rejected", "withdrawn", "terminated", "expired"})

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
OrgId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Actor(Message):
    """Who sends a command: the authenticated principal, or `system` for timers."""

    sub: str
    org: str = ""
    roles: list[str] = Field(default_factory=list)
    gates: list[str] = Field(default_factory=list)

    def has(self, role: str) -> bool:
        return role in self.roles


SYSTEM = Actor(sub="system", org="", roles=["system"])


class Party(Message):
    org: OrgId
    name: ShortText | None = None
    role: PartyRole
    sector: Sector
    signatory: ShortText
    foreign: bool = False
    requires_dprd_approval: bool = False


class Indicator(Message):
    name: ShortText
    target: float
    unit: ShortText


class Proposal(Message):
    """Body of `POST /agreements`: the proposal staff start in `draft`."""

    title: ShortText = Field(min_length=3)
    kind: Kind
    objectives: LongText
    sector: ShortText
    parties: list[Party] = Field(min_length=2, max_length=20)
    start_date: date
    duration_months: int = Field(ge=1, le=600)
    evaluation_interval_months: int = Field(default=6, ge=1, le=60)
    indicators: list[Indicator] = Field(default_factory=list, max_length=100)
    value: int | None = Field(default=None, ge=0)


# ---------------------------------------------------------------- commands (actions)


class Edit(Message):
    """Staff of the initiator edit the proposal while it is in `draft`."""

    type: Literal["edit"] = "edit"
    title: ShortText | None = None
    objectives: LongText | None = None
    sector: ShortText | None = None
    parties: list[Party] | None = Field(default=None, min_length=2, max_length=20)
    start_date: date | None = None
    duration_months: int | None = Field(default=None, ge=1, le=600)
    evaluation_interval_months: int | None = Field(default=None, ge=1, le=60)
    indicators: list[Indicator] | None = Field(default=None, max_length=100)
    value: int | None = Field(default=None, ge=0)

    def changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"type"}, exclude_none=True)


class Submit(Message):
    type: Literal["submit"] = "submit"


class Decide(Message):
    type: Literal["decide"] = "decide"
    gate: Gate
    outcome: Outcome
    comment: LongText | None = None


class SubmitDraft(Message):
    type: Literal["submit_draft"] = "submit_draft"
    document: Sha256
    note: LongText | None = None


class AcceptDraft(Message):
    type: Literal["accept_draft"] = "accept_draft"
    version: int = Field(ge=1)


class Sign(Message):
    type: Literal["sign"] = "sign"
    version: int = Field(ge=1)
    method: SignMethod
    evidence: Sha256 | None = None
    signed_by: ShortText | None = None


class Terminate(Message):
    type: Literal["terminate"] = "terminate"
    reason: LongText


class Withdraw(Message):
    type: Literal["withdraw"] = "withdraw"
    reason: LongText


class Comment(Message):
    type: Literal["comment"] = "comment"
    text: LongText


Command = Annotated[
    Union[Edit, Submit, Decide, SubmitDraft, AcceptDraft, Sign, Terminate, Withdraw, Comment],
    Field(discriminator="type"),
]
COMMAND_TYPES: tuple[str, ...] = (
    "edit", "submit", "decide", "submit_draft", "accept_draft", "sign",
    "terminate", "withdraw", "comment",
)


class ActionRequest(Message):
    """Body of `POST /agreements/{id}/actions`; wraps the command for OpenAPI."""

    command: Command


# ---------------------------------------------------------------- events


class Event(Message):
    """One fact of an agreement's history. `seq` is gapless per agreement; `version` is the
    agreement's version after the command that produced it (several events may share it)."""

    id: str
    agreement_id: str
    seq: int
    version: int
    type: str
    at: datetime
    actor: Actor
    data: dict[str, Any] = Field(default_factory=dict)


# ---------------------------------------------------------------- state


class ProcedureRef(Message):
    key: str
    version: str


class GateSlot(Message):
    """One decision a gate owes: `org` is the party it is taken for (None: once for all)."""

    step: str
    gate: Gate
    org: str | None = None
    status: GateStatus = "waiting"
    decided_by: str | None = None
    comment: str | None = None
    at: datetime | None = None


class Draft(Message):
    version: int
    kind: DocumentKind
    document: str
    note: str | None = None
    submitted_by: str
    org: str
    at: datetime
    accepted_by: list[str] = Field(default_factory=list)


class Signature(Message):
    org: str
    version: int
    kind: DocumentKind
    document: str
    signed_by: str
    method: SignMethod
    evidence: str | None = None
    at: datetime


class CommentEntry(Message):
    by: str
    org: str
    text: str
    at: datetime


class Termination(Message):
    reason: str
    requested_by: str
    at: datetime


class AgreementState(Message):
    """Everything the decider knows about one agreement; carried across continue-as-new."""

    id: str
    title: str
    kind: Kind
    objectives: str
    sector: str
    parties: list[Party]
    start_date: date
    duration_months: int
    evaluation_interval_months: int
    indicators: list[Indicator]
    value: int | None = None
    procedure: ProcedureRef
    stage: Stage = "draft"
    step_index: int | None = None
    gates: list[GateSlot] = Field(default_factory=list)
    drafts: list[Draft] = Field(default_factory=list)
    signatures: list[Signature] = Field(default_factory=list)
    comments: list[CommentEntry] = Field(default_factory=list)
    termination: Termination | None = None
    deadlines: dict[str, datetime] = Field(default_factory=dict)
    closed_reason: str | None = None
    effective_date: date | None = None
    end_date: date | None = None
    evaluations: list[dict[str, Any]] = Field(default_factory=list)
    version: int = 1
    seq: int = 0
    created_by: str
    created_at: datetime
    updated_at: datetime
    request_fingerprint: str | None = None


# ---------------------------------------------------------------- snapshot


class LocalizedName(Message):
    id: str
    en: str


class StepView(Message):
    key: str
    kind: Literal["gate", "negotiation", "signing"]
    name: LocalizedName
    basis: str
    document: DocumentKind | None = None
    gate: Gate | None = None
    index: int
    of: int


class Snapshot(Message):
    """What a caller sees of an agreement: the state plus stage, step and its own options."""

    model_config = ConfigDict(extra="ignore")

    id: str
    title: str
    kind: Kind
    stage: Stage
    version: int
    procedure: ProcedureRef
    step: StepView | None
    objectives: str
    sector: str
    parties: list[Party]
    start_date: date
    duration_months: int
    evaluation_interval_months: int
    indicators: list[Indicator]
    value: int | None
    effective_date: date | None
    end_date: date | None
    gates: list[GateSlot]
    drafts: list[Draft]
    signatures: list[Signature]
    comments: list[CommentEntry]
    evaluations: list[dict[str, Any]]
    termination: Termination | None
    deadlines: dict[str, datetime]
    closed_reason: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    allowed_actions: list[str]
