"""Pydantic messages of the agreement lifecycle: proposal, commands, events, state, snapshot.

One model per message. These models validate *shape* (types, lengths, formats) so that a
malformed request is refused before anything is recorded; the *rules* (who may do what,
when, with which parties) live in `workflows.lifecycle`.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from workflows import zones

Kind = Literal["ksdd", "ksdpk", "ksdpl", "ksdll"]
PartyRole = Literal["initiator", "counterparty"]
Sector = Literal["government", "industry", "academia", "community", "media"]
Gate = Literal["review", "legal", "dprd", "ministry", "head"]
Outcome = Literal["approve", "request_changes", "reject"]
SignMethod = Literal["electronic", "wet_ink"]
Stage = Literal[
    "draft",
    "review",
    "negotiation",
    "approval",
    "signing",
    "implementation",
    "rejected",
    "withdrawn",
    "terminated",
    "expired",
]
GateStatus = Literal["waiting", "pending", "approved", "changes_requested", "rejected"]
DocumentKind = Literal["loi", "plan", "ksb", "pks", "adendum"]

Recommendation = Literal["continue", "expand", "stop"]
ChangeKind = Literal["amendment", "renewal"]
DeadlineKind = Literal["step", "evaluation_report"]

GATES: tuple[str, ...] = get_args(Gate)  # in the order of the procedure
DEFAULT_EXPIRY_REMINDER_DAYS: tuple[int, ...] = (90, 60, 30, 7, 0)
TERMINAL_STAGES: frozenset[str] = frozenset({"rejected", "withdrawn", "terminated", "expired"})
DEFAULT_TIME_ZONE = zones.DEFAULT_ZONE  # WIB (Asia/Jakarta): where most parties and users are


# What an IANA zone name can look like; anything else is not looked up at all (a very long
# or odd name reaches the file system as a path: "File name too long" was a 500).
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,3}$")


class UnknownTimeZone(ValueError):
    """A zone name the zone data does not know (pydantic reports it as a `value_error`)."""


def known_time_zone(value: str) -> str:
    """`value` if it names an IANA time zone the zone data knows, else UnknownTimeZone."""
    try:
        if len(value) > 64 or not _ZONE_NAME.match(value):
            raise ValueError
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise UnknownTimeZone(f"unknown time zone '{shown}' (use an IANA name such as Asia/Jakarta)") from None
    return value


def _zone_known_at_the_edge(value: str, info: ValidationInfo) -> str:
    if info.context is not None and info.context.get("pakta.at_the_edge"):
        return known_time_zone(value)
    return value


# An IANA time zone name (Asia/Jakarta WIB, Asia/Makassar WITA, Asia/Jayapura WIT, or a
# foreign partner's own), checked against the zone data: an organisation's or a contact's
# setting, which no workflow records.
TimeZone = Annotated[str, AfterValidator(known_time_zone)]
# A party's zone, which agreements record: checked against the zone data only where a party
# writes it (the edge validates with `AT_THE_EDGE`; a body FastAPI validated is checked by
# `refused_at_the_edge`). Without that context any name is taken, so a party recorded with a
# zone a later tzdata release dropped still replays and is still read; the decider counts
# its times in `DEFAULT_TIME_ZONE` (`workflows.zones.zone`).
PartyTimeZone = Annotated[str, AfterValidator(_zone_known_at_the_edge)]

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
ORG_ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
OrgId = Annotated[str, StringConstraints(pattern=ORG_ID_PATTERN)]
_ORG_ID = re.compile(ORG_ID_PATTERN)


def is_org_id(value: str) -> bool:
    """`value` spelled as an `OrgId` — the whole of it: Python's `$` also matches before a
    final newline, which the model's pattern does not let through."""
    return _ORG_ID.fullmatch(value) is not None


# What Pakta can store and round-trip. PostgreSQL refuses NUL in text and a lone surrogate
# cannot be encoded as UTF-8: a value like that, once accepted, would fail every attempt to
# record it. Other control characters are refused too (they only hide text from a reader);
# tab, line feed and carriage return are text. Every such value is refused here, before
# anything is recorded, with a 422 that names the field.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _storable_text(value: str) -> str:
    found = _UNSTORABLE.search(value)
    if found is not None:
        raise ValueError(
            f"text holds a character that cannot be stored (U+{ord(found.group()):04X} at position {found.start()})"
        )
    return value


ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), AfterValidator(_storable_text)
]
LongText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000), AfterValidator(_storable_text)
]
# Numbers survive a JSON round trip: no NaN or infinity (they come back as null and the state
# could not be rebuilt from its events), integers within what JSON readers keep exactly.
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
# The largest magnitude of a figure the parties write: an indicator's target, an evaluation's
# achievement, a measurement. A region's or a ministry's figures fit well within it (people,
# households, tonnes, kilometres; rupiah up to a thousand trillion, above any ministry's
# budget); a float of 10^30 or 10^308 is a typing slip or an attack, shown with every one of
# its digits. Refused only where a party writes it (the edge validates with `AT_THE_EDGE`):
# without that context a model takes any finite float, so a command or an event recorded
# before the bound still replays, and a state holding one is still read.
MAX_FIGURE: Final = 10**15
# The validation context of the edges (the API's bodies, the web pages' forms, the import).
AT_THE_EDGE: Final = {"pakta.at_the_edge": True}
FIGURE_OUT_OF_RANGE = "figure_out_of_range"


