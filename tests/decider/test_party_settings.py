"""A region's days off and time zone, changed in the register, reach its agreements as an
event of their history (`refresh_party_settings` → `party_settings_changed`): what the
decider decides after counts with them, what it decided before stays.

Pure: no database, no Temporal."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from tests import builders as b
from workflows import lifecycle as L
from workflows import messages as m

LEAD = b.INITIATOR


def refresh(org: str = LEAD, **settings: object) -> m.RefreshPartySettings:
    return m.RefreshPartySettings(org=org, **settings)  # type: ignore[arg-type]


def party(state: m.AgreementState, org: str = LEAD) -> m.Party:
    return next(p for p in state.parties if p.org == org)


def step_due(state: m.AgreementState) -> datetime:
    due = state.deadlines["step"]
    assert due is not None
    return due


def test_a_day_off_the_region_adds_is_recorded_and_a_later_deadline_skips_it() -> None:
    draft = b.created(legacy=False)
    control, _ = b.run(draft, b.staff(), m.Submit())
    # A weekday the review counts now, between the submission and its due date.
    day_off = (b.NOW + timedelta(days=3)).date()
    assert day_off.weekday() < 5 and day_off < step_due(control).date()

    state, events = b.run(draft, m.SYSTEM, refresh(days_off=[day_off]))
    assert b.types(events) == ["party_settings_changed"]
    assert events[0].data == {"org": LEAD, "days_off": [day_off.isoformat()], "time_zone": "Asia/Jakarta"}
    assert party(state).days_off == [day_off] and party(state).time_zone == "Asia/Jakarta"

    submitted, _ = b.run(state, b.staff(), m.Submit(), b.NOW + timedelta(minutes=1))
    calendar = L.calendar_of(submitted, LEAD, b.NOW)
    assert not calendar.is_office_day(day_off)
    # One day of service fewer in the same stretch: the due date is the next office day.
    assert step_due(submitted).date() == calendar.add_office_days(step_due(control).date(), 1)


def test_a_due_date_already_recorded_stays_and_the_reminders_count_with_the_new_days() -> None:
    state, _ = b.run(b.created(legacy=False), b.staff(), m.Submit())
    due = step_due(state)
    before = {n.key: n.at for n in L.notices(state)}
    # The office day before the due date becomes a day off: the reminder "1 day of service
    # before" moves to the office day before it; the due date does not move.
    day_before = L.calendar_of(state, LEAD, b.NOW).subtract_office_days(due.date(), 1)
    later = b.NOW + timedelta(hours=1)
    after_state, _ = b.run(state, m.SYSTEM, refresh(days_off=[day_before]), later)
    assert step_due(after_state) == due
    after = {n.key: n.at for n in L.notices(after_state)}
    assert after.keys() == before.keys()
    moved = {key for key in before if before[key] != after[key]}
    assert moved and all(after[key] < before[key] for key in moved)
    assert all(after[key].date() != day_before for key in after)


def test_a_time_zone_alone_keeps_the_days_off_the_party_has() -> None:
    state, _ = b.run(b.created(legacy=False), m.SYSTEM, refresh(days_off=[date(2027, 2, 1)]))
    state, events = b.run(state, m.SYSTEM, refresh(time_zone="Asia/Makassar"))
    assert events[0].data == {"org": LEAD, "days_off": ["2027-02-01"], "time_zone": "Asia/Makassar"}
    assert party(state).days_off == [date(2027, 2, 1)]


def test_the_same_settings_sent_again_are_refused_and_leave_no_history() -> None:
    state, first = b.run(b.created(legacy=False), m.SYSTEM, refresh(days_off=[date(2027, 2, 2), date(2027, 2, 1)]))
    assert len(first) == 1
    for again in (
        refresh(days_off=[date(2027, 2, 1), date(2027, 2, 2), date(2027, 2, 1)]),
        refresh(days_off=[date(2027, 2, 1), date(2027, 2, 2)], time_zone="Asia/Jakarta"),
        refresh(),
    ):
        with pytest.raises(L.DomainError) as refused:
            L.decide(state, again, m.SYSTEM, b.NOW)
        assert refused.value.status == 409 and refused.value.code == "settings_unchanged"


def test_an_organisation_that_is_no_party_is_refused() -> None:
    with pytest.raises(L.DomainError) as refused:
        L.decide(b.created(legacy=False), refresh(b.OUTSIDER, days_off=[date(2027, 2, 1)]), m.SYSTEM, b.NOW)
    assert refused.value.status == 409 and refused.value.details["org"] == b.OUTSIDER


def test_a_closed_agreement_accepts_no_settings() -> None:
    state, _ = b.run(b.created(legacy=False), b.staff(), m.Withdraw(reason="Batal"))
    assert state.stage == "withdrawn"
    with pytest.raises(L.DomainError) as refused:
        L.decide(state, refresh(days_off=[date(2027, 2, 1)]), m.SYSTEM, b.NOW)
    assert refused.value.status == 409 and refused.value.code == "invalid_transition"


@pytest.mark.parametrize(
    "person", [b.staff(), b.admin(LEAD), b.operator(), b.approver(LEAD, "head")], ids=lambda a: a.sub
)
def test_no_person_may_send_it_nor_is_it_offered(person: m.Actor) -> None:
    state = b.implemented(b.ksdd_proposal())
    with pytest.raises(L.DomainError) as refused:
        L.decide(state, refresh(days_off=[date(2027, 2, 1)]), person, b.NOW)
    assert refused.value.status == 403
    assert "refresh_party_settings" not in L.allowed_actions(state, person, b.NOW)
    assert "refresh_party_settings" not in L.allowed_actions(state, m.SYSTEM, b.NOW)
    # `/actions` reads `m.ActionRequest`: the system's commands are not part of it.
    with pytest.raises(ValueError):
        m.ActionRequest.model_validate({"command": {"type": "refresh_party_settings", "org": LEAD}})


def test_settings_read_from_the_register_before_those_the_party_took_are_refused_as_superseded() -> None:
    """Two senders, one agreement: the prompt of a change brings B (read at 10:00), then the
    night brings what it read at 09:00 (A). A is refused, nothing is recorded, B stands. A
    later version is taken; a command without one (a sender from before) is taken as before."""
    draft = b.created(legacy=False)
    nine, ten = b.NOW.replace(hour=9), b.NOW.replace(hour=10)
    state, events = b.run(draft, m.SYSTEM, refresh(time_zone="Asia/Makassar", as_of=ten))
    recorded = {"org": LEAD, "days_off": [], "time_zone": "Asia/Makassar", "as_of": "2027-01-04T10:00:00Z"}
    assert events[0].data == recorded
    assert state.party_settings_as_of == {LEAD: ten}

    with pytest.raises(L.DomainError) as refused:
        L.decide(state, refresh(time_zone="Asia/Jayapura", as_of=nine), m.SYSTEM, b.NOW)
    assert refused.value.status == 409 and refused.value.code == "settings_superseded"

    eleven = ten + timedelta(hours=1)
    later, _ = b.run(state, m.SYSTEM, refresh(time_zone="Asia/Jayapura", as_of=eleven))
    assert party(later).time_zone == "Asia/Jayapura" and later.party_settings_as_of == {LEAD: eleven}
    unversioned, events = b.run(state, m.SYSTEM, refresh(time_zone="Asia/Jayapura"))
    assert "as_of" not in events[0].data and unversioned.party_settings_as_of == {LEAD: ten}
    # Another party's version is its own.
    other, _ = b.run(state, m.SYSTEM, refresh(b.REGION, time_zone="Asia/Makassar", as_of=nine))
    assert other.party_settings_as_of == {LEAD: ten, b.REGION: nine}


def test_an_event_recorded_before_versions_were_sent_replays_without_one() -> None:
    draft = b.created(legacy=False)
    _, events = b.run(draft, m.SYSTEM, refresh(time_zone="Asia/Makassar"))
    assert events[0].data == {"org": LEAD, "days_off": [], "time_zone": "Asia/Makassar"}
    replayed = b.replay(events, draft)
    assert replayed.party_settings_as_of == {} and party(replayed).time_zone == "Asia/Makassar"


def test_the_values_a_party_has_under_a_newer_version_record_the_version_alone_and_again_nothing() -> None:
    """The register went A → B → A before B reached the agreement: the last change's A, at
    its newer version, is recorded though the party has A already — the version alone moves,
    so a B read in between (older) is refused as superseded when it arrives. The same version
    sent again (the night's resend), or A without a version, records nothing; nor is a due
    date counted again, the days being the same."""
    submitted, _ = b.run(b.created(legacy=False), b.staff(), m.Submit())
    nine, ten, eleven = (b.NOW.replace(hour=h) for h in (9, 10, 11))
    state, _ = b.run(submitted, m.SYSTEM, refresh(time_zone="Asia/Jakarta", days_off=[], as_of=nine, recount=True))
    assert state.party_settings_as_of == {LEAD: nine}

    state, events = b.run(state, m.SYSTEM, refresh(time_zone="Asia/Jakarta", days_off=[], as_of=eleven, recount=True))
    assert b.types(events) == ["party_settings_changed"]
    assert events[0].data == {"org": LEAD, "days_off": [], "time_zone": "Asia/Jakarta", "as_of": "2027-01-04T11:00:00Z"}
    assert state.party_settings_as_of == {LEAD: eleven} and party(state).time_zone == "Asia/Jakarta"

    for refused_as, again in (
        ("settings_superseded", refresh(time_zone="Asia/Makassar", as_of=ten)),
        ("settings_unchanged", refresh(time_zone="Asia/Jakarta", days_off=[], as_of=eleven)),
        ("settings_unchanged", refresh(time_zone="Asia/Jakarta", days_off=[])),
    ):
        with pytest.raises(L.DomainError) as refused:
            L.decide(state, again, m.SYSTEM, b.NOW)
        assert refused.value.code == refused_as


def test_the_values_a_party_took_without_a_version_take_the_first_version_sent() -> None:
    """An agreement copies its parties' settings when it is created, and records no version:
    the first versioned command with the same values records that version, so an older read
    still on its way is refused."""
    draft = b.created(legacy=False)
    ten = b.NOW.replace(hour=10)
    state, events = b.run(draft, m.SYSTEM, refresh(time_zone="Asia/Jakarta", as_of=ten))
    assert b.types(events) == ["party_settings_changed"] and state.party_settings_as_of == {LEAD: ten}
    with pytest.raises(L.DomainError) as refused:
        L.decide(state, refresh(time_zone="Asia/Makassar", as_of=b.NOW.replace(hour=9)), m.SYSTEM, b.NOW)
    assert refused.value.code == "settings_superseded"


def test_a_run_recorded_before_the_version_alone_refuses_it_and_only_such_a_refresh_is_told_apart() -> None:
    """Before a version could move alone (`trust17`), equal values were refused whatever
    their version: a run recorded then replays its refusal (`unchanged_settings_refused`,
    set by the workflow's handler under a patch). `settings_version_alone` names the one
    refresh the two rules decide differently — the workflow asks Temporal only for it."""
    submitted, _ = b.run(b.created(legacy=False), b.staff(), m.Submit())
    nine, eleven = b.NOW.replace(hour=9), b.NOW.replace(hour=11)
    state, _ = b.run(submitted, m.SYSTEM, refresh(time_zone="Asia/Jakarta", days_off=[], as_of=nine))
    alone = refresh(time_zone="Asia/Jakarta", days_off=[], as_of=eleven, recount=True)
    assert L.settings_version_alone(state, alone)
    assert L.settings_version_alone(submitted, alone)  # no version taken yet
    with pytest.raises(L.DomainError) as refused:
        L.decide(state, alone, m.SYSTEM, b.NOW, unchanged_settings_refused=True)
    assert refused.value.code == "settings_unchanged"
    assert b.types(L.decide(state, alone, m.SYSTEM, b.NOW)) == ["party_settings_changed"]

    moved = refresh(time_zone="Asia/Makassar", as_of=eleven)
    assert b.types(L.decide(state, moved, m.SYSTEM, b.NOW, unchanged_settings_refused=True)) == [
        "party_settings_changed"
    ]
    for other in (
        moved,
        refresh(time_zone="Asia/Jakarta", days_off=[], as_of=nine),  # the version taken
        refresh(time_zone="Asia/Jakarta", days_off=[]),  # no version
        refresh(b.REGION, time_zone="Asia/Makassar", as_of=eleven),
        refresh("nobody", time_zone="Asia/Jakarta", as_of=eleven),
        m.Comment(text="Siap."),
    ):
        assert not L.settings_version_alone(state, other)


def test_only_a_version_alone_whose_validator_saw_new_values_can_have_been_refused_before_it() -> None:
    """A refresh reached a handler of before `trust17` as the version alone only when its
    validator saw new values (it refused equal ones): the state changed in between. A
    version alone seen as such by its validator was recorded by every run since, with no
    patch marker — the workflow refuses it on replay only in the first case (review18)."""
    submitted, _ = b.run(b.created(legacy=False), b.staff(), m.Submit())
    nine, eleven = b.NOW.replace(hour=9), b.NOW.replace(hour=11)
    elsewhere, _ = b.run(submitted, m.SYSTEM, refresh(time_zone="Asia/Makassar", as_of=nine))
    back, _ = b.run(elsewhere, m.SYSTEM, refresh(time_zone="Asia/Jakarta", as_of=nine.replace(hour=10)))
    alone = refresh(time_zone="Asia/Jakarta", as_of=eleven)
    assert L.settings_version_alone(back, alone)
    assert L.settings_version_alone_after_new_values(elsewhere, back, alone)  # the race
    assert not L.settings_version_alone_after_new_values(back, back, alone)  # seen as it is
    assert not L.settings_version_alone_after_new_values(None, back, alone)
    moved = refresh(time_zone="Asia/Makassar", as_of=eleven)
    assert not L.settings_version_alone_after_new_values(back, back, moved)  # new values: no version alone
