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


@dataclass(frozen=True)
class DemoOrganisation:
    """An organisation of the demo, as `pakta dev` registers it (services/store/register.py)."""

    org: str
    name_id: str
    name_en: str
    level: str
    province_code: str | None = None
    foreign: bool = False


# The demo organisation and those its demo agreements (services/demo.py) are made with, and
# whom they report to: Jawa Barat (32) oversees Kota Bandung and reports to Kemendagri.
DEMO_ORGANISATIONS: tuple[DemoOrganisation, ...] = (
    DemoOrganisation(
        "jabar", "Pemerintah Daerah Provinsi Jawa Barat", "West Java Provincial Government", "province", "32"
    ),
    DemoOrganisation(
        "jateng", "Pemerintah Provinsi Jawa Tengah", "Central Java Provincial Government", "province", "33"
    ),
    DemoOrganisation("kota-bandung", "Pemerintah Kota Bandung", "Bandung City Government", "city", "32"),
    DemoOrganisation("unpad", "Universitas Padjadjaran", "Padjadjaran University", "academia", "32"),
    DemoOrganisation(
        "wa-gov", "Pemerintah Australia Barat", "Government of Western Australia", "foreign_government", foreign=True
    ),
    DemoOrganisation("kemendagri", "Kementerian Dalam Negeri", "Ministry of Home Affairs", "ministry"),
)