def _figure_in_range(value: float, info: ValidationInfo) -> float:
    if abs(value) > MAX_FIGURE and info.context is not None and info.context.get("pakta.at_the_edge"):
        raise PydanticCustomError(
            FIGURE_OUT_OF_RANGE,
            "Number must be between -10^15 and 10^15 (1,000,000,000,000,000)",
            {"max": MAX_FIGURE},
        )
    return value


Figure = Annotated[
    float,
    Field(allow_inf_nan=False, json_schema_extra={"minimum": -MAX_FIGURE, "maximum": MAX_FIGURE}),
    AfterValidator(_figure_in_range),
]
MAX_MONEY = 2**53 - 1  # rupiah; exact in every JSON reader and within the BIGINT column
Money = Annotated[int, Field(ge=0, le=MAX_MONEY)]
# Dates an agreement can carry: its term, a signing on paper, an amended end date.
EARLIEST_DATE, LATEST_DATE = date(1945, 8, 17), date(2100, 12, 31)


def _date_in_range(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"date must be between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}")
    return value


AgreementDate = Annotated[date, AfterValidator(_date_in_range)]


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

# The organisation whose approvers decide the Minister's approval (`ministry` gate) unless
# the proposal names others (`Proposal.ministry_orgs`, filled by the API from its settings).
DEFAULT_MINISTRY_ORGS: tuple[str, ...] = ("kemendagri",)


class DprdRequest(Message):
    """What a region's request to its DPRD holds (PP 28/2018; Permendagri 22/2020): the
    content on record for the `dprd` gate."""

    aims: LongText
    object: LongText
    rights_and_duties: LongText
    apbd_contribution: Money | None = None  # rupiah from this party's APBD
    benefits: LongText
    duration_months: int = Field(ge=1, le=600)
    burden: LongText | None = None  # what the cooperation asks of the public


class DprdFacts(Message):
    """The facts the regulation names, for one government party: DPRD approval is required
    when the cooperation burdens the public, or when it is not budgeted in that party's APBD."""

    burdens_public: bool
    budgeted_in_apbd: bool
    request: DprdRequest | None = None

    @property
    def required(self) -> bool:
        return self.burdens_public or not self.budgeted_in_apbd


class Delegation(Message):
    """A signature made under a letter of authority (surat kuasa): the official the head
    delegated signing to, and the sha256 of the uploaded letter."""

    official: ShortText
    letter: Sha256


class Party(Message):
    org: OrgId
    name: ShortText | None = None
    role: PartyRole
    sector: Sector
    signatory: ShortText
    foreign: bool = False
    requires_dprd_approval: bool = False
    # The facts DPRD approval follows from, set by the party's own staff
    # (`set_dprd_requirement`); absent: `requires_dprd_approval` as given.
    dprd: DprdFacts | None = None
    # The region's own days off (regional holidays), on top of weekends, national holidays
    # and cuti bersama; filled by the API from the organisation's settings.
    days_off: list[AgreementDate] = Field(default_factory=list, max_length=366)
    # IANA zone for reminders at office hours (WIB Asia/Jakarta, WITA Asia/Makassar,
    # WIT Asia/Jayapura, or the foreign partner's own).
    time_zone: PartyTimeZone = DEFAULT_TIME_ZONE


class Indicator(Message):
    name: ShortText
    target: Figure
    unit: ShortText


# ---------------------------------------------------------------- what an agreement carries (#13)
# Development goals, obligations per party and the action plan: shapes only here; the rules
# (owner is a party, indicators exist, dates within the term, SDG codes exist) are the
# decider's (`workflows.lifecycle.plan`). See docs/implementation.md.

ContributionKind = Literal["funds", "staff", "facilities", "data", "expertise"]
FundSource = Literal["apbd", "apbn", "other"]
GoalScheme = Literal["regional", "sdg"]
ObligationStatus = Literal["open", "fulfilled", "missed"]
Health = Literal["on_track", "at_risk", "off_track"]
MAX_GOALS = 50
MAX_PLAN_ITEMS = 200
MAX_EVIDENCE = 20

# The id a plan item is referred to by in reports, revisions and reminders ("A1", "OBL-2").
PlanId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")]
GoalCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40), AfterValidator(_storable_text)
]


class DevelopmentGoal(Message):
    """A goal the agreement serves: a target of the region's own plan (RPJMD/RKPD: code and
    text), or a Sustainable Development Goal or target by its code ("4", "4.1", "17.a",
    checked against `workflows/data/sdg`)."""

    scheme: GoalScheme
    code: GoalCode
    text: ShortText | None = None  # required for a regional target; an SDG's comes from the data


class Obligation(Message):
    """What one party contributes (hak dan kewajiban) and by when."""

    id: PlanId
    party: OrgId  # the owner party
    kind: ContributionKind
    description: LongText
    amount: Money | None = None  # rupiah, for funds
    source: FundSource | None = None  # where funds come from (funds only)
    due_on: AgreementDate


class PartyBudget(Message):
    """What one party spends on an activity."""

    party: OrgId
    amount: Money
    source: FundSource = "apbd"


