"""What people read on the pages (issue #11, branch csv16): the reader's own organisation,
in every page's header and in the headings of the dashboard, the feedback and the publishing
pages, named as the pages name every other organisation (the register's name, English for
an English reader where it has one), not by its id."""

from __future__ import annotations

import re

import httpx

from services.api.web.session import WebSession
from services.auth import Principal
from services.store import register
from services.store.db import session_scope
from tests.provinces import unused_province
from tests.web.live import LiveStack, csrf_of

HEADED = ("/ui/dashboard", "/ui/feedback", "/ui/publishing")


def signed_in_as(html: str) -> str:
    """The header's "Signed in as …" line, without its tags."""
    found = re.search(r'<span class="me">(.*?)</span>', html, flags=re.S)
    assert found, "the page has no signed-in line"
    return re.sub(r"<[^>]+>", "", found.group(1))


def heading(html: str) -> str:
    found = re.search(r"<h1>(.*?)</h1>", html, flags=re.S)
    assert found, "the page has no heading"
    return re.sub(r"<[^>]+>", "", found.group(1))


async def read(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    assert page.status_code == 200, (path, page.text[:300])
    return page.text


async def test_the_header_and_the_headings_name_the_reader_s_organisation_as_the_register_does_in_each_language(
    web: LiveStack, orgs
):
    _, regency = orgs
    name_id, name_en = f"Pemerintah Kabupaten {regency.upper()}", f"{regency.upper()} Regency Government"
    async with session_scope(web.sessionmaker) as session:
        entry = register.Entry(
            org=regency, name_id=name_id, name_en=name_en, level="regency", province_code=unused_province()
        )
        await register.put(session, entry=entry, updated_by="operator@pakta")
    client = await web.signed_in_client(web.user(regency, "staff"))

    for path in HEADED:
        page = await read(client, path)
        assert f"({name_id};" in signed_in_as(page) and f"({regency};" not in page, path
        assert heading(page).endswith(f"· {name_id}"), (path, heading(page))
        assert f"· {regency}" not in page

    dashboard = await read(client, "/ui/dashboard")
    await client.post("/ui/prefs", data={"csrf": csrf_of(dashboard), "lang": "en", "next": "/ui/"})
    for path in HEADED:
        page = await read(client, path)
        assert f"({name_en};" in signed_in_as(page), (path, signed_in_as(page))
        assert heading(page).endswith(f"· {name_en}"), (path, heading(page))

    # A reader who chose a time zone: the page reads no zone, the names are still given.
    await client.post("/ui/prefs", data={"csrf": csrf_of(dashboard), "zone": "Asia/Jayapura", "next": "/ui/"})
    page = await read(client, "/ui/agreements")
    assert f"({name_en};" in signed_in_as(page), signed_in_as(page)
    await client.aclose()


def test_an_organisation_the_register_does_not_hold_is_named_by_its_id():
    """As every other organisation on the pages: its register name, else its id."""
    principal = Principal(sub="staff@kab-x", org="kab-x", roles=["staff"])
    ws = WebSession(settings=None, data={}, principal=principal, lang="en", zone="")  # type: ignore[arg-type]
    assert ws.org_name == "kab-x"
    ws.org_names = ("Pemerintah Kabupaten X", None)
    assert ws.org_name == "Pemerintah Kabupaten X"
