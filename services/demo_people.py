"""The demo people of `pakta dev`: one user per role of the demo organisation. Data only, so
that the dev entry point (`services.devstack`, which mints their tokens) and the API's web
sign-in page (which offers them in dev) share it without the API importing the dev stack."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.messages import GATES

DEMO_ORG = "jabar"


@dataclass(frozen=True)
class DemoUser:
    """A demo user's roles and gates (their organisation is `DEMO_ORG`)."""

    roles: tuple[str, ...]
    gates: tuple[str, ...] = ()


# One demo user per role; the approver holds every gate.
DEMO_USERS: dict[str, DemoUser] = {
    "staff": DemoUser(roles=("staff",)),
    "partner": DemoUser(roles=("partner",)),
    "signatory": DemoUser(roles=("signatory",)),
    "approver": DemoUser(roles=("approver",), gates=GATES),
    "scheduler": DemoUser(roles=("scheduler",)),
    "auditor": DemoUser(roles=("auditor",)),
    "admin": DemoUser(roles=("admin",)),
}


def demo_sub(name: str) -> str:
    """The subject of the demo user `name` in the tokens minted for it."""
    return f"demo-{name}"
