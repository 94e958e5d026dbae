"""The register of organisations over the API: operators register and keep entries, an
organisation's administrator its own names and contacts; everyone signed in reads it, in
pages with filters; who oversees whom is derived until set; bad input is refused in the one
error shape and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from services.store.register import encode_cursor
from tests.api.stack import Stack, User
from tests.provinces import unused_province

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def put(stack: Stack, user: User, org: str, body: dict[str, Any]) -> httpx.Response:
    return await stack.http.put(f"/organisations/{org}", json=body, headers=stack.auth(user))


def named(resp: httpx.Response) -> set[str]:
    """The fields a refusal names: its `field`, or where its validation errors are."""
    error = resp.json()["error"]
    return {error.get("field"), *(str(e["loc"][1]) for e in error.get("errors", []) if len(e["loc"]) > 1)} - {None}


def tag() -> str:
    return uuid.uuid4().hex[:8]


async def test_an_operator_registers_a_province_and_its_regency_which_it_then_oversees(stack: Stack):
    t, code = tag(), unused_province()
    operator = stack.user("pakta", "operator")
    province = {"name_id": f"Pemerintah Provinsi {t}", "level": "province", "province_code": code}
    regency = {
        "name_id": f"Pemerintah Kabupaten {t}",
        "name_en": f"{t} Regency Government",
        "level": "regency",
        "province_code": code,
        "email": "Humas@Example.go.id",
        "website": "https://example.go.id",
        "phone": "+62 22 4230963",
    }
    assert (await put(stack, operator, f"prov-{t}", province)).status_code == 200
    resp = await put(stack, operator, f"kab-{t}", regency)
    assert resp.status_code == 200, resp.text
    entry = resp.json()
    assert entry["oversight"] == {"org": f"prov-{t}", "derived": True}
    assert entry["province"]["code"] == code and entry["sector"] == "government"
    assert entry["email"] == "humas@example.go.id" and entry["updated_by"] == "operator@pakta"

    anyone = stack.user(f"univ-{t}", "partner")
    assert (await stack.get(anyone, f"/organisations/kab-{t}")).json() == entry
    ministry = (await stack.get(anyone, f"/organisations/prov-{t}")).json()["oversight"]
    assert ministry == {"org": stack.settings.ministry_orgs[0], "derived": True}
    page = (await stack.get(anyone, f"/organisations?overseer=prov-{t}")).json()
    assert [e["org"] for e in page["items"]] == [f"kab-{t}"] and page["next_cursor"] is None
    provinces = (await stack.get(anyone, "/provinces")).json()
    assert len(provinces["items"]) == 38 and provinces["version"]


async def test_the_register_pages_through_its_entries(stack: Stack):
    t = tag()
    operator = stack.user("pakta", "operator")
    for n in range(5):
        body = {"name_id": f"Koran {t} {n}", "level": "media"}
        assert (await put(stack, operator, f"media{n}-{t}", body)).status_code == 200
    seen, cursor = [], None
    while True:
        query = f"/organisations?q={t}&level=media&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await stack.get(operator, query)).json()
        seen += [e["org"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"media{n}-{t}" for n in range(5)]
    bad = await stack.get(operator, "/organisations?cursor=not-ours")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_cursor"
    # An id and a newline after it: Python's `$` would let it through, the OrgId rule does not.
    newline = await stack.get(operator, f"/organisations?cursor={encode_cursor('jabar' + chr(10))}")
    assert newline.status_code == 422 and newline.json()["error"]["code"] == "invalid_cursor", newline.text


async def test_an_administrator_keeps_its_own_names_and_contacts_but_not_its_place(stack: Stack):
    t = tag()
    org = f"kota-{t}"
    operator, admin = stack.user("pakta", "operator"), stack.user(org, "admin")
    body = {"name_id": f"Pemerintah Kota {t}", "level": "city", "province_code": "32"}
    assert (await put(stack, admin, org, body)).status_code == 403  # an operator registers it first
    assert (await put(stack, operator, org, body)).status_code == 200
    renamed = body | {"name_en": f"{t} City Government", "address": "Jl. Wastukencana 2"}
    resp = await put(stack, admin, org, renamed)
    assert resp.status_code == 200 and resp.json()["name_en"] == f"{t} City Government"
    before = (await stack.get(admin, f"/organisations/{org}")).json()
    for change in ({"level": "regency"}, {"province_code": "33"}, {"overseer": "kemendagri"}):
        refused = await put(stack, admin, org, renamed | change)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["field"] == next(iter(change))
    for other in (stack.user(org, "staff"), stack.user(f"kab-{t}", "admin"), stack.user(org, "auditor")):
        assert (await put(stack, other, org, renamed | {"name_en": "x"})).status_code == 403
    assert (await stack.get(admin, f"/organisations/{org}")).json() == before


async def test_bad_entries_are_refused_naming_the_field_and_change_nothing(stack: Stack):
    t = tag()
    operator = stack.user("pakta", "operator")
    org = f"kab-{t}"
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        ({"name_id": "Kabupaten", "level": "regency"}, 422, None),  # a regency is in a province
        ({"name_id": "Kabupaten", "level": "regency", "province_code": "99"}, 422, "province_code"),
        ({"name_id": "Kabupaten", "level": "kingdom"}, 422, "level"),
        ({"name_id": "X", "level": "foreign_government", "province_code": "32"}, 422, None),
        ({"name_id": "X", "level": "agency", "email": "not-an-address"}, 422, "email"),
        ({"name_id": "X", "level": "agency", "email": "humas\x01@example.go.id"}, 422, "email"),
        ({"name_id": "X", "level": "agency", "email": "(c)humas@example.go.id"}, 422, "email"),
        ({"name_id": "X", "level": "agency", "website": "javascript:alert(1)"}, 422, "website"),
        ({"name_id": "X", "level": "agency", "overseer": f"nobody-{t}"}, 422, "overseer"),
        ({"name_id": "X", "level": "agency", "overseer": org}, 422, "overseer"),
        ({"name_id": "X", "level": "agency", "colour": "red"}, 422, None),
        ({"name_id": "X\x00", "level": "agency"}, 422, "name_id"),
    ]
    for body, status, field in cases:
        resp = await put(stack, operator, org, body)
        assert resp.status_code == status, (body, resp.text)
        assert set(resp.json()) == {"error"}
        if field is not None:
            assert field in named(resp), (body, resp.json())
    assert (await stack.get(operator, f"/organisations/{org}")).status_code == 404
    assert (await put(stack, operator, "Not An Id", {"name_id": "X", "level": "agency"})).status_code == 422


async def test_a_second_government_for_a_province_is_a_conflict(stack: Stack):
    t, code = tag(), unused_province()
    operator = stack.user("pakta", "operator")
    body = {"name_id": "Pemerintah Provinsi", "level": "province", "province_code": code}
    assert (await put(stack, operator, f"prov-{t}", body)).status_code == 200
    resp = await put(stack, operator, f"prov2-{t}", body)
    assert resp.status_code == 409 and resp.json()["error"]["org"] == f"prov-{t}"
    assert (await stack.get(operator, f"/organisations/prov2-{t}")).status_code == 404
