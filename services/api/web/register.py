"""The register of organisations in the browser: `/ui/organisations` (the register as a list,
with the API's filters and pages), `/ui/organisations/{org}` (an entry: names, level,
province, who oversees it and whether by law or by the register, contacts, the organisations
it oversees) and `/ui/organisations/{org}/edit` (the form: every field for an operator, who
also registers organisations through it; its names and contacts for the organisation's own
administrator). Entries are read and written by `services.api.register_entries`, exactly as
`GET/PUT /organisations/{org}` do, so a form is refused by the API's rules, in its words."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from services.api import party_names
from services.api.access import PLATFORM_KEPT, register_fields
from services.api.deps import SessionDep, SettingsDep
from services.api.register_entries import Organisation, OrganisationBody, ministry_of, page_of, read, save, views
from services.api.reporting.rollup import MAX_OVERSEEN, may_read_rollup
from services.api.web.forms import errors_by_field
from services.api.web.i18n import Translator
from services.api.web.pages import WebDep, error_page, redirect, render
from services.api.web.reports import Words
from services.api.web.routes import csrf_form
from services.api.web.session import echoed
from services.auth import Principal
from services.errors import PaktaError
from services.store import register
from services.store.register import LEVELS, SELF_KEPT
from workflows.messages import is_org_id

router = APIRouter(prefix="/ui", include_in_schema=False)

FIELDS = (*SELF_KEPT, *PLATFORM_KEPT)
PAGE_SIZE = 50

# The pages' own words (English -> Indonesian), beside the report's and the shared ones.
WORDS: dict[str, str] = {
    "Register of organisations": "Register organisasi",
    "Level": "Tingkat",
    "Province": "Provinsi",
    "Overseer": "Pengawas",
    "Overseen by": "Diawasi oleh",
    "by law": "menurut undang-undang",
    "set in the register": "ditetapkan dalam register",
    "none": "tidak ada",
    "Organisations it oversees": "Organisasi yang diawasinya",
    "It oversees no organisation.": "Organisasi ini tidak mengawasi organisasi lain.",
    "Roll-up of their reports": "Rekapitulasi laporan mereka",
    "Official name (Indonesian)": "Nama resmi (bahasa Indonesia)",
    "Official name (English)": "Nama resmi (bahasa Inggris)",
    "Contacts": "Kontak",
    "Email": "Surel",
    "Telephone": "Telepon",
    "Website": "Situs web",
    "Address": "Alamat",
    "A body abroad": "Lembaga di luar negeri",
    "Overseer (empty: by law)": "Pengawas (kosong: menurut undang-undang)",
    "Edit the entry": "Ubah entri",
    "Register": "Daftarkan",
    "Register an organisation": "Daftarkan organisasi",
    "Organisation id": "Id organisasi",
    "Register it": "Daftarkan",
    "Save the entry": "Simpan entri",
    "Saved.": "Tersimpan.",
    "Cancel": "Batal",
    "No organisation matches.": "Tidak ada organisasi yang cocok.",
    "Updated by": "Diperbarui oleh",
    "The organisation is not in the register.": "Organisasi ini belum terdaftar dalam register.",
    "As its administrator you keep the organisation's names and contacts; operators keep its level, "
    "province and overseer.": (
        "Sebagai administrator, Anda mengelola nama dan kontak organisasi; operator mengelola tingkat, "
        "provinsi, dan pengawasnya."
    ),
    "Operators keep this field; an organisation's administrator changes its names and contacts only.": (
        "Isian ini dikelola operator; administrator organisasi hanya mengubah nama dan kontaknya."
    ),
    "The register is kept by operators; an organisation's administrator keeps its own names and contacts.": (
        "Register dikelola oleh operator; administrator organisasi mengelola nama dan kontak organisasinya sendiri."
    ),
    "An operator registers an organisation; its administrator then keeps its names and contacts.": (
        "Operator mendaftarkan organisasi; administratornya kemudian mengelola nama dan kontaknya."
    ),
    "An organisation does not oversee itself.": "Organisasi tidak mengawasi dirinya sendiri.",
    "The overseer is not in the register: register it first.": (
        "Pengawas belum terdaftar dalam register: daftarkan terlebih dahulu."
    ),
    "Another organisation is already registered as this province's government": (
        "Organisasi lain sudah terdaftar sebagai pemerintah provinsi ini"
    ),
    "A province, regency or city is in a province; a body abroad is in none.": (
        "Provinsi, kabupaten, atau kota berada di suatu provinsi; lembaga di luar negeri tidak."
    ),
    # levels
    "province": "provinsi",
    "regency": "kabupaten",
    "city": "kota",
    "ministry": "kementerian",
    "agency": "lembaga",
    "foreign government": "pemerintah asing",
    "business": "badan usaha",
    "community": "organisasi kemasyarakatan",
}


class RegisterWords(Words):
    """The pages' `t`: their own words first, then the report's and the shared ones."""

    def __call__(self, text: str) -> str:
        if self.tr.lang == "id" and text in WORDS:
            return WORDS[text]
        return super().__call__(text)


def level_words(t: RegisterWords) -> dict[str, str]:
    return {level: t(level.replace("_", " ")) for level in LEVELS}


def name_of(entry: Organisation | register.Entry, tr: Translator) -> str:
    return (entry.name_en if tr.lang == "en" else None) or entry.name_id


def filters_of(request: Request) -> register.RegisterFilters:
    """The list's filters from its query string; a value the API would refuse is left out."""
    q = request.query_params
    level, province, overseer = q.get("level"), q.get("province"), (q.get("overseer") or "").strip()
    return register.RegisterFilters(
        level=next((lv for lv in LEVELS if lv == level), None),  # type: ignore[misc]
        province_code=province if province in register.provinces() else None,
        overseer=overseer if is_org_id(overseer) else None,
        q=(q.get("q") or "").strip()[:200] or None,
    )