class Activity(Message):
    """One step of the action plan (rencana aksi)."""

    id: PlanId
    name: ShortText
    party: OrgId  # the owner party: its staff and partners report progress
    responsible: ShortText  # the role or person responsible
    starts_on: AgreementDate
    ends_on: AgreementDate
    deliverables: list[ShortText] = Field(default_factory=list, max_length=20)
    indicators: list[ShortText] = Field(default_factory=list, max_length=20)  # names of the agreement's indicators
    budget: list[PartyBudget] = Field(default_factory=list, max_length=20)
    milestones: list[ShortText] = Field(default_factory=list, max_length=20)  # progress may report reaching one


class Proposal(Message):
    """Body of `POST /agreements`: the proposal staff start in `draft`."""

    title: ShortText = Field(min_length=3)
    kind: Kind
    objectives: LongText
    sector: ShortText
    parties: list[Party] = Field(min_length=2, max_length=20)
    start_date: AgreementDate
    duration_months: int = Field(ge=1, le=600)
    evaluation_interval_months: int = Field(default=6, ge=1, le=60)
    indicators: list[Indicator] = Field(default_factory=list, max_length=100)
    value: Money | None = None
    expiry_reminder_days: list[int] = Field(default_factory=lambda: list(DEFAULT_EXPIRY_REMINDER_DAYS), max_length=10)
    # The organisation(s) whose approvers decide the Minister's approval (`ministry` gate).
    # Set by the platform (PAKTA_MINISTRY_ORGS): the API replaces what a request says.
    ministry_orgs: list[OrgId] = Field(
        default_factory=lambda: list(DEFAULT_MINISTRY_ORGS),
        min_length=1,
        max_length=10,
        description="Set by the platform (PAKTA_MINISTRY_ORGS); a value sent here is replaced.",
    )
    # What the agreement serves and how it is carried out (docs/implementation.md): the
    # development goals, each party's obligations and the action plan. Negotiated with the
    # agreement; the plan's hash is bound into the drafts the parties accept and sign.
    goals: list[DevelopmentGoal] = Field(default_factory=list, max_length=MAX_GOALS)
    obligations: list[Obligation] = Field(default_factory=list, max_length=MAX_PLAN_ITEMS)
    activities: list[Activity] = Field(default_factory=list, max_length=MAX_PLAN_ITEMS)

    @field_validator("expiry_reminder_days")
    @classmethod
    def _reminder_days(cls, value: list[int]) -> list[int]:
        if any(d < 0 or d > 730 for d in value):
            raise ValueError("expiry reminders are between 0 and 730 days before the end date")
        return sorted(set(value), reverse=True)


class ImportedSettlement(Message):
    """An obligation of an imported plan already settled on paper: fulfilled, or missed
    (saying why), on the day it was."""

    obligation: PlanId
    outcome: Literal["fulfilled", "missed"]
    settled_on: AgreementDate
    note: LongText | None = None


class ImportedProgress(Message):
    """How far an activity of an imported plan was last reported done, as of the import."""

    activity: PlanId
    percent: int = Field(ge=0, le=100)
    note: LongText | None = None


class ImportRecord(Message):
    """An agreement signed before Pakta (on paper), brought in already in force: its
    historical dates and the scanned signed text as evidence; with an action plan, what
    of it was already settled or done (`settled`, `progress`)."""

    ref: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    proposal: Proposal
    signed_on: AgreementDate
    document: Sha256  # the signed text (a scan), uploaded first with POST /documents
    method: SignMethod = "wet_ink"
    settled: list[ImportedSettlement] = Field(default_factory=list, max_length=MAX_PLAN_ITEMS)
    progress: list[ImportedProgress] = Field(default_factory=list, max_length=MAX_PLAN_ITEMS)


# ---------------------------------------------------------------- commands (actions)


class Edit(Message):
    """Staff of the initiator edit the proposal while it is in `draft`."""

    type: Literal["edit"] = "edit"
    title: ShortText | None = None
    objectives: LongText | None = None
    sector: ShortText | None = None
    parties: list[Party] | None = Field(default=None, min_length=2, max_length=20)
    start_date: AgreementDate | None = None
    duration_months: int | None = Field(default=None, ge=1, le=600)
    evaluation_interval_months: int | None = Field(default=None, ge=1, le=60)
    indicators: list[Indicator] | None = Field(default=None, max_length=100)
    value: Money | None = None
    goals: list[DevelopmentGoal] | None = Field(default=None, max_length=MAX_GOALS)
    obligations: list[Obligation] | None = Field(default=None, max_length=MAX_PLAN_ITEMS)
    activities: list[Activity] | None = Field(default=None, max_length=MAX_PLAN_ITEMS)

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
    version: int = Field(ge=1, le=1_000_000)


class Sign(Message):
    type: Literal["sign"] = "sign"
    version: int = Field(ge=1, le=1_000_000)
    method: SignMethod
    evidence: Sha256 | None = None
    signed_by: ShortText | None = None
    delegation: Delegation | None = None  # signed under a letter of authority (surat kuasa)


class Terminate(Message):
    type: Literal["terminate"] = "terminate"
    reason: LongText


class Withdraw(Message):
    type: Literal["withdraw"] = "withdraw"
    reason: LongText


