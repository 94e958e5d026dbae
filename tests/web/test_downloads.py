"""How long a browser may keep a download (issue #11, branch web15): the agreement's PDF, the
reports' PDFs and CSVs and the lists' CSV change after an action and are not public, so no
cache keeps them; a document is named by its hash and stays private and immutable; the
portal's open data is public but changes with the next publication. Every download route of
the app is found from its routes, so a new one must say how it is kept."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI

from services.api.app import create_app
from services.store import register
from services.store.db import session_scope
from tests.provinces import unused_province
from tests.web.live import LiveStack
from tests.web.test_public import act, in_implementation_with_a_score

PERIOD = "from=2025-01-01&to=2026-12-31"
PRIVATE = "private, no-store"  # made anew after an action, and not public
DOCUMENT = "private, immutable"  # its hash is its name
PUBLIC_DOCUMENT = "public, max-age=300"
PUBLIC_LIST = "no-cache"  # public, but changed by the next publication

# Each download route: how a cache may keep it.
KEPT = {
    "/documents/{sha256}": DOCUMENT,
    "/ui/documents/{sha256}": DOCUMENT,
    "/reports/upward.csv": PRIVATE,
    "/reports/overseen.csv": PRIVATE,
    "/ui/agreements.csv": PRIVATE,
    "/ui/agreements/{agreement_id}/summary.pdf": PRIVATE,
    "/ui/reports/upward.csv": PRIVATE,
    "/ui/reports/upward.pdf": PRIVATE,
    "/ui/reports/overseen.csv": PRIVATE,
    "/ui/reports/overseen.pdf": PRIVATE,
    "/public/agreements/{agreement_id}/documents/{sha256}": PUBLIC_DOCUMENT,
    "/public/agreements.csv": PUBLIC_LIST,
    "/public/ocds.json": PUBLIC_LIST,
}


def download_routes(app: FastAPI) -> Iterator[str]:
    """The paths of the app's GET routes that answer a file rather than a page or the API's
    JSON: named as a file (`.csv`, `.pdf`, `.json`), a document by its hash, or declaring a
    response that is not JSON."""
    for included in app.routes:
        for route in getattr(included, "effective_route_contexts", list)():
            if "GET" not in route.methods:
                continue
            declared = {kind for answer in (route.responses or {}).values() for kind in answer.get("content", {})}
            if (
                route.path.endswith((".csv", ".pdf", ".json"))
                or "/documents/{" in route.path
                or declared - {"application/json"}
            ):
                yield route.path


def test_every_download_route_says_how_a_cache_may_keep_it():
    assert set(download_routes(create_app())) == set(KEPT)


async def test_no_cache_keeps_a_private_download_and_a_public_one_as_its_route_says(web: LiveStack, orgs):
    province, regency = orgs
    code = unused_province()
    async with session_scope(web.sessionmaker) as session:
        for org, name, level in (
            (province, f"Pemerintah Provinsi {province}", "province"),
            (regency, f"Pemerintah Kabupaten {regency}", "regency"),
        ):
            entry = register.Entry(org=org, name_id=name, level=level, province_code=code)  # type: ignore[arg-type]
            await register.put(session, entry=entry, updated_by="operator@pakta")
    agreement_id, scan = await in_implementation_with_a_score(web, province, regency)
    staff = web.user(province, "staff")
    assert (await act(web, staff, agreement_id, {"type": "publish", "documents": [scan]})).status_code == 200
    fetched = {
        "/documents/{sha256}": ("api", f"/documents/{scan}"),
        "/ui/documents/{sha256}": ("page", f"/ui/documents/{scan}"),
        "/reports/upward.csv": ("api", f"/reports/upward.csv?{PERIOD}"),
        "/reports/overseen.csv": ("api", f"/reports/overseen.csv?{PERIOD}"),
        "/ui/agreements.csv": ("page", "/ui/agreements.csv"),
        "/ui/agreements/{agreement_id}/summary.pdf": ("page", f"/ui/agreements/{agreement_id}/summary.pdf"),
        "/ui/reports/upward.csv": ("page", f"/ui/reports/upward.csv?{PERIOD}"),
        "/ui/reports/upward.pdf": ("page", f"/ui/reports/upward.pdf?{PERIOD}"),
        "/ui/reports/overseen.csv": ("page", f"/ui/reports/overseen.csv?{PERIOD}"),
        "/ui/reports/overseen.pdf": ("page", f"/ui/reports/overseen.pdf?{PERIOD}"),
        "/public/agreements/{agreement_id}/documents/{sha256}": (
            "anyone",
            f"/public/agreements/{agreement_id}/documents/{scan}",
        ),
        "/public/agreements.csv": ("anyone", "/public/agreements.csv"),
        "/public/ocds.json": ("anyone", "/public/ocds.json"),
    }
    assert set(fetched) == set(KEPT)
    page = await web.signed_in_client(staff)
    for route, (who, path) in fetched.items():
        if who == "api":
            response = await web.api(staff, "GET", path)
        else:
            response = await (page if who == "page" else web.http).get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        assert response.headers.get("cache-control") == KEPT[route], path
    await page.aclose()