@router.get("/organisations")
async def register_list(request: Request, ws: WebDep, session: SessionDep, settings: SettingsDep) -> Response:
    principal = ws.require(request)
    wanted = (request.query_params.get("register") or "").strip().lower()
    if wanted and is_org_id(wanted):  # an operator's "register an organisation" form
        return redirect(ws, f"/ui/organisations/{wanted}/edit")
    filters = filters_of(request)
    try:
        page = await page_of(
            session, filters=filters, settings=settings, limit=PAGE_SIZE, cursor=request.query_params.get("cursor")
        )
    except PaktaError:  # a cursor that is not one the list gave: its first page
        page = await page_of(session, filters=filters, settings=settings, limit=PAGE_SIZE, cursor=None)
    query = {
        "level": filters.level or "",
        "province": filters.province_code or "",
        "overseer": filters.overseer or "",
        "q": filters.q or "",
    }
    t = RegisterWords(ws.tr)
    # The overseers named as their own rows name them: one read for the page's few overseers.
    overseers = await party_names.org_names(session, {o.oversight.org for o in page.items if o.oversight}, ws.tr.lang)
    return render(
        request,
        ws,
        "register_list.html",
        t=t,
        page=page,
        overseers=overseers,
        filters=query,
        levels=level_words(t),
        provinces=register.provinces(),
        name_of=name_of,
        may_register=principal.has_role("operator"),
    )


@router.get("/organisations/{org}")
async def register_entry(
    org: str, request: Request, ws: WebDep, session: SessionDep, settings: SettingsDep
) -> Response:
    principal = ws.require(request)
    t = RegisterWords(ws.tr)
    entry = await read(session, org=org, settings=settings)
    if entry is None:
        return error_page(request, ws, 404, ws.tr.t("Not found"), t("The organisation is not in the register."))
    overseen = await register.overseen_by(session, org=org, ministry_org=ministry_of(settings), limit=MAX_OVERSEEN)
    names = await register.get_many(session, orgs=[entry.oversight.org] if entry.oversight else [])
    current = await register.get(session, org=org)
    return render(
        request,
        ws,
        "register_entry.html",
        t=t,
        entry=entry,
        overseer=names.get(entry.oversight.org) if entry.oversight else None,
        overseen=await views(session, overseen, settings),
        levels=level_words(t),
        name_of=name_of,
        may_edit=bool(register_fields(principal, org, current)),
        may_roll_up=bool(overseen) and may_read_rollup(principal, org),
        done=request.query_params.get("done") == "saved",
    )