class Comment(Message):
    type: Literal["comment"] = "comment"
    text: LongText


class StartEvaluation(Message):
    """Open the next periodic evaluation now (staff, or an outside scheduler)."""

    type: Literal["start_evaluation"] = "start_evaluation"


class IndicatorResult(Message):
    indicator: ShortText
    achieved: Figure
    note: LongText | None = None


class SubmitEvaluationReport(Message):
    type: Literal["submit_evaluation_report"] = "submit_evaluation_report"
    evaluation: int = Field(ge=1, le=1_000_000)
    narrative: LongText
    results: list[IndicatorResult] = Field(default_factory=list, max_length=100)


class ConcludeEvaluation(Message):
    type: Literal["conclude_evaluation"] = "conclude_evaluation"
    evaluation: int = Field(ge=1, le=1_000_000)
    score: int = Field(ge=0, le=100)
    recommendation: Recommendation
    summary: LongText | None = None


class ProposeAmendment(Message):
    """Open an addendum; the listed terms change when it is signed."""

    type: Literal["propose_amendment"] = "propose_amendment"
    summary: LongText
    end_date: AgreementDate | None = None
    indicators: list[Indicator] | None = Field(default=None, max_length=100)
    evaluation_interval_months: int | None = Field(default=None, ge=1, le=60)
    value: Money | None = None
    objectives: LongText | None = None
    burdens_public: bool | None = None  # the addendum changes the burden on the public
    # An addendum changes the parties' obligations, or the action plan beyond what a
    # revision may (docs/implementation.md): the whole new list, in force once signed.
    obligations: list[Obligation] | None = Field(default=None, max_length=MAX_PLAN_ITEMS)
    activities: list[Activity] | None = Field(default=None, max_length=MAX_PLAN_ITEMS)


class EditChange(Message):
    """Initiating staff edit the terms of the open addendum while it is negotiated."""

    type: Literal["edit_change"] = "edit_change"
    summary: LongText | None = None
    end_date: AgreementDate | None = None
    indicators: list[Indicator] | None = Field(default=None, max_length=100)
    evaluation_interval_months: int | None = Field(default=None, ge=1, le=60)
    value: Money | None = None
    objectives: LongText | None = None
    burdens_public: bool | None = None
    obligations: list[Obligation] | None = Field(default=None, max_length=MAX_PLAN_ITEMS)
    activities: list[Activity] | None = Field(default=None, max_length=MAX_PLAN_ITEMS)


class WithdrawChange(Message):
    """Initiating staff withdraw the open amendment or renewal; the agreement stays as it is."""

    type: Literal["withdraw_change"] = "withdraw_change"
    reason: LongText


class SetDprdRequirement(Message):
    """A government party's own staff state the facts its DPRD requirement follows from."""

    type: Literal["set_dprd_requirement"] = "set_dprd_requirement"
    burdens_public: bool
    budgeted_in_apbd: bool
    request: DprdRequest | None = None


class Renew(Message):
    """Open the renewal of the agreement for a new term while the current one runs."""

    type: Literal["renew"] = "renew"
    duration_months: int = Field(ge=1, le=600)
    note: LongText | None = None


class ExtendDeadline(Message):
    type: Literal["extend_deadline"] = "extend_deadline"
    deadline: DeadlineKind = "step"
    days: int = Field(ge=1, le=365)
    reason: LongText
    evaluation: int | None = Field(default=None, ge=1, le=1_000_000)  # default: the latest open one


# ---------------------------------------------------------------- implementation commands (#13)


class EditPlan(Message):
    """Initiating staff change the goals, obligations or action plan while the agreement's
    text is negotiated (in draft, `edit` changes them with the other proposal fields). The
    latest version must then be submitted anew: a version binds the plan."""

    type: Literal["edit_plan"] = "edit_plan"
    goals: list[DevelopmentGoal] | None = Field(default=None, max_length=MAX_GOALS)
    obligations: list[Obligation] | None = Field(default=None, max_length=MAX_PLAN_ITEMS)
    activities: list[Activity] | None = Field(default=None, max_length=MAX_PLAN_ITEMS)

    def changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"type"}, exclude_none=True)


class ReportProgress(Message):
    """The owner party's staff or partners report progress on one of its activities."""

    type: Literal["report_progress"] = "report_progress"
    activity: PlanId
    percent: int | None = Field(default=None, ge=0, le=100)
    milestone: ShortText | None = None  # one of the activity's milestones, reached
    note: LongText | None = None
    evidence: list[Sha256] = Field(default_factory=list, max_length=MAX_EVIDENCE)  # own uploads


class RecordMeasurement(Message):
    """A party records a measurement of one of the agreement's indicators."""

    type: Literal["record_measurement"] = "record_measurement"
    indicator: ShortText
    value: Figure
    measured_on: AgreementDate
    source: ShortText  # where the value comes from (BPS, the service's register, a survey)
    note: LongText | None = None


class SettleObligation(Message):
    """An obligation is fulfilled (with evidence) or missed (with the reason in `note`)."""

    type: Literal["settle_obligation"] = "settle_obligation"
    obligation: PlanId
    outcome: Literal["fulfilled", "missed"]
    note: LongText | None = None
    evidence: list[Sha256] = Field(default_factory=list, max_length=MAX_EVIDENCE)  # own uploads


