"""The register of organisations: `GET /organisations` (a page, with filters),
`GET /organisations/{org}`, `PUT /organisations/{org}`, and `GET /provinces` (the 38
provinces it places organisations in). Any signed-in caller reads it (it names public
bodies and their official contacts); operators keep it, an organisation's administrator its
own names and contacts (`access.check_register_edit`, docs/security.md). What the entries
look like and how they are kept is `services.api.register_entries`, shared with the web
pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.api.deps import PrincipalDep, SessionDep, SettingsDep
from services.api.register_entries import (
    Organisation,
    OrganisationBody,
    OrganisationPage,
    ProvinceCode,
    Provinces,
    all_provinces,
    page_of,
    read,
    save,
)
from services.errors import NotFound
from services.store import register
from services.store.register import Level
from workflows.messages import OrgId

router = APIRouter(tags=["organisations"])


@router.get("/provinces", response_model=Provinces, summary="The provinces the register places organisations in")
async def list_provinces(principal: PrincipalDep) -> Provinces:
    return all_provinces()


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
    return await page_of(session, filters=filters, settings=settings, limit=limit, cursor=cursor)


@router.get("/organisations/{org}", response_model=Organisation, summary="An organisation's register entry")
async def get_organisation(
    org: str, session: SessionDep, principal: PrincipalDep, settings: SettingsDep
) -> Organisation:
    found = await read(session, org=org, settings=settings)
    if found is None:
        raise NotFound("The organisation is not in the register.", org=org)
    return found


@router.put(
    "/organisations/{org}",
    response_model=Organisation,
    summary="Register an organisation or change its entry (operators; its administrator: names and contacts)",
)
async def put_organisation(
    org: OrgId, body: OrganisationBody, session: SessionDep, principal: PrincipalDep, settings: SettingsDep
) -> Organisation:
    return await save(session, principal=principal, org=org, body=body, settings=settings)
