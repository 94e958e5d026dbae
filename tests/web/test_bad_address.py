"""A page's address with a parameter of the wrong type (issue #11, branch words16): a person
who edits a link by hand or follows one cut short gets the site's 400 page in their
language, not the API's JSON 422; the API's paths keep the one JSON error shape. The page
routes and their typed parameters are read from the app, so a new one is covered."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import routing as fastapi_routing
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError

from services.api.app import create_app
from services.api.web import PAGES
from services.settings import Settings
from tests.web.live import LiveStack

NOT_A_VALUE = "x~1"  # no number, date, bool, choice or identifier's pattern takes it


def routes_of(routes: list[Any]) -> list[tuple[str, set[str], APIRoute]]:
    """Every route of the app, with its full path: FastAPI keeps an included router as one
    entry (`_IncludedRouter`), whose candidates are its routes as included."""
    found: list[tuple[str, set[str], APIRoute]] = []
    for route in routes:
        included = getattr(fastapi_routing, "_IncludedRouter", None)
        if included is not None and isinstance(route, included):
            for candidate in route.effective_candidates():
                if isinstance(candidate, included):
                    found += routes_of([candidate])
                elif isinstance(candidate.original_route, APIRoute):
                    found.append((candidate.path, set(candidate.methods), candidate.original_route))
        elif isinstance(route, APIRoute):
            found.append((route.path, set(route.methods), route))
    return found


def parameters(dependant: Any) -> list[Any]:
    """A route's path and query parameters, its dependencies' too."""
    found = [*dependant.path_params, *dependant.query_params]
    for dependency in dependant.dependencies:
        found += parameters(dependency)
    return found


def refuses(parameter: Any) -> bool:
    try:
        TypeAdapter(parameter.field_info.annotation).validate_python(NOT_A_VALUE)
    except ValidationError:
        return True
    return False


def bad_addresses() -> list[tuple[str, str, str]]:
    """(method, address, parameter) for each typed parameter of each page route: the
    parameter given `NOT_A_VALUE`, the route's other path parameters a plain word."""
    found = []
    for path, methods, route in routes_of(create_app(Settings()).routes):
        if not path.startswith(PAGES):
            continue
        for parameter in parameters(route.dependant):
            if not refuses(parameter):
                continue
            if f"{{{parameter.name}}}" in path:
                address = path.replace(f"{{{parameter.name}}}", NOT_A_VALUE)
            else:
                address = f"{path}?{parameter.name}={NOT_A_VALUE}"
            address = re.sub(r"\{[^}]+\}", "a1", address)
            found += [(method, address, parameter.name) for method in sorted(methods - {"HEAD"})]
    return found


async def test_every_page_route_answers_a_parameter_of_the_wrong_type_with_the_sites_400_page(web: LiveStack, orgs):
    province, _ = orgs
    addresses = bad_addresses()
    # The two the app has today; a new page route with a typed parameter adds itself.
    assert {
        ("GET", "/ui/agreements/a1/drafts/x~1", "version"),
        ("GET", "/ui/proposal/rows/a1?index=x~1", "index"),
    } <= set(addresses)
    staff = await web.signed_in_client(web.user(province, "staff"))
    for method, address, name in addresses:
        response = await staff.request(method, address)
        assert response.status_code == 400, (address, response.status_code, response.text[:200])
        assert response.headers["content-type"].startswith("text/html"), address
        assert response.headers.get("cache-control") == "no-store", address
        assert "<h1>Alamat tidak valid</h1>" in response.text and "<main" in response.text, address
        assert f">{name}<" not in response.text  # the code's name of the parameter is not the reader's word
    staff.cookies.set("pakta_lang", "en")
    english = await staff.get(addresses[0][1])
    assert english.status_code == 400 and "<h1>Bad address</h1>" in english.text
    await staff.aclose()


async def test_the_apis_paths_keep_the_json_422_for_a_parameter_of_the_wrong_type(web: LiveStack, orgs):
    province, _ = orgs
    staff = web.user(province, "staff")
    for path in ("/agreements?limit=x", "/agreements/a1/drafts/diff?from_version=x&to_version=2", "/inbox?limit=x"):
        response = await web.api(staff, "GET", path)
        assert response.status_code == 422, path
        assert response.headers["content-type"] == "application/json", path
        assert response.json()["error"]["code"] == "validation_error", path
    async with httpx.AsyncClient(base_url=web.base_url) as anonymous:
        # No sign-in needed to be told the address is wrong: the parameter is read first.
        response = await anonymous.get("/ui/proposal/rows/obligations?index=two")
        assert response.status_code == 400 and response.headers["content-type"].startswith("text/html")