class ProposePlanRevision(Message):
    """A party proposes a revision of the action plan: the whole new list of activities.
    Every party accepts it before it applies; what needs an addendum instead is the
    decider's rule (docs/implementation.md)."""

    type: Literal["propose_plan_revision"] = "propose_plan_revision"
    summary: LongText
    activities: list[Activity] = Field(min_length=1, max_length=MAX_PLAN_ITEMS)


class AcceptPlanRevision(Message):
    type: Literal["accept_plan_revision"] = "accept_plan_revision"
    revision: int = Field(ge=1, le=1_000_000)


class WithdrawPlanRevision(Message):
    """The proposing party withdraws its open revision (or another party declines it, with
    the reason): the plan stays as it is."""

    type: Literal["withdraw_plan_revision"] = "withdraw_plan_revision"
    revision: int = Field(ge=1, le=1_000_000)
    reason: LongText


class ScheduleMeeting(Message):
    """A coordination meeting of the parties, with its agenda."""

    type: Literal["schedule_meeting"] = "schedule_meeting"
    title: ShortText
    at: datetime
    place: ShortText | None = None  # a room, or a video call's address
    participants: list[OrgId] = Field(min_length=1, max_length=20)  # the parties invited
    agenda: list[ShortText] = Field(min_length=1, max_length=30)

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("a meeting's time carries its zone (e.g. 2027-03-01T09:00:00+07:00)")
        _date_in_range(value.date())
        return value


class MeetingDecision(Message):
    """A decision of a meeting that someone must act on: an action item."""

    text: ShortText
    party: OrgId  # the owner party
    due_on: AgreementDate


class RecordMinutes(Message):
    """The minutes (notulen) of a meeting held, as an uploaded document, and its decisions."""

    type: Literal["record_minutes"] = "record_minutes"
    meeting: int = Field(ge=1, le=1_000_000)
    document: Sha256
    decisions: list[MeetingDecision] = Field(default_factory=list, max_length=50)


class CompleteActionItem(Message):
    type: Literal["complete_action_item"] = "complete_action_item"
    item: Annotated[str, StringConstraints(pattern=r"^M[0-9]{1,7}-[0-9]{1,3}$")]  # "M2-1": meeting 2, decision 1
    note: LongText | None = None
    evidence: list[Sha256] = Field(default_factory=list, max_length=MAX_EVIDENCE)  # own uploads


# ---- publishing on the public portal (#12)


class Publish(Message):
    """A party's staff publish the signed agreement on the public portal (`/public/`), with
    the signed documents they mark public (the signed texts, their own signing evidence).
    Publishing again replaces the documents their organisation marked."""

    type: Literal["publish"] = "publish"
    documents: list[Sha256] = Field(default_factory=list, max_length=50)


class Unpublish(Message):
    """A party's staff take their organisation's publication back: the agreement leaves
    the portal once no party publishes it."""

    type: Literal["unpublish"] = "unpublish"
    reason: LongText | None = None


# ---- end of publishing


class Tick(Message):
    """Time passed: the workflow's timer asks the decider what is due now. System only;
    not part of the public API."""

    type: Literal["tick"] = "tick"
    # Step each evaluation period from the last one, clamped to the month's length, as runs
    # of before `add_period` decided (their histories must replay to the same events): an
    # agreement in force from the 29th-31st then drifts to an earlier day. The workflow sets
    # it for runs started before the "evaluation-periods-anchored" patch.
    legacy_periods: bool = False
    # Send every expiry reminder of an end date an amendment or renewal moved, even those
    # that fell before it was signed (all at once, the next tick), as runs of before did: the
    # workflow sets it for runs started before the "expiry-reminders-after-the-change" patch.
    legacy_expiry_reminders: bool = False


class RefreshPartySettings(Message):
    """The organisation changed its settings in the register: its party takes the days off
    and the time zone it states now (None: the register states none, the party keeps its
    own). System only, sent by the worker after a settings change and by the nightly
    reconciliation (docs/lifecycle.md); not part of the public API."""

    type: Literal["refresh_party_settings"] = "refresh_party_settings"
    org: OrgId
    days_off: list[AgreementDate] | None = Field(default=None, max_length=366)
    time_zone: TimeZone | None = None
    # When the register's settings were last changed, as the sender read them
    # (`organisation_settings.updated_at`): older than what the party took, it is refused as
    # superseded. None: a sender from before it was sent, not compared.
    as_of: datetime | None = None
    # Count the open due dates again with the new days (`deadline_recounted`). False: as
    # commands sent before recounting were decided, so their histories replay as recorded;
    # the register's senders set it (services/store/organisations.py).
    recount: bool = False