def _form_page(
    request: Request,
    ws: WebDep,
    *,
    org: str,
    current: register.Entry | None,
    allowed: tuple[str, ...],
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    t = RegisterWords(ws.tr)
    return render(
        request,
        ws,
        "register_edit.html",
        status=status,
        t=t,
        org=org,
        current=current,
        allowed=allowed,
        values=echoed({name: "" if value is None else value for name, value in values.items()}),
        errors=errors or {},
        error=error,
        levels=level_words(t),
        provinces=register.provinces(),
    )


async def _editing(
    request: Request, ws: WebDep, session: SessionDep, org: str
) -> tuple[Principal, register.Entry | None, tuple[str, ...], Response | None]:
    """Who edits, the entry as it is, the fields they may set, or the refusal to show."""
    principal = ws.require(request)
    t = RegisterWords(ws.tr)
    if not is_org_id(org):
        return principal, None, (), error_page(request, ws, 404, ws.tr.t("Not found"), t("Organisation id"))
    current = await register.get(session, org=org)
    allowed = register_fields(principal, org, current)
    if not allowed:
        message = (
            "An operator registers an organisation; its administrator then keeps its names and contacts."
            if principal.org == org and principal.has_role("admin")
            else "The register is kept by operators; an organisation's administrator keeps its own names and contacts."
        )
        return principal, current, (), error_page(request, ws, 403, ws.tr.t("Forbidden"), t(message))
    return principal, current, allowed, None


def values_of(current: register.Entry | None) -> dict[str, Any]:
    if current is None:
        return {}
    return {name: getattr(current, name) for name in FIELDS}


def body_of(form: FormData, current: register.Entry | None, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The entry the form asks for: what it sends over the entry as it is. A field the form
    does not show is kept as it is, unless sent anyway (and then refused by the API's rules)."""
    values = values_of(current)
    for name in FIELDS:
        if name == "foreign":
            if name in allowed or name in form:
                values[name] = form.get(name) in ("on", "true", "1")
        elif name in form:
            raw = form.get(name)
            text = raw.strip() if isinstance(raw, str) else ""
            values[name] = text or None
    return values


def refusal_of(error: PaktaError, t: RegisterWords) -> tuple[str, str | None]:
    """A refusal of the API's rules in the reader's words, and the field it is about."""
    field = error.details.get("field")
    field = field if isinstance(field, str) else None
    if error.status == 403 and field in PLATFORM_KEPT:
        kept = "Operators keep this field; an organisation's administrator changes its names and contacts only."
        return t(kept), field
    if error.code == "province_government_registered":
        taken = t("Another organisation is already registered as this province's government")
        return f"{taken}: {error.details.get('org')}", field
    return t(error.message), field


@router.get("/organisations/{org}/edit")
async def edit_entry(org: str, request: Request, ws: WebDep, session: SessionDep) -> Response:
    _, current, allowed, refusal = await _editing(request, ws, session, org)
    if refusal is not None:
        return refusal
    return _form_page(request, ws, org=org, current=current, allowed=allowed, values=values_of(current))


@router.post("/organisations/{org}/edit")
async def save_entry(org: str, request: Request, ws: WebDep, session: SessionDep, settings: SettingsDep) -> Response:
    form = await csrf_form(request, ws)
    principal, current, allowed, refusal = await _editing(request, ws, session, org)
    if refusal is not None:
        return refusal
    t = RegisterWords(ws.tr)
    values = body_of(form, current, allowed)
    try:
        body = OrganisationBody.model_validate(values)
    except ValidationError as invalid:
        errors = errors_by_field(invalid, ws.lang)
        place = errors.pop("_", None)
        if place is not None:
            errors["province_code"] = t("A province, regency or city is in a province; a body abroad is in none.")
        message = ws.tr.t("Please correct the fields marked below.")
        return _form_page(
            request,
            ws,
            org=org,
            current=current,
            allowed=allowed,
            values=values,
            errors=errors,
            error=message,
            status=422,
        )
    try:
        await save(session, principal=principal, org=org, body=body, settings=settings)
    except PaktaError as refused:
        await session.rollback()
        message, field = refusal_of(refused, t)
        errors = {field: message} if field else {}
        return _form_page(
            request,
            ws,
            org=org,
            current=current,
            allowed=allowed,
            values=values,
            errors=errors,
            error=message,
            status=refused.status,
        )
    return redirect(ws, f"/ui/organisations/{org}?done=saved")
