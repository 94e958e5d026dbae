"""A create's and an import's fingerprint (`commands.sent_fingerprint`): what the request
says, not how it was spelled — but a field the parties' settings fill only when it is left
out says something when given, even at its default. Pure: no servers."""

from __future__ import annotations

from typing import Any

from services.api.commands import sent_fingerprint
from workflows import messages as m


def sent(**party: Any) -> m.Proposal:
    return m.Proposal.model_validate(
        {
            "title": "Kerja sama angkutan",
            "kind": "ksdd",
            "objectives": "Angkutan antarwilayah.",
            "sector": "transport",
            "parties": [
                {"org": "kab-a", "role": "initiator", "sector": "government", "signatory": "Bupati", **party},
                {"org": "kab-b", "role": "counterparty", "sector": "government", "signatory": "Bupati"},
            ],
            "start_date": "2027-01-04",
            "duration_months": 12,
        }
    )


def test_a_field_sent_with_its_default_is_the_same_request_as_one_left_out() -> None:
    assert sent_fingerprint(sent(foreign=False, requires_dprd_approval=False)) == sent_fingerprint(sent())


def test_a_time_zone_or_days_off_given_at_their_defaults_are_not_the_ones_left_to_the_settings() -> None:
    # Left out, the party's organisation settings fill them; given, they are what was asked.
    assert sent_fingerprint(sent(time_zone=m.DEFAULT_TIME_ZONE)) != sent_fingerprint(sent())
    assert sent_fingerprint(sent(days_off=[])) != sent_fingerprint(sent())
    proposal = sent().model_copy(update={"expiry_reminder_days": list(m.DEFAULT_EXPIRY_REMINDER_DAYS)})
    assert sent_fingerprint(proposal) != sent_fingerprint(sent())