_PUBLIC = (
    Edit
    | Submit
    | Decide
    | SubmitDraft
    | AcceptDraft
    | Sign
    | Terminate
    | Withdraw
    | Comment
    | StartEvaluation
    | SubmitEvaluationReport
    | ConcludeEvaluation
    | ProposeAmendment
    | Renew
    | ExtendDeadline
    | EditChange
    | WithdrawChange
    | SetDprdRequirement
    # implementation (#13)
    | EditPlan
    | ReportProgress
    | RecordMeasurement
    | SettleObligation
    | ProposePlanRevision
    | AcceptPlanRevision
    | WithdrawPlanRevision
    | ScheduleMeeting
    | RecordMinutes
    | CompleteActionItem
    | Publish
    | Unpublish
)
Command = Annotated[_PUBLIC, Field(discriminator="type")]
AnyCommand = Annotated[_PUBLIC | Tick | RefreshPartySettings, Field(discriminator="type")]
COMMAND_TYPES: tuple[str, ...] = (
    "edit",
    "submit",
    "decide",
    "submit_draft",
    "accept_draft",
    "sign",
    "start_evaluation",
    "submit_evaluation_report",
    "conclude_evaluation",
    "propose_amendment",
    "renew",
    "extend_deadline",
    "terminate",
    "withdraw",
    "comment",
    "tick",
    "edit_change",
    "withdraw_change",
    "set_dprd_requirement",
    # implementation (#13)
    "edit_plan",
    "report_progress",
    "record_measurement",
    "settle_obligation",
    "propose_plan_revision",
    "accept_plan_revision",
    "withdraw_plan_revision",
    "schedule_meeting",
    "record_minutes",
    "complete_action_item",
    "publish",
    "unpublish",
    "refresh_party_settings",
)
# The commands only the system sends (never offered to people, never in `/actions`).
SYSTEM_COMMAND_TYPES: frozenset[str] = frozenset({"tick", "refresh_party_settings"})


class ActionRequest(Message):
    """Body of `POST /agreements/{id}/actions`; wraps the command for OpenAPI."""

    command: Command


# ---------------------------------------------------------------- events


class Event(Message):
    """One fact of an agreement's history. `seq` is gapless per agreement; `version` is the
    agreement's version after the command that produced it (several events may share it).
    `data` is the recorded JSON form of the type's payload model
    (`workflows.lifecycle.events.EVENT_PAYLOADS`): stored, hashed and replayed as is."""

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
    # The step (and change process) the version was negotiated in: a renewal negotiates a
    # new PKS without touching the acceptances of the original one.
    scope: str = ""
    kind: DocumentKind
    document: str
    note: str | None = None
    submitted_by: str
    org: str
    at: datetime
    accepted_by: list[str] = Field(default_factory=list)
    plan_hash: str | None = None  # the action plan this version binds (#13); None: no plan


class Signature(Message):
    org: str
    scope: str = ""
    version: int
    kind: DocumentKind
    document: str
    signed_by: str
    method: SignMethod
    evidence: str | None = None
    at: datetime
    delegation: Delegation | None = None


class CommentEntry(Message):
    by: str
    org: str
    text: str
    at: datetime


class Termination(Message):
    reason: str
    requested_by: str
    at: datetime
    org: str | None = None  # the requesting party
    declined: str | None = None  # the reason a head gave for declining (declined_terminations)


class EvaluationReport(Message):
    org: str
    narrative: str
    results: list[IndicatorResult]
    submitted_by: str
    at: datetime
    late: bool = False


class DueExtension(Message):
    at: datetime
    days: int


class DueCount(Message):
    """How a due date counted in days of service was counted: from `start`, then each
    extension since. A party's new days off count it again from the same moments
    (`deadline_recounted`); `due` is the date it gave, so a count whose date is no longer
    the recorded one (the step moved on) is never used."""

    due: datetime
    start: datetime
    extensions: list[DueExtension] = Field(default_factory=list)
    # The national calendar's edition the whole count was last counted with: set when a newer
    # edition took effect and counted it again (`deadline_recounted`, "national_calendar").
    # None, as in every count kept before: each part with the edition in force at its own
    # moment (the start, each extension), as it was decided. Left out of the JSON then, so a
    # state is the bytes it was before this field, which a process of the release before
    # (messages refuse unknown keys) still reads during a rolling deploy.
    edition: int | None = Field(default=None, exclude_if=lambda edition: edition is None)


class Evaluation(Message):
    number: int
    final: bool = False
    opened_at: datetime
    opened_by: str
    due_at: datetime
    reports: list[EvaluationReport] = Field(default_factory=list)
    escalated: bool = False
    escalations: int = 0  # escalations sent (the first, then at ESCALATION_INTERVAL_DAYS)
    score: int | None = None
    recommendation: Recommendation | None = None
    summary: str | None = None
    concluded_at: datetime | None = None
    concluded_by: str | None = None
    achievement: PlanAchievement | None = None  # against the action plan, at the conclusion (#13)


class ChangeProcess(Message):
    """An amendment or renewal running its own negotiation, approval and signing while
    the agreement stays in force."""

    kind: ChangeKind
    number: int
    procedure: ProcedureRef
    step_index: int = 0
    summary: str
    changes: dict[str, Any] = Field(default_factory=dict)
    origin: str | None = None
    opened_at: datetime
    recommendation: str | None = None  # the evaluation conclusion an expansion carries


class Amendment(Message):
    number: int
    kind: ChangeKind
    summary: str
    changes: dict[str, Any]
    document: str
    version: int
    signed_at: datetime


# ---------------------------------------------------------------- implementation state (#13)


class ProgressReport(Message):
    org: str
    percent: int | None = None
    milestone: str | None = None
    note: str | None = None
    evidence: list[str] = Field(default_factory=list)
    reported_by: str
    at: datetime


