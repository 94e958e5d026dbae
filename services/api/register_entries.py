"""The register of organisations as the API shows it and as it is kept, for every edge that
reads or changes it: `GET/PUT /organisations/{org}`, `GET /organisations`, `GET /provinces`
(services.api.routes.register) and the register's web pages (services.api.web). The body an
entry is written with (`OrganisationBody`: its validation), who may change what
(`access.check_register_edit`) and the checks of the overseer and of a province's one
government are here once, so a form and the API refuse the same edits with the same words."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.access import check_register_edit
from services.api.email_addresses import email_address
from services.auth import Principal
from services.errors import Conflict, Unprocessable
from services.settings import Settings
from services.store import register
from services.store.queries import InvalidCursor
from services.store.register import Level
from workflows.messages import OrgId, Sector, ShortText

PHONE = re.compile(r"^\+?[0-9 ()./-]{3,30}$")
ProvinceCode = Annotated[str, Field(pattern=r"^[0-9]{2}$", description="Kemendagri area code of the province")]


class Province(BaseModel):
    code: str = Field(examples=["32"])
    name: str = Field(examples=["Jawa Barat"])
    time_zone: str = Field(examples=["Asia/Jakarta"])


class Provinces(BaseModel):
    version: str = Field(description="The version of Pakta's province list (services/store/data/provinces.json)")
    items: list[Province]


class OrganisationBody(BaseModel):
    """An organisation's register entry. `province_code` is required for a province, regency
    or city and refused for a foreign body; `overseer` is set only to override who oversees
    it by default (a regency or city: its province's government; a province: the Ministry of
    Home Affairs)."""

    model_config = ConfigDict(extra="forbid")

    name_id: ShortText = Field(description="Official name in Indonesian", examples=["Pemerintah Kota Bandung"])
    name_en: ShortText | None = Field(default=None, description="Official name in English")
    level: Level
    foreign: bool = Field(default=False, description="A body abroad (always so for a foreign government)")
    province_code: ProvinceCode | None = None
    overseer: OrgId | None = Field(default=None, description="Overrides the default overseer; null: the default")
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=30)
    website: str | None = Field(default=None, max_length=300)
    address: ShortText | None = None

    @field_validator("province_code")
    @classmethod
    def _province(cls, value: str | None) -> str | None:
        if value is not None and value not in register.provinces():
            raise ValueError("not a province code (see GET /provinces)")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return email_address(value) if value is not None else None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is not None and not PHONE.match(value):
            raise ValueError("not a telephone number (digits, spaces, + ( ) . / -)")
        return value

    @field_validator("website")
    @classmethod
    def _website(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/?#]+\.[^\s/?#]+[^\s]*$", value):
            raise ValueError("not a web address (http:// or https://)")
        return value

    @model_validator(mode="after")
    def _place(self) -> Self:
        if self.level == "foreign_government":
            self.foreign = True
        if self.level in register.REGIONAL_LEVELS and self.province_code is None:
            raise ValueError(f"a {self.level} is in a province: give its province_code")
        if self.foreign and self.province_code is not None:
            raise ValueError("a foreign body is in no province: leave province_code out")
        return self


class Oversight(BaseModel):
    org: str
    derived: bool = Field(
        description="true: the default (regency/city → its province's government, province → Kemendagri)"
    )


class Organisation(OrganisationBody):
    model_config = ConfigDict(extra="ignore")

    org: str
    sector: Sector = Field(description="The pentahelix sector it takes as a party to an agreement")
    province: Province | None
    oversight: Oversight | None = Field(description="Who oversees it: the set overseer, else the default; null: none")
    updated_by: str
    updated_at: datetime | None


class OrganisationPage(BaseModel):
    items: list[Organisation]
    next_cursor: str | None


def ministry_of(settings: Settings) -> str:
    """The Ministry of Home Affairs' organisation: the default overseer of the provinces."""
    return settings.ministry_orgs[0]


def all_provinces() -> Provinces:
    items = [Province(code=p.code, name=p.name, time_zone=p.time_zone) for p in register.provinces().values()]
    return Provinces(version=register.provinces_version(), items=items)


def view(entry: register.Entry, oversight: register.Oversight | None) -> Organisation:
    province = entry.province
    return Organisation.model_construct(
        org=entry.org,
        name_id=entry.name_id,
        name_en=entry.name_en,
        level=entry.level,
        foreign=entry.foreign,
        province_code=entry.province_code,
        overseer=entry.overseer,
        email=entry.email,
        phone=entry.phone,
        website=entry.website,
        address=entry.address,
        sector=entry.sector,
        province=Province(code=province.code, name=province.name, time_zone=province.time_zone) if province else None,
        oversight=Oversight(org=oversight.overseer, derived=oversight.derived) if oversight else None,
        updated_by=entry.updated_by,
        updated_at=entry.updated_at,
    )


async def views(session: AsyncSession, entries: list[register.Entry], settings: Settings) -> list[Organisation]:
    """`entries` as the API shows them, each with who oversees it."""
    oversight = await register.oversight_of(session, entries=entries, ministry_org=ministry_of(settings))
    return [view(e, oversight.get(e.org)) for e in entries]


async def read(session: AsyncSession, *, org: str, settings: Settings) -> Organisation | None:
    entry = await register.get(session, org=org)
    return (await views(session, [entry], settings))[0] if entry is not None else None


async def page_of(
    session: AsyncSession, *, filters: register.RegisterFilters, settings: Settings, limit: int, cursor: str | None
) -> OrganisationPage:
    """A page of the register; a cursor it did not give is refused (422 naming `cursor`)."""
    try:
        entries, next_cursor = await register.list_page(
            session, filters=filters, ministry_org=ministry_of(settings), limit=limit, cursor=cursor
        )
    except InvalidCursor as error:
        raise Unprocessable(str(error), code="invalid_cursor", field="cursor") from None
    return OrganisationPage(items=await views(session, entries, settings), next_cursor=next_cursor)


async def save(
    session: AsyncSession, *, principal: Principal, org: str, body: OrganisationBody, settings: Settings
) -> Organisation:
    """Register `org` or change its entry to `body`, as `principal`: refused with 403 (who
    may change what), 422 (an overseer that is itself or not registered) or 409 (a second
    government for a province), each naming the field at fault."""
    current = await register.get(session, org=org)
    wanted = register.Entry(org=org, **body.model_dump())
    check_register_edit(principal, org, current, wanted)
    if body.overseer is not None and body.overseer != (current.overseer if current else None):
        if body.overseer == org:
            raise Unprocessable("An organisation does not oversee itself.", code="invalid_overseer", field="overseer")
        if await register.get(session, org=body.overseer) is None:
            raise Unprocessable(
                "The overseer is not in the register: register it first.", code="unknown_organisation", field="overseer"
            )
    try:
        saved = await register.put(session, entry=wanted, updated_by=principal.sub)
    except register.ProvinceTaken as taken:
        raise Conflict(
            str(taken), code="province_government_registered", field="province_code", org=taken.org
        ) from None
    return (await views(session, [saved], settings))[0]
