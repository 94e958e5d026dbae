"""The procedure every bench drives: a KSDD (two regions, procedure 2026.1) from creation to
implementation — 15 actions, each by the party and role a real one would come from.

One script for the pure decider (`bench.decider`), the HTTP leg (`bench.legs`) and the rows
loaded into the read model (`bench.readmodel`), so all three measure the same work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Side = Literal["initiator", "counterparty"]


@dataclass(frozen=True)
class Step:
    side: Side
    role: str
    command: dict[str, Any]
    gates: tuple[str, ...] = ()
    # A `submit_draft` names an uploaded document: the HTTP leg uploads it first.
    uploads: bool = False


def _decide(side: Side, gate: str) -> Step:
    return Step(side, "approver", {"type": "decide", "gate": gate, "outcome": "approve"}, gates=(gate,))


def _sign(side: Side, version: int) -> Step:
    return Step(side, "signatory", {"type": "sign", "version": version, "method": "electronic"})


KSDD_STEPS: tuple[Step, ...] = (
    Step("initiator", "staff", {"type": "submit"}),
    _decide("initiator", "review"),  # persiapan: each region's TKKSD
    _decide("counterparty", "review"),
    Step("initiator", "staff", {"type": "submit_draft"}, uploads=True),  # the KSB, version 1
    Step("counterparty", "staff", {"type": "accept_draft", "version": 1}),
    _decide("initiator", "review"),  # persetujuan_ksb
    _decide("counterparty", "review"),
    _sign("initiator", 1),
    _sign("counterparty", 1),
    Step("counterparty", "staff", {"type": "submit_draft"}, uploads=True),  # the PKS, version 2
    Step("initiator", "staff", {"type": "accept_draft", "version": 2}),
    _decide("initiator", "legal"),  # telaah_hukum
    _decide("counterparty", "legal"),
    _sign("initiator", 2),
    _sign("counterparty", 2),
)
ACTIONS_PER_AGREEMENT = len(KSDD_STEPS)


@dataclass(frozen=True)
class Pair:
    """The two regions of one agreement."""

    initiator: str
    counterparty: str
    orgs: tuple[str, str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "orgs", (self.initiator, self.counterparty))

    def org(self, side: Side) -> str:
        return self.initiator if side == "initiator" else self.counterparty


def pairs(count: int) -> list[Pair]:
    """`count` pairs of bench regions; agreements spread over them round-robin."""
    return [Pair(f"bench-kab-{2 * i + 1:03d}", f"bench-kab-{2 * i + 2:03d}") for i in range(count)]


def proposal(pair: Pair, title: str) -> dict[str, Any]:
    """The body of `POST /agreements` (and of the decider's `Proposal`)."""
    return {
        "title": title,
        "kind": "ksdd",
        "objectives": "Pengelolaan sampah regional bersama (bench).",
        "sector": "environment",
        "start_date": "2027-02-01",
        "duration_months": 60,
        "parties": [
            {"org": pair.initiator, "role": "initiator", "sector": "government", "signatory": "Bupati A"},
            {"org": pair.counterparty, "role": "counterparty", "sector": "government", "signatory": "Bupati B"},
        ],
    }
