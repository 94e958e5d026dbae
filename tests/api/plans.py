"""Agreements with an action plan for the API tests (#13): a plan dated around today (the
API tests run on the Temporal dev server, in real time), and such an agreement brought in
force at once through the import of agreements signed before Pakta."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from tests.api.stack import Stack

INDICATOR = "Trayek beroperasi"


def day(offset: int) -> str:
    """The day `offset` days from today, as the API takes it."""
    return (date.today() + timedelta(days=offset)).isoformat()


def plan(own: str, party: str, *, overdue: bool = False) -> dict[str, Any]:
    """Goals, obligations and an action plan for a term that started 30 days ago and runs
    three years: nothing behind schedule, unless `overdue` adds an obligation of `party`
    that fell due ten days ago."""
    obligations = [
        {"id": "O1", "party": party, "kind": "data", "description": "Data trayek", "due_on": day(90)},
        {
            "id": "O2",
            "party": own,
            "kind": "funds",
            "description": "Subsidi operasional",
            "amount": 250_000_000,
            "source": "apbd",
            "due_on": day(120),
        },
    ]
    if overdue:
        obligations.append(
            {"id": "O3", "party": party, "kind": "staff", "description": "Petugas terminal", "due_on": day(-10)}
        )
    return {
        "goals": [{"scheme": "sdg", "code": "11.2"}, {"scheme": "regional", "code": "RPJMD-4.1", "text": "Angkutan"}],
        "obligations": obligations,
        "activities": [
            {
                "id": "A1",
                "name": "Kajian trayek",
                "party": own,
                "responsible": "Kepala Dinas Perhubungan",
                "starts_on": day(-10),
                "ends_on": day(300),
                "deliverables": ["Dokumen kajian"],
                "indicators": [INDICATOR],
                "budget": [{"party": own, "amount": 100_000_000}],
                "milestones": ["Survei", "Laporan akhir"],
            },
            {
                "id": "A2",
                "name": "Uji coba trayek",
                "party": party,
                "responsible": "Kepala Dishub",
                "starts_on": day(60),
                "ends_on": day(400),
                "budget": [{"party": party, "amount": 50_000_000, "source": "apbd"}],
            },
        ],
    }


def proposal(own: str, party: str, **plan_options: bool) -> dict[str, Any]:
    """A KSDD between two regions carrying the plan."""
    return {
        "title": "Angkutan perbatasan terpadu",
        "kind": "ksdd",
        "objectives": "Trayek angkutan bersama di perbatasan.",
        "sector": "transport",
        "parties": [
            {"org": own, "role": "initiator", "sector": "government", "signatory": "Bupati"},
            {"org": party, "role": "counterparty", "sector": "government", "signatory": "Wali Kota"},
        ],
        "start_date": day(-30),
        "duration_months": 36,
        "evaluation_interval_months": 12,
        "indicators": [{"name": INDICATOR, "target": 12, "unit": "trayek"}],
        **plan(own, party, **plan_options),
    }


def names() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:6]
    return f"kab-{tag}", f"kota-{tag}"


async def in_force(stack: Stack, own: str, party: str, **plan_options: bool) -> str:
    """An agreement with the plan, signed on paper 35 days ago and imported by `own`'s
    administrator: in implementation at once."""
    admin = stack.user(own, "admin")
    scan = await stack.upload(admin, f"scan of the signed PKS {uuid.uuid4()}\n", media_type="application/pdf")
    record = {
        "ref": f"PKS/{uuid.uuid4().hex[:8]}",
        "signed_on": day(-35),
        "document": scan,
        "proposal": proposal(own, party, **plan_options),
    }
    resp = await stack.post(admin, "/agreements/import", [record])
    assert resp.status_code == 200, resp.text
    (imported,) = resp.json()["imported"]
    assert imported["stage"] == "implementation"
    return str(imported["id"])
