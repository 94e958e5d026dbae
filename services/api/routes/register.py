"""The register of organisations: `GET /organisations` (a page, with filters),
`GET /organisations/{org}`, `PUT /organisations/{org}`, and `GET /provinces` (the 38
provinces it places organisations in). Any signed-in caller reads it (it names public
bodies and their official contacts); operators keep it, an organisation's administrator its
own names and contacts (`access.check_register_edit`, docs/security.md)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Self

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.api.access import check_register_edit
from services.api.deps import PrincipalDep, SessionDep, SettingsDep
from services.errors import Conflict, NotFound, Unprocessable
from services.store import register
from services.store.queries import InvalidCursor
from services.store.register import Level
from workflows.messages import OrgId, Sector, ShortText

router = APIRouter(tags=["organisations"])

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
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
        if value is not None and not EMAIL.match(value.strip()):
            raise ValueError("not an email address")
        return value.strip().lower() if value is not None else None

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


def _view(entry: register.Entry, oversight: register.Oversight | None) -> Organisation:
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


@router.get("/provinces", response_model=Provinces, summary="The provinces the register places organisations in")
async def list_provinces(principal: PrincipalDep) -> Provinces:
    items = [Province(code=p.code, name=p.name, time_zone=p.time_zone) for p in register.provinces().values()]
    return Provinces(version=register.provinces_version(), items=items)


@router.get("/organisations", response_model=OrganisationPage, summary="The register of organisations, a page")
async def list_organisations(
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    level: Level | None = None,
    province: Annotated[ProvinceCode | None, Query(description="Only those in this province")] = None,
    overseer: Annotated[OrgId | None, Query(description="Only those this organisation oversees")] = None,
    q: Annotated[str | None, Query(max_length=200, description="In the id or either name")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> OrganisationPage:
    filters = register.RegisterFilters(level=level, province_code=province, overseer=overseer, q=q or None)
    ministry = settings.ministry_orgs[0]
    try:
        entries, next_cursor = await register.list_page(
            session, filters=filters, ministry_org=ministry, limit=limit, cursor=cursor
        )
    except InvalidCursor as error:
        raise Unprocessable(str(error), code="invalid_cursor", field="cursor") from None
    oversight = await register.oversight_of(session, entries=entries, ministry_org=ministry)
    return OrganisationPage(items=[_view(e, oversight.get(e.org)) for e in entries], next_cursor=next_cursor)


@router.get("/organisations/{org}", response_model=Organisation, summary="An organisation's register entry")
async def get_organisation(
    org: str, session: SessionDep, principal: PrincipalDep, settings: SettingsDep
) -> Organisation:
    entry = await register.get(session, org=org)
    if entry is None:
        raise NotFound("The organisation is not in the register.", org=org)
    oversight = await register.oversight_of(session, entries=[entry], ministry_org=settings.ministry_orgs[0])
    return _view(entry, oversight.get(org))


@router.put(
    "/organisations/{org}",
    response_model=Organisation,
    summary="Register an organisation or change its entry (operators; its administrator: names and contacts)",
)
async def put_organisation(
    org: OrgId, body: OrganisationBody, session: SessionDep, principal: PrincipalDep, settings: SettingsDep
) -> Organisation:
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
    oversight = await register.oversight_of(session, entries=[saved], ministry_org=settings.ministry_orgs[0])
    return _view(saved, oversight.get(org))
