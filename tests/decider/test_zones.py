"""A party's zone the zone data does not know (issue #11, branch zones15): one a later
tzdata release dropped, or one an older Pakta let through. Its recording is still read,
and the decider counts its times as Jakarta's (`workflows.zones.zone`) instead of raising on
every replay; the edge still refuses such a zone where a party writes it.

Pure: no database, no Temporal; time is an argument."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from tests import builders as b
from tests.builders import NOW, run, staff
from workflows import lifecycle as L
from workflows import messages as m
from workflows import timeline as t
from workflows import zones
from workflows.portfolio import digest as d

GONE = "Asia/Atlantis"  # spelled as a zone, known to no tzdata release


def zoned(prop: m.Proposal, zone: str) -> m.Proposal:
    """The proposal with every party in `zone` (copied, not validated: as recorded)."""
    return prop.model_copy(update={"parties": [p.model_copy(update={"time_zone": zone}) for p in prop.parties]})


def as_recorded(state: m.AgreementState) -> m.AgreementState:
    """The state read back from its JSON without the edge's context, as the worker reads a
    workflow's input and the API the read model."""
    return m.AgreementState.model_validate_json(state.model_dump_json())


def test_a_party_zone_no_longer_known_is_still_read_from_its_recording() -> None:
    events = L.create(zoned(b.ksdd_proposal(), GONE), staff(), NOW, "agr-1")
    recorded = [m.Event.model_validate_json(e.model_dump_json()) for e in events]
    state = as_recorded(b.replay(recorded))
    assert {p.time_zone for p in state.parties} == {GONE}
    assert m.Party.model_validate(state.parties[0].model_dump()).time_zone == GONE


@pytest.mark.parametrize("legacy", [True, False], ids=["calendar days", "office days"])
def test_an_agreement_whose_recorded_zone_is_unknown_takes_commands_with_jakartas_due_dates(legacy: bool) -> None:
    gone = as_recorded(b.created(zoned(b.ksdd_proposal(), GONE), legacy=legacy))
    jakarta = b.created(zoned(b.ksdd_proposal(), "Asia/Jakarta"), legacy=legacy)
    gone, _ = run(gone, staff(), m.Submit())
    jakarta, _ = run(jakarta, staff(), m.Submit())
    assert gone.deadlines == jakarta.deadlines and gone.deadlines["step"] > NOW
    assert [(n.key, n.at) for n in L.notices(gone)] == [(n.key, n.at) for n in L.notices(jakarta)]
    assert L.next_wakeup(gone) == L.next_wakeup(jakarta)
    assert L.snapshot(gone, staff(), NOW).allowed_actions == L.snapshot(jakarta, staff(), NOW).allowed_actions


def test_a_mail_to_a_reader_in_an_unknown_zone_waits_for_jakartas_office_hours_and_holidays() -> None:
    idul_fitri = datetime(2027, 3, 10, 3, tzinfo=UTC)  # 10:00 WIB on Idul Fitri 2027
    assert t.next_office_hours(idul_fitri, GONE) == t.next_office_hours(idul_fitri, "Asia/Jakarta")
    assert t.next_office_hours(idul_fitri, GONE) == datetime(2027, 3, 16, 1, tzinfo=UTC)  # 08:00 WIB after Lebaran
    assert t.local_day(datetime(2027, 1, 4, 17, tzinfo=UTC), GONE) == date(2027, 1, 5)


def test_a_digest_for_an_unknown_zone_counts_jakartas_days() -> None:
    at = datetime(2027, 1, 4, 0, tzinfo=UTC)  # 07:00 WIB
    assert d.next_send(at, GONE) == d.next_send(at, "Asia/Jakarta")
    assert d.digest_day(at, GONE) == d.digest_day(at, "Asia/Jakarta")


@pytest.mark.parametrize("name", [GONE, "../../etc/passwd", "x" * 300, "", "Asia/Jakarta\x00"])
def test_the_decider_builds_every_zone_name_without_raising(name: str) -> None:
    assert zones.zone(name).key == "Asia/Jakarta" and not zones.is_known(name)
    assert zones.known_or_default(name) == "Asia/Jakarta"


def test_the_edge_still_refuses_a_party_zone_the_zone_data_does_not_know() -> None:
    proposal = zoned(b.ksdd_proposal(), GONE)
    refused = m.refused_at_the_edge(proposal)
    assert [e["loc"] for e in refused] == [("parties", 0, "time_zone"), ("parties", 1, "time_zone")]
    assert all("unknown time zone 'Asia/Atlantis'" in e["msg"] for e in refused)
    with pytest.raises(ValidationError, match="unknown time zone"):
        m.Proposal.model_validate(proposal.model_dump(), context=m.AT_THE_EDGE)
    assert m.refused_at_the_edge(zoned(b.ksdd_proposal(), "Asia/Makassar")) == []


def test_the_close_of_an_office_day_in_an_unknown_zone_is_jakartas() -> None:
    monday = datetime(2027, 1, 11, 2, tzinfo=UTC)  # 09:00 WIB
    assert t.office_closes(monday, GONE) == t.office_closes(monday, "Asia/Jakarta")
    assert t.office_closes(monday, GONE) == datetime(2027, 1, 11, 10, tzinfo=UTC)  # 17:00 WIB