class ActivityRecord(Activity):
    """An activity of the plan in force, with the progress reported on it."""

    progress: list[ProgressReport] = Field(default_factory=list)

    @property
    def percent(self) -> int:
        """The latest percentage reported (0 before any)."""
        return next((r.percent for r in reversed(self.progress) if r.percent is not None), 0)


class ObligationRecord(Obligation):
    """An obligation of the plan in force, with its status."""

    status: ObligationStatus = "open"
    note: str | None = None
    evidence: list[str] = Field(default_factory=list)
    settled_by: str | None = None
    settled_at: datetime | None = None


class Measurement(Message):
    indicator: str
    value: float
    measured_on: date
    source: str
    note: str | None = None
    org: str
    recorded_by: str
    at: datetime


class PlanRevision(Message):
    """A revision of the action plan: open until every party has accepted it (adopted) or
    it is withdrawn."""

    number: int
    summary: str
    activities: list[Activity]
    org: str  # the proposing party
    proposed_by: str
    at: datetime
    accepted_by: list[str] = Field(default_factory=list)
    status: Literal["open", "adopted", "withdrawn"] = "open"
    closed_at: datetime | None = None
    reason: str | None = None  # why it was withdrawn or declined


class Meeting(Message):
    number: int
    title: str
    at: datetime
    place: str | None = None
    participants: list[str]
    agenda: list[str]
    scheduled_by: str
    org: str
    minutes: str | None = None  # the sha256 of the minutes (notulen)
    minutes_by: str | None = None
    minutes_at: datetime | None = None


class ActionItem(Message):
    id: str  # "M2-1"
    meeting: int
    text: str
    party: str
    due_on: date
    done_at: datetime | None = None
    done_by: str | None = None
    note: str | None = None
    evidence: list[str] = Field(default_factory=list)


class HealthReason(Message):
    """Why an agreement's implementation has its health: a code, the plan item it is about
    and a sentence (English, with ids). The fields after `text` are what a reader's sentence
    is made of at the edges, in their language and with names
    (`services.notifying.health_words`): the item's own words, the organisation it belongs
    to (an id, named where it is read) and the figures compared."""

    code: str
    ref: str | None = None
    text: str
    about: str | None = None  # the activity's name, the obligation's description, the action item's text
    party: str | None = None  # the organisation whose item it is
    figures: dict[str, float] = Field(default_factory=dict)  # percent/planned; value/expected/target
    unit: str | None = None  # the indicator's unit


class ImplementationHealth(Message):
    status: Health
    reasons: list[HealthReason] = Field(default_factory=list)
    as_of: datetime


class PlanAchievement(Message):
    """Achievement against plan, as an evaluation's conclusion records it for its period."""

    planned_percent: int
    actual_percent: int
    achievement: int | None  # actual against planned, percent
    obligations_fulfilled: list[str] = Field(default_factory=list)
    obligations_missed: list[str] = Field(default_factory=list)


class PeriodSummary(Message):
    """What happened in an evaluation's period, for its report form: progress per activity,
    obligations met or missed, measurements recorded, and achievement against plan."""

    evaluation: int
    period_from: date
    period_to: date
    activities: list[dict[str, Any]] = Field(default_factory=list)  # id, name, party, planned/actual percent
    obligations_fulfilled: list[str] = Field(default_factory=list)
    obligations_missed: list[str] = Field(default_factory=list)
    obligations_overdue: list[str] = Field(default_factory=list)
    measurements: list[Measurement] = Field(default_factory=list)
    planned_percent: int = 0  # what the plan expected done by the period's end (mean over activities)
    actual_percent: int = 0  # what was reported done
    achievement: int | None = None  # actual against planned, percent (None: nothing was planned yet)


