"""The portal's open data as OCDS 1.1 release packages (https://standard.open-contracting.org):
one release per published agreement. Built from public fields only (`public_view`'s, never
the value); `tests/web/test_public.py` validates the output with the standard's own schema
(vendored in `tests/web/ocds/`)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, time
from typing import Any

from workflows import lifecycle
from workflows import messages as m

OCDS_PREFIX = "ocds-pakta"


def _moment(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return datetime.combine(value, time(0, 0), tzinfo=UTC).isoformat().replace("+00:00", "Z")


TENDER_STATUS = {
    "review": "planning",
    "negotiation": "active",
    "approval": "active",
    "signing": "active",
    "implementation": "complete",
    "expired": "complete",
    "terminated": "complete",
    "rejected": "unsuccessful",
    "withdrawn": "withdrawn",
}
CONTRACT_STATUS = {"implementation": "active", "expired": "terminated", "terminated": "terminated"}


def last_public_fact(state: m.AgreementState) -> datetime:
    """The moment of the latest fact the portal shows: a publication, the stage entered, a
    signature, an amendment or renewal signed, an evaluation concluded. Comments, drafts
    and the implementation's work are private and never move it (the agreement's own
    `updated_at` would tell the portal's readers when something private happened)."""
    moments = [p.at for p in state.publications]
    moments += [s.at for s in state.signatures if s.scope == ""]
    moments += [a.signed_at for a in state.amendments]
    moments += [e.concluded_at for e in state.evaluations if e.concluded_at is not None]
    if state.stage_since is not None:
        moments.append(state.stage_since)
    # A published agreement always has a publication; the creation is the floor otherwise.
    return max(moments, default=state.created_at)


def _release_id(ocid: str, release: dict[str, Any]) -> str:
    """A release's id names its content: the same public facts give the same id, whatever
    private commands came between, and any change the portal shows gives a new one."""
    content = json.dumps(release, sort_keys=True, separators=(",", ":"), default=str)
    return f"{ocid}-{hashlib.sha256(content.encode()).hexdigest()[:16]}"


def ocds_release(state: m.AgreementState, base_url: str) -> dict[str, Any]:
    """One agreement as an OCDS release: the initiator as buyer, the partners as suppliers
    (the closest roles of the standard's codelist), the procedure as the tender, the signed
    agreement as the contract with its evaluations as milestones and the documents its
    publishing parties marked public (`contractSigned`, linked to the portal's download)."""
    ocid = f"{OCDS_PREFIX}-{state.id}"
    initiator = lifecycle.initiator(state)
    parties = [
        {
            "id": p.org,
            "name": p.name or p.org,
            "roles": ["buyer", "procuringEntity"] if p.role == "initiator" else ["supplier"],
            "details": {"sector": p.sector, "foreign": p.foreign},
        }
        for p in state.parties
    ]
    tag = ["planning"] if state.stage == "review" else ["tender"]
    release: dict[str, Any] = {
        "ocid": ocid,
        "date": _moment(last_public_fact(state)),
        "tag": tag,
        "initiationType": "tender",
        "language": "id",
        "parties": parties,
        "buyer": {"id": initiator.org, "name": initiator.name or initiator.org},
        "tender": {
            "id": state.id,
            "title": state.title,
            "description": state.objectives,
            "status": TENDER_STATUS.get(state.stage),
            "procurementMethodDetails": f"{state.kind} ({state.procedure.key} {state.procedure.version})",
            "contractPeriod": {"startDate": _moment(state.start_date), "endDate": _moment(state.end_date)},
        },
    }
    if state.stage in CONTRACT_STATUS:
        signed = [s.at for s in state.signatures if s.scope == ""]
        release["tag"] = ["contract", "implementation"] if state.stage == "implementation" else ["contractTermination"]
        release["contracts"] = [
            {
                "id": state.id,
                "awardID": state.id,
                "title": state.title,
                "description": state.objectives,
                "status": CONTRACT_STATUS[state.stage],
                "period": {
                    "startDate": _moment(state.effective_date or state.start_date),
                    "endDate": _moment(state.end_date),
                },
                "dateSigned": _moment(max(signed)) if signed else None,
                "milestones": [
                    {
                        "id": f"evaluation-{e.number}",
                        "title": f"Evaluasi {e.number}",
                        "type": "reporting",
                        "description": f"score {e.score}; {e.recommendation}" if e.score is not None else None,
                        "dateMet": _moment(e.concluded_at),
                        "status": "met" if e.concluded_at else "scheduled",
                    }
                    for e in state.evaluations
                ],
                "documents": [
                    {
                        "id": sha,
                        "documentType": "contractSigned",
                        "title": f"{state.title} ({sha[:12]})",
                        "url": f"{base_url.rstrip('/')}/public/agreements/{state.id}/documents/{sha}",
                    }
                    for sha in sorted(lifecycle.public_documents(state))
                ],
            }
        ]
    return {"id": _release_id(ocid, release), **release}


def ocds_package(states: list[m.AgreementState], base_url: str) -> dict[str, Any]:
    """The portal's package; `base_url` is `PAKTA_PUBLIC_URL`, never the request's Host
    header, which whoever sends the request chooses."""
    return {
        "uri": f"{base_url.rstrip('/')}/public/ocds.json",
        "version": "1.1",
        "publishedDate": _moment(max((last_public_fact(s) for s in states), default=datetime.now(UTC))),
        "publisher": {"name": "Pakta"},
        "releases": [ocds_release(s, base_url) for s in states],
    }
