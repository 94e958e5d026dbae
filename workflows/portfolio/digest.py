"""The portfolio digest of one organisation, computed purely from agreement states.

What an organisation's staff read each morning: what is overdue, what falls due in the
next 7 and 14 days, which agreements expire within 90 days, and which open evaluations
still wait for the organisation's report. Used by the portfolio sweep (which delivers it
as a notification, once per organisation and local day) and by `GET /portfolio/digest`.

No I/O and no clock: `now` comes in. Deterministic, so it is also safe in workflow code.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict

from workflows import messages as m
from workflows.lifecycle import current_step, health
from workflows.notify.rules import Audience, Notification
from workflows.zones import zone as zone_info

DIGEST_HOUR = 8  # the digest goes out at 08:00 local time, before the 09:00 reminders
DIGEST_UNTIL_HOUR = 17  # ... or later the same office day, if the 08:00 run was missed
UPCOMING_DAYS = (7, 14)
EXPIRING_DAYS = 90
MAX_ITEMS = 25  # items listed per section; `total` still counts them all
TEMPLATE = "portfolio_digest"
EVENT_TYPE = "portfolio_digest"

Section = Literal["overdue", "due_7_days", "due_14_days", "expiring", "awaiting_reports", "at_risk"]


class DigestItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agreement_id: str
    title: str
    stage: str
    step: str | None = None
    deadline: str | None = None  # "step" or "evaluation_report"
    due_at: datetime | None = None
    due_day: date | None = None  # `due_at` as a date in the organisation's zone
    end_date: date | None = None
    evaluation: int | None = None
    days: int  # days overdue (overdue) or days left (the others), in the organisation's zone
    health: str | None = None  # at_risk / off_track, with the first reason (#13)
    reason: str | None = None  # the first reason's English sentence, as before `why`
    # The first reason whole: its code and facts, which the mail words in its reader's
    # language (`services.notifying.health_words`); absent from digests recorded before it.
    why: m.HealthReason | None = None


class _Listed(TypedDict):
    """What every item of one agreement repeats."""

    agreement_id: str
    title: str
    stage: str


class DigestSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    total: int = 0
    items: list[DigestItem] = []


class Digest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org: str
    day: date  # the organisation's local date
    time_zone: str
    at: datetime
    overdue: DigestSection = DigestSection()
    due_7_days: DigestSection = DigestSection()
    due_14_days: DigestSection = DigestSection()  # due in 8 to 14 days
    expiring: DigestSection = DigestSection()  # implementation ending within 90 days
    awaiting_reports: DigestSection = DigestSection()  # open evaluations without this org's report
    at_risk: DigestSection = DigestSection()  # implementation at risk or off track (#13)

    @property
    def empty(self) -> bool:
        return not any(
            getattr(self, s).total
            for s in ("overdue", "due_7_days", "due_14_days", "expiring", "awaiting_reports", "at_risk")
        )

    @property
    def event_id(self) -> str:
        return digest_event_id(self.org, self.day)


def digest_event_id(org: str, day: date) -> str:
    """The delivery log's key of one organisation's digest of one local day."""
    return f"digest-{org}-{day.isoformat()}"


# ---------------------------------------------------------------- time zones and hours


def org_zone(
    org: str, party_zones: Iterable[str] = (), contact_zones: Iterable[str] = (), configured: str | None = None
) -> str:
    """An organisation's zone: the one set in its organisation settings, else the one its
    party entries name most often, else its contacts', else WIB. Ties go to the
    alphabetically first zone (stable across runs)."""
    for zones in ([configured] if configured else [], list(party_zones), [z for z in contact_zones if z]):
        valid = [z for z in zones if _valid(z)]
        if valid:
            counts = Counter(valid)
            return min(counts, key=lambda z: (-counts[z], z))
    return m.DEFAULT_TIME_ZONE


def _valid(zone: str) -> bool:
    try:
        m.known_time_zone(zone)
    except Exception:  # zones come from stored rows: any failure just skips the zone
        return False
    return True


def digest_day(
    now: datetime, zone: str, *, hour: int = DIGEST_HOUR, until_hour: int = DIGEST_UNTIL_HOUR
) -> date | None:
    """The local day whose digest is due at `now` in `zone`, or None outside the window.

    The sweep runs hourly; an organisation's digest is due from `hour`:00 local time until
    `until_hour`:00, so the first run inside that window sends it (half-hour zones too) and
    a missed run is caught up by the next. The delivery log keeps it to once a day."""
    local = now.astimezone(zone_info(zone))
    if hour <= local.hour < max(until_hour, hour + 1):
        return local.date()
    return None


def next_send(now: datetime, zone: str, *, hour: int = DIGEST_HOUR) -> datetime:
    """When the next digest of an organisation in `zone` goes out (for display)."""
    tz = zone_info(zone)
    local = now.astimezone(tz)
    at = datetime.combine(local.date(), time(hour), tz)
    if at <= local:
        at = datetime.combine(local.date() + timedelta(days=1), time(hour), tz)
    return at


# ---------------------------------------------------------------- content


def build_digest(
    org: str, states: Iterable[m.AgreementState], now: datetime, zone: str, *, max_items: int = MAX_ITEMS
) -> Digest:
    """The digest of `org` at `now` from the agreements it is party to (others and closed
    ones are ignored). Days count in the organisation's zone."""
    tz = zone_info(zone)
    today = now.astimezone(tz).date()
    near, far = (now + timedelta(days=d) for d in UPCOMING_DAYS)
    found: dict[Section, list[DigestItem]] = {
        s: [] for s in ("overdue", "due_7_days", "due_14_days", "expiring", "awaiting_reports", "at_risk")
    }

    def days_between(moment: datetime) -> int:
        return abs((moment.astimezone(tz).date() - today).days)

    def local(moment: datetime) -> date:
        return moment.astimezone(tz).date()

    for state in states:
        if state.stage in m.TERMINAL_STAGES or org not in {p.org for p in state.parties}:
            continue
        base: _Listed = {"agreement_id": state.id, "title": state.title, "stage": state.stage}
        step = _step_key(state)
        evaluation = next((e for e in state.evaluations if e.concluded_at is None), None)
        reported = evaluation is not None and any(r.org == org for r in evaluation.reports)
        for kind, due in sorted(state.deadlines.items()):
            if kind == "evaluation_report" and reported:
                continue  # this organisation has done its part
            item = DigestItem(
                **base,
                step=step if kind == "step" else None,
                deadline=kind,
                due_at=due,
                due_day=local(due),
                evaluation=evaluation.number if kind == "evaluation_report" and evaluation else None,
                days=days_between(due),
            )
            if due < now:
                found["overdue"].append(item)
            elif due < near:
                found["due_7_days"].append(item)
            elif due < far:
                found["due_14_days"].append(item)
        if state.stage == "implementation" and state.end_date is not None:
            left = (state.end_date - today).days
            if 0 <= left <= EXPIRING_DAYS:
                found["expiring"].append(DigestItem(**base, end_date=state.end_date, days=left))
        status = health(state, now)  # the decider's own reckoning of the plan (#13)
        if status is not None and status.status != "on_track":
            first = status.reasons[0] if status.reasons else None
            found["at_risk"].append(
                DigestItem(**base, health=status.status, reason=first.text if first else None, why=first, days=0)
            )
        if evaluation is not None and not reported:
            found["awaiting_reports"].append(
                DigestItem(
                    **base,
                    deadline="evaluation_report",
                    due_at=evaluation.due_at,
                    due_day=local(evaluation.due_at),
                    evaluation=evaluation.number,
                    days=days_between(evaluation.due_at),
                )
            )

    def section(items: list[DigestItem], key: Callable[[DigestItem], Any]) -> DigestSection:
        items.sort(key=key)
        return DigestSection(total=len(items), items=items[:max_items])

    def by_due(item: DigestItem) -> Any:
        return item.due_at, item.agreement_id

    return Digest(
        org=org,
        day=today,
        time_zone=zone,
        at=now,
        overdue=section(found["overdue"], by_due),
        due_7_days=section(found["due_7_days"], by_due),
        due_14_days=section(found["due_14_days"], by_due),
        expiring=section(found["expiring"], lambda i: (i.end_date, i.agreement_id)),
        awaiting_reports=section(found["awaiting_reports"], by_due),
        at_risk=section(found["at_risk"], lambda i: (i.health != "off_track", i.agreement_id)),
    )


def _step_key(state: m.AgreementState) -> str | None:
    try:
        step = current_step(state)
    except Exception:  # a state from another procedure version: the key is cosmetic here
        return None
    return step.key if step is not None else None


def digest_notification(digest: Digest) -> Notification:
    """The digest as one notification for the organisation's staff: the inbox shows it,
    contacts holding the staff role get it by email in their language. Its event id is
    `digest-<org>-<day>`, so the delivery log lets it out once per organisation and day."""
    return Notification(
        event_id=digest.event_id,
        event_type=EVENT_TYPE,
        agreement_id="",
        seq=0,
        at=digest.at,
        audience=Audience(org=digest.org, role="staff"),
        template=TEMPLATE,
        data={"title": "", **digest.model_dump(mode="json")},
    )
