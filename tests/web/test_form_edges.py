"""The web edge's last leftovers (#11): a form too large gets the site's page, not the API's
JSON; a refused form's values come back cut to what a field could take; a figure beyond
10^15 is refused next to its field. Against the live
stack (tests/web/conftest.py): the real app served by uvicorn, PostgreSQL, Temporal and a
worker."""

from __future__ import annotations

import httpx

from tests.web.live import LiveStack, csrf_of
from tests.web.test_form_inputs import documents_of
from tests.web.test_implementation import plan_proposal
from tests.web.test_pages import proposal
from tests.web.test_public import act, in_implementation_with_a_score


async def test_a_form_too_large_gets_the_sites_page_saying_what_to_do_and_writes_nothing(web: LiveStack, orgs):
    province, regency = orgs
    staff = web.user(province, "staff")
    created = await web.api(staff, "POST", "/agreements", json=proposal(province, regency))
    agreement_id = str(created.json()["id"])
    client = await web.signed_in_client(staff)
    page = await client.get(f"/ui/agreements/{agreement_id}")
    csrf = csrf_of(page.text)
    documents = await documents_of(web, province)
    limit, document_limit = web.settings.request_max_bytes, web.settings.document_max_bytes

    def is_the_sites_page(resp: httpx.Response, status: int) -> None:
        assert resp.status_code == status, (resp.status_code, resp.text[:300])
        assert resp.headers["content-type"].startswith("text/html") and "<main" in resp.text, resp.text[:300]
        assert 'role="alert"' in resp.text and len(resp.content) < 20_000

    # A form of the pages that carry no document: over the request's limit (1 MiB), in Indonesian.
    prefs = await client.post("/ui/prefs", data={"csrf": csrf, "lang": "en", "next": "x" * (limit + 10)})
    is_the_sites_page(prefs, 413)
    assert "Terlalu besar" in prefs.text and "paling besar 1 MB" in prefs.text
    assert "pakta_lang" not in prefs.headers.get("set-cookie", "")
    # The proposal form carries no document: its limit is the API's `POST /agreements`'s.
    new = await client.post(
        "/ui/agreements/new", data={"csrf": csrf, "title": "t" * 600_000, "objectives": "o" * (limit - 600_000)}
    )
    is_the_sites_page(new, 413)
    assert "paling besar 1 MB" in new.text
    # The preferences sent in chunks, their length untold: refused once the bytes read pass the limit.

    async def chunks():
        yield f"csrf={csrf}&lang=en&next=".encode()
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    streamed = await client.post(
        "/ui/prefs", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    is_the_sites_page(streamed, 413)
    # The public feedback form, for a citizen.
    citizen = httpx.AsyncClient(base_url=web.base_url, headers={"X-Forwarded-For": "192.0.2.78"})
    feedback = await citizen.post(
        f"/public/agreements/{agreement_id}/feedback", data={"csrf": "x", "message": "x" * (limit + 10)}
    )
    is_the_sites_page(feedback, 413)
    await citizen.aclose()
    # A wet-ink signature whose scan is over the document's limit (10 MB), in English.
    client.cookies.set("pakta_lang", "en")
    scan = ("scan.pdf", b"%PDF-1.4\n" + b"0" * (document_limit + 128 * 1024), "application/pdf")
    signed = await client.post(
        f"/ui/agreements/{agreement_id}/act",
        data={"csrf": csrf, "type": "sign", "version": "1", "method": "wet_ink", "signed_by": "Gubernur"},
        files={"scan": scan},
    )
    is_the_sites_page(signed, 413)
    assert "Too large" in signed.text and "a document may be at most 10 MB" in signed.text
    # A text field over the 1 MB Starlette reads of one, within a document form's limit.
    comment = await client.post(
        f"/ui/agreements/{agreement_id}/act",
        data={"csrf": csrf, "type": "comment"},
        files={"text": (None, "x" * 1_100_000)},
    )
    is_the_sites_page(comment, 400)
    assert "one of its fields is over 1 MB" in comment.text
    # Nothing was written: the agreement is where it was and no document was kept.
    after = await web.api(staff, "GET", f"/agreements/{agreement_id}")
    assert after.json()["version"] == created.json()["version"]
    assert await documents_of(web, province) == documents
    # The JSON API keeps the error shape's JSON.
    api = await web.api(
        staff, "POST", f"/agreements/{agreement_id}/actions", json={"type": "comment", "text": "x" * (limit + 10)}
    )
    assert api.status_code == 413 and api.json()["error"]["code"] == "payload_too_large"
    await client.aclose()


async def test_a_refused_form_shows_a_value_too_long_whole_and_a_megabyte_cut(web: LiveStack, orgs):
    # A refused form is shown again with what was sent, so that it is corrected rather than
    # typed again; a field of a megabyte came back whole, a page of a megabyte.
    province, regency = orgs
    client = await web.signed_in_client(web.user(province, "staff"))
    page = await client.get("/ui/agreements/new")
    form = {
        "csrf": csrf_of(page.text),
        "title": "T" * 3_000,  # over its 300: back whole, to be shortened
        "kind": "ksdd",
        "objectives": "o" * 1_000_000,  # over its 20,000: back as 40,000
        "sector": "water",
        "parties-0-org": province,
        "parties-0-signatory": "Gubernur",
        "parties-1-org": regency,
        "parties-1-signatory": "Bupati",
        "start_date": "2027-01-01",
        "duration_months": "24",
    }
    refused = await client.post("/ui/agreements/new", data=form)
    assert refused.status_code == 422, refused.text[:300]
    assert "T" * 3_000 in refused.text
    assert "o" * 40_000 in refused.text and "o" * 40_001 not in refused.text
    assert len(refused.content) < 200_000
    await client.aclose()
    # The portal's feedback form, for a citizen.
    staff = web.user(province, "staff")
    agreement_id, _ = await in_implementation_with_a_score(web, province, regency, title="Jembatan gema")
    assert (await act(web, staff, agreement_id, {"type": "publish"})).status_code == 200
    citizen = httpx.AsyncClient(base_url=web.base_url, headers={"X-Forwarded-For": "192.0.2.79"})
    portal = await citizen.get(f"/public/agreements/{agreement_id}")
    for message, shown in (("m" * 3_000, 3_000), ("m" * 1_000_000, 40_000)):
        sent = await citizen.post(
            f"/public/agreements/{agreement_id}/feedback", data={"csrf": csrf_of(portal.text), "message": message}
        )
        assert sent.status_code == 422, sent.text[:300]
        assert "m" * shown in sent.text and "m" * (shown + 1) not in sent.text
    await citizen.aclose()


async def test_a_figure_beyond_ten_to_the_fifteen_shows_the_form_again_saying_so(web: LiveStack, orgs):
    # The forms took any finite float as a target, an achievement or a measurement, and the
    # pages then showed one of 10^308 with all of its 309 digits.
    province, regency = orgs
    staff = web.user(province, "staff")
    client = await web.signed_in_client(staff)
    page = await client.get("/ui/agreements/new")
    form = {
        "csrf": csrf_of(page.text),
        "title": "Kerja sama air minum",
        "kind": "ksdd",
        "objectives": "Penyediaan air minum lintas wilayah.",
        "sector": "water",
        "parties-0-org": province,
        "parties-0-signatory": "Gubernur",
        "parties-1-org": regency,
        "parties-1-signatory": "Bupati",
        "start_date": "2027-01-01",
        "duration_months": "24",
        "indicators-0-name": "Sambungan rumah",
        "indicators-0-target": "1e308",
        "indicators-0-unit": "SR",
    }
    refused = await client.post("/ui/agreements/new", data=form)
    assert refused.status_code == 422, refused.text[:300]
    assert 'id="e-indicators-0-target"' in refused.text and "Angka harus antara -10^15 dan 10^15" in refused.text
    assert 'value="1e308"' in refused.text  # shown again, to be corrected
    assert (
        await client.post("/ui/agreements/new", data=form | {"indicators-0-target": "1000000000000000"})
    ).status_code == 303
    # In force: a measurement of the action plan's form.
    imported = await web.api(
        web.user(province, "admin"), "POST", "/agreements/import", json=[await in_force(web, province, regency)]
    )
    assert imported.status_code == 200, imported.text
    agreement_id = imported.json()["imported"][0]["id"]
    page = await client.get(f"/ui/agreements/{agreement_id}")
    measured = {"csrf": csrf_of(page.text), "type": "record_measurement", "indicator": "Sambungan rumah"}
    measured |= {"measured_on": "2026-06-01", "source": "Laporan PDAM"}
    for value in ("-1e30", "1.5e15"):
        sent = await client.post(f"/ui/agreements/{agreement_id}/plan", data=measured | {"value": value})
        assert sent.status_code == 422 and "Angka harus antara -10^15 dan 10^15" in sent.text, sent.text[:300]
    taken = await client.post(f"/ui/agreements/{agreement_id}/plan", data=measured | {"value": "-1e15"})
    assert taken.status_code == 303, taken.text[:300]
    await client.aclose()


async def in_force(web: LiveStack, province: str, regency: str) -> dict:
    body = plan_proposal(province, regency)
    signed = await web.api(
        web.user(province, "admin"), "POST", "/documents", content=b"PKS\n", headers={"Content-Type": "text/plain"}
    )
    return {"ref": f"PKS/{province}/angka", "signed_on": "2026-01-20", "document": signed.json()["sha256"]} | {
        "proposal": body
    }
