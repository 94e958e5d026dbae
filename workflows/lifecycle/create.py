"""How an agreement begins: created from a proposal (in draft), or imported already in
force from a paper agreement signed before Pakta; and the party rules every proposal
(and every edit of its parties) must follow."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from workflows import messages as m
from workflows import timeline as t
from workflows.lifecycle import events as ev
from workflows.lifecycle.access import check_creator, check_importer
from workflows.lifecycle.bounds import check_recordable
from workflows.lifecycle.emitter import Emitter
from workflows.lifecycle.errors import InvalidProposal
from workflows.lifecycle.evolve import evolve
from workflows.lifecycle.plan import check_plan
from workflows.lifecycle.reading import zone
from workflows.procedures import RULES_2026_FROM, current_procedure


def create(
    proposal: m.Proposal,
    actor: m.Actor,
    now: datetime,
    agreement_id: str,
    fingerprint: str | None = None,
    *,
    importing: bool = False,
) -> list[m.Event]:
    """The agreement's first event: the proposal, under the kind's current procedure, with
    office-day deadlines."""
    check_time(now)
    check_proposal(proposal.kind, proposal.parties)
    check_term(proposal.start_date, proposal.duration_months)
    check_creator(proposal, actor, importing=importing)
    day = now.astimezone(UTC).date()
    procedure = current_procedure(proposal.kind, day)
    data = {
        **proposal.model_dump(mode="json"),
        "procedure": {"key": procedure.key, "version": procedure.version},
        "fingerprint": fingerprint,
    }
    if day >= RULES_2026_FROM:  # office-day deadlines; created before: calendar days, as recorded then
        data["calendar"] = t.OFFICE_DAYS
    for part in PLAN_PARTS:  # an agreement without a plan is recorded as before plans existed (#13)
        if not data[part]:
            del data[part]
    payload = ev.AgreementCreated.model_validate(data)
    event = m.Event(
        id=ev.event_id(agreement_id, 1),
        agreement_id=agreement_id,
        seq=1,
        version=1,
        type="agreement_created",
        at=now,
        actor=actor,
        data=ev.dump_payload(payload),
    )
    state = evolve(None, event)
    check_plan(state)
    check_recordable(state)
    return [event]


PLAN_PARTS = ("goals", "obligations", "activities")


def import_agreement(
    record: m.ImportRecord,
    actor: m.Actor,
    now: datetime,
    agreement_id: str,
    fingerprint: str | None = None,
    *,
    legacy_periods: bool = False,
) -> list[m.Event]:
    """An agreement signed on paper before Pakta, brought in already in force. Its
    evaluation schedule, reminders and expiry follow from its historical dates: the next
    evaluation is the first one still ahead, reminders already past are moot, and one past
    its end date arrives expired. Periods fall on the effective date's day of the month
    (`legacy_periods`: each a calendar month after the last, as imports of before counted —
    see `m.Tick.legacy_periods`)."""
    check_importer(actor, record.proposal)
    check_time(now)
    proposal = record.proposal
    events = create(proposal, actor, now, agreement_id, fingerprint, importing=True)
    state = evolve(None, events[0])
    # Signed by today where the initiator is: in Jayapura (WIT) a day begins two hours before
    # Jakarta's, and a paper signed there this morning is not in the future. Never later than
    # Jakarta's day either, as imports were checked before (an import accepted then replays).
    if record.signed_on > max(t.local_day(now, zone(state)), t.local_day(now, "Asia/Jakarta")):
        raise InvalidProposal("An imported agreement was signed in the past.", ref=record.ref)
    emitter = Emitter(state, actor, now)
    emitter.version = 1  # one command: the import
    effective = max(proposal.start_date, record.signed_on)
    end = t.add_months(effective, proposal.duration_months)
    today = t.local_day(now, zone(state))
    following = t.add_months(effective, proposal.evaluation_interval_months)
    while following <= today:
        if legacy_periods:
            following = t.add_months(following, proposal.evaluation_interval_months)
        else:
            following = t.add_period(following, proposal.evaluation_interval_months, effective)
    emitter.emit(
        ev.AgreementImported(
            ref=record.ref,
            signed_on=record.signed_on,
            document=record.document,
            method=record.method,
            effective_date=effective,
            end_date=end,
            next_evaluation_on=following,
        )
    )
    _imported_work(emitter, record, today)
    if end <= today:
        emitter.emit(ev.AgreementExpired(end_date=end, imported=True))
    return events + emitter.events


def _imported_work(emitter: Emitter, record: m.ImportRecord, today: date) -> None:
    """What of an imported plan was done on paper: obligations settled (on a day between
    the signing and the import; a missed one says why) and activities' last reported
    percentages, as of the import. Each item once, and only items of the plan."""
    obligations = {o.id: o for o in record.proposal.obligations}
    activities = {a.id: a for a in record.proposal.activities}
    for field, ids, known in (
        ("settled", [s.obligation for s in record.settled], obligations),
        ("progress", [p.activity for p in record.progress], activities),
    ):
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise InvalidProposal(f"The plan has no item {', '.join(unknown)}.", field=field, ref=record.ref)
        if len(set(ids)) != len(ids):
            raise InvalidProposal("Each item of the plan is settled or reported once.", field=field, ref=record.ref)
    for settled in record.settled:
        if not record.signed_on <= settled.settled_on <= today:
            raise InvalidProposal(
                f"Obligation {settled.obligation} was settled between the signing and today.",
                field="settled",
                ref=record.ref,
            )
        if settled.outcome == "missed" and not settled.note:
            raise InvalidProposal(
                f"Missed obligation {settled.obligation} says why (note).", field="settled", ref=record.ref
            )
        emitter.emit(
            ev.ObligationSettled(
                obligation=settled.obligation,
                outcome=settled.outcome,
                note=settled.note,
                evidence=[],  # the signed scan is the import's evidence
                org=obligations[settled.obligation].party,
                settled_on=settled.settled_on,
            )
        )
    for reported in record.progress:
        emitter.emit(
            ev.ProgressReported(
                activity=reported.activity,
                org=activities[reported.activity].party,
                percent=reported.percent,
                milestone=None,
                note=reported.note,
                evidence=[],
            )
        )


def check_proposal(kind: str, parties: list[m.Party]) -> None:
    """Party rules per kind of agreement (PP 28/2018)."""
    initiators = [p for p in parties if p.role == "initiator"]
    if len(initiators) != 1:
        raise InvalidProposal("An agreement has exactly one initiating party.")
    orgs = [p.org for p in parties]
    if len(set(orgs)) != len(orgs):
        raise InvalidProposal("Each organisation is party to an agreement once.")
    lead = initiators[0]
    if lead.sector != "government" or lead.foreign:
        raise InvalidProposal("The initiator of a kerja sama daerah is an Indonesian region.")
    others = [p for p in parties if p.role == "counterparty"]
    rules: dict[str, tuple[Callable[[m.Party], bool], str]] = {
        "ksdd": (
            lambda p: p.sector == "government" and not p.foreign,
            "A KSDD is between Indonesian regions: every counterparty is a domestic government.",
        ),
        "ksdpk": (
            lambda p: p.sector != "government" and not p.foreign,
            "A KSDPK is with a domestic third party (industry, academia, community or media).",
        ),
        "ksdpl": (
            lambda p: p.sector == "government" and p.foreign,
            "A KSDPL is with a regional government abroad: the counterparty is foreign and governmental.",
        ),
        "ksdll": (
            lambda p: p.sector != "government" and p.foreign,
            "A KSDLL is with a foreign institution: the counterparty is foreign and not a government.",
        ),
    }
    rule, message = rules[kind]
    if not all(rule(p) for p in others):
        raise InvalidProposal(message, kind=kind)
    if any(
        (p.requires_dprd_approval or p.dprd is not None) and (p.foreign or p.sector != "government") for p in parties
    ):
        raise InvalidProposal("Only Indonesian government parties have a DPRD to approve.")
    for p in parties:
        if p.dprd is not None and p.dprd.required != p.requires_dprd_approval:
            raise InvalidProposal(
                f"DPRD approval of {p.org} follows from its facts: required when the "
                "cooperation burdens the public or is not budgeted in its APBD.",
                field="requires_dprd_approval",
                org=p.org,
            )


def check_term(start: date, duration_months: int) -> None:
    """Every date an agreement will compute stays in the range dates are kept in."""
    if t.add_months(start, duration_months) > m.LATEST_DATE:
        raise InvalidProposal(f"The term would end after {m.LATEST_DATE.isoformat()}.", field="duration_months")


def check_time(now: datetime) -> None:
    """The decider's clock is an aware moment (a naive one has no place on the timeline)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidProposal("The command's time must carry its time zone.", field="now")