class Publication(Message):
    """A party's decision to show the agreement on the public portal, and the signed
    documents it marked public there."""

    org: str
    documents: list[str] = Field(default_factory=list)
    by: str
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
    # When the agreement entered its stage: a public fact (the portal's open data dates its
    # releases by it); None for agreements whose stage has not changed since it was added.
    stage_since: datetime | None = None
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
    evaluations: list[Evaluation] = Field(default_factory=list)
    evaluations_opened: int = 0
    next_evaluation_on: date | None = None
    # Reminders that would have fallen before this moment are moot (imported agreements,
    # late starts); escalations, openings and expiry still happen.
    timeline_from: datetime | None = None
    expiry_reminder_days: list[int] = Field(default_factory=lambda: list(DEFAULT_EXPIRY_REMINDER_DAYS))
    change: ChangeProcess | None = None
    changes_opened: int = 0
    amendments: list[Amendment] = Field(default_factory=list)
    notices_sent: list[str] = Field(default_factory=list)
    imported: bool = False
    version: int = 1
    seq: int = 0
    created_by: str
    created_at: datetime
    updated_at: datetime
    request_fingerprint: str | None = None
    ministry_orgs: list[str] = Field(default_factory=lambda: list(DEFAULT_MINISTRY_ORGS))
    # "office_days": deadlines count days of service (agreements created since); None: the
    # calendar days at 09:00 of agreements created before.
    calendar: str | None = None
    declined_terminations: list[Termination] = Field(default_factory=list)
    deferred_recommendations: list[str] = Field(default_factory=list)  # "evaluation:N expand (renewal-2 open)"
    # implementation (#13): empty for agreements from before, so their states load as before
    goals: list[DevelopmentGoal] = Field(default_factory=list)
    obligations: list[ObligationRecord] = Field(default_factory=list)
    activities: list[ActivityRecord] = Field(default_factory=list)
    measurements: list[Measurement] = Field(default_factory=list)
    plan_revisions: list[PlanRevision] = Field(default_factory=list)
    meetings: list[Meeting] = Field(default_factory=list)
    action_items: list[ActionItem] = Field(default_factory=list)
    # The parties that publish the agreement on the public portal (#12), in order of publishing.
    publications: list[Publication] = Field(default_factory=list)
    # Per party's organisation, the register's version of the settings it last took
    # (`party_settings_changed`'s `as_of`): a refresh read before it is superseded.
    party_settings_as_of: dict[str, datetime] = Field(default_factory=dict)
    # How the running due dates counted in days of service were counted ("step",
    # "evaluation:<n>"), so new days off can count them again; empty for those recorded
    # before it was kept, which are not recounted.
    due_counts: dict[str, DueCount] = Field(default_factory=dict)


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
    evaluations: list[Evaluation]
    change: ChangeProcess | None
    amendments: list[Amendment]
    next_evaluation_at: datetime | None = None
    expiry_reminder_days: list[int] = Field(default_factory=list)
    imported: bool = False
    termination: Termination | None
    declined_terminations: list[Termination] = Field(default_factory=list)
    deferred_recommendations: list[str] = Field(default_factory=list)
    publications: list[Publication] = Field(default_factory=list)
    deadlines: dict[str, datetime]
    closed_reason: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    allowed_actions: list[str]
    # implementation (#13): docs/implementation.md
    goals: list[DevelopmentGoal] = Field(default_factory=list)
    obligations: list[ObligationRecord] = Field(default_factory=list)
    activities: list[ActivityRecord] = Field(default_factory=list)
    measurements: list[Measurement] = Field(default_factory=list)
    plan_revisions: list[PlanRevision] = Field(default_factory=list)
    meetings: list[Meeting] = Field(default_factory=list)
    action_items: list[ActionItem] = Field(default_factory=list)
    plan_hash: str | None = None  # sha256 of the plan in force (None: no plan)
    health: ImplementationHealth | None = None  # in implementation only, at the time of reading
    period: PeriodSummary | None = None  # the open evaluation's period, for its report form


# ---------------------------------------------------------------- the action plan's read (#13)


class ActivityProgress(ActivityRecord):
    """An activity of the plan in force with where it stands on the day of reading."""

    percent_done: int  # the latest percentage reported (0 before any)
    percent_planned: int  # what its schedule expects done by today (linear between start and end)


class ActionPlanView(Message):
    """`GET /agreements/{id}/action-plan`: the agreement's goals, obligations and action plan
    with how they stand — activities with their progress, obligations with their status,
    coordination meetings and their action items, indicator measurements, revisions, and
    the implementation's health with its reasons (docs/implementation.md)."""

    agreement_id: str
    title: str
    stage: Stage
    version: int
    as_of: datetime
    term_from: date
    term_to: date
    plan_hash: str | None  # sha256 of the plan in force (None: no plan)
    indicators: list[Indicator]
    goals: list[DevelopmentGoal]
    obligations: list[ObligationRecord]
    activities: list[ActivityProgress]
    measurements: list[Measurement]
    meetings: list[Meeting]
    action_items: list[ActionItem]
    plan_revisions: list[PlanRevision]
    health: ImplementationHealth | None  # in implementation only; None: nothing to measure


# ---------------------------------------------------------------- the edge's bounds


def refused_at_the_edge(message: BaseModel) -> list[ErrorDetails]:
    """What the edge refuses of `message` once validated without `AT_THE_EDGE` (FastAPI
    validates a body without a context): its figures beyond `MAX_FIGURE` and its parties'
    zones the zone data does not know, as pydantic's errors located in `message`. Nothing
    to do for a message that holds neither."""
    model = type(message)
    if not _holds_figures(model):
        return []
    try:
        model.model_validate(message.model_dump(), context=AT_THE_EDGE)
    except ValidationError as error:
        return [e for e in error.errors() if _refused_at_the_edge_only(e)]
    return []


def _refused_at_the_edge_only(error: ErrorDetails) -> bool:
    return error["type"] == FIGURE_OUT_OF_RANGE or isinstance(error.get("ctx", {}).get("error"), UnknownTimeZone)


@functools.cache
def _holds_figures(model: type[BaseModel]) -> bool:
    """Whether `model` holds a field the edge checks more strictly (a figure, a party's zone)."""
    return _type_holds_figures(model, frozenset())


def _type_holds_figures(annotation: Any, seen: frozenset[type]) -> bool:
    if isinstance(annotation, AfterValidator):
        return annotation.func in (_figure_in_range, _zone_known_at_the_edge)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return False
        seen |= {annotation}
        return any(
            any(_type_holds_figures(item, seen) for item in field.metadata)
            or _type_holds_figures(field.annotation, seen)
            for field in annotation.model_fields.values()
        )
    return any(_type_holds_figures(argument, seen) for argument in get_args(annotation))
