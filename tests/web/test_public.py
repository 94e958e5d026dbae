"""The public transparency portal: only what an organisation published, with its open data
(OCDS release packages valid against the standard's schema, CSV)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.web.live import LiveStack, csrf_of, outside_hosts, post_forms, screenshot
from tests.web.test_browser import signed_in_page
from tests.web.test_pages import proposal

SCHEMA = Path(__file__).parents[2] / "services" / "api" / "web" / "schema"


def ocds_validator() -> Draft4Validator:
    package = json.loads((SCHEMA / "release-package-schema.json").read_text())
    release = json.loads((SCHEMA / "release-schema-subset.json").read_text())
    registry = Registry().with_resource(release["id"], Resource.from_contents(release, default_specification=DRAFT4))
    return Draft4Validator(package, registry=registry)


async def in_implementation_with_a_score(web: LiveStack, org: str, partner: str) -> str:
    admin, staff = web.user(org, "admin"), web.user(org, "staff")
    signed = await web.api(admin, "POST", "/documents", content=b"signed\n", headers={"Content-Type": "text/plain"})
    body = proposal(org, partner, title="Kerja sama air bersih yang sudah berjalan", start_date="2026-01-01")
    record = {"ref": f"PKS/{org}/7", "signed_on": "2025-12-20", "document": signed.json()["sha256"], "proposal": body}
    imported = await web.api(admin, "POST", "/agreements/import", json=[record])
    assert imported.status_code == 200, imported.text
    agreement_id = imported.json()["imported"][0]["id"]
    report = {"type": "submit_evaluation_report", "evaluation": 1, "narrative": "Baik.", "results": []}
    for user, command in (
        (staff, {"type": "start_evaluation"}),
        (staff, report),
        (web.user(partner, "staff"), report),
        (staff, {"type": "conclude_evaluation", "evaluation": 1, "score": 82, "recommendation": "continue"}),
    ):
        resp = await web.api(user, "POST", f"/agreements/{agreement_id}/actions", json=command)
        assert resp.status_code == 200, resp.text
    return agreement_id


async def test_the_portal_shows_only_what_an_organisation_published(web: LiveStack, browser, orgs):
    province, regency = orgs
    staff = web.user(province, "staff")
    other = web.user(regency, "staff")

    async def create(user, body, submit=True) -> str:
        resp = await web.api(user, "POST", "/agreements", json=body)
        assert resp.status_code == 201, resp.text
        if submit:
            sent = await web.api(user, "POST", f"/agreements/{resp.json()['id']}/actions", json={"type": "submit"})
            assert sent.status_code == 200, sent.text
        return resp.json()["id"]

    submitted = await create(staff, proposal(province, regency, title="Air minum untuk publik", value=5_000_000))
    draft = await create(staff, proposal(province, regency, title="Masih draf rahasia"), submit=False)
    unpublished = await create(other, proposal(regency, province, title="Milik kabupaten tak terbit"))
    running = await in_implementation_with_a_score(web, province, regency)

    anonymous = httpx.AsyncClient(base_url=web.base_url)
    before = await anonymous.get("/public/")
    assert before.status_code == 200 and submitted not in before.text

    # The province's staff publish from its settings page.
    page = await signed_in_page(browser, web, staff, "/ui/publishing")
    await screenshot(page, "publishing")
    await page.click("#publish-toggle")
    await page.wait_for_url("**/ui/publishing?done=1")
    assert "publish" in (await page.content()).lower()
    assert {"/ui/publishing"} <= {f["action"] for f in post_forms(await page.content())}
    refused = await (await web.signed_in_client(web.user(province, "partner"))).post(
        "/ui/publishing", data={"publish": "no"}
    )
    assert refused.status_code == 403

    portal = await page.context.new_page()
    await portal.goto(f"{web.base_url}/public/")
    html = await portal.content()
    assert outside_hosts(html, web.base_url) == set()
    assert submitted in html and running in html
    assert draft not in html and unpublished not in html and "Masih draf rahasia" not in html
    await screenshot(portal, "public")
    await portal.click(f"tr[data-agreement='{running}'] a")
    await portal.wait_for_url(f"**/public/agreements/{running}")
    detail = await portal.content()
    assert "82" in detail and "Gubernur" not in detail  # scores shown, officials' names never
    await screenshot(portal, "public-agreement")
    await page.context.close()

    dashboard = await (await web.signed_in_client(staff)).get("/ui/dashboard")
    assert 'id="h-scores"' in dashboard.text and f'href="/ui/agreements/{running}"' in dashboard.text
    assert (await anonymous.get(f"/public/agreements/{unpublished}")).status_code == 404
    assert (await anonymous.get(f"/public/agreements/{draft}")).status_code == 404
    shown = await anonymous.get(f"/public/agreements/{submitted}")
    assert shown.status_code == 200 and "5.000.000" not in shown.text and "5000000" not in shown.text

    package = (await anonymous.get("/public/ocds.json")).json()
    ocds_validator().validate(package)
    ids = {r["tender"]["id"] for r in package["releases"]}
    assert {submitted, running} <= ids and not ({draft, unpublished} & ids)
    (contract,) = next(r for r in package["releases"] if r["tender"]["id"] == running)["contracts"]
    assert contract["status"] == "active" and contract["milestones"][0]["status"] == "met"
    csv_text = (await anonymous.get("/public/agreements.csv")).text
    assert submitted in csv_text and unpublished not in csv_text and "5000000" not in csv_text
    await anonymous.aclose()


def test_the_ocds_schema_refuses_a_release_that_breaks_it():
    validator = ocds_validator()
    bad = {"version": "1.1", "releases": [{"ocid": "x", "id": "x-1", "date": "2027-01-01T00:00:00Z", "tag": []}]}
    errors = list(validator.iter_errors(bad))
    assert errors  # no initiationType, an empty tag


async def test_citizens_feedback_is_shown_only_once_moderated_and_is_rate_limited(web: LiveStack, browser, orgs):
    province, regency = orgs
    staff = web.user(province, "staff")
    created = await web.api(staff, "POST", "/agreements", json=proposal(province, regency, title="Terminal bus"))
    agreement_id = created.json()["id"]
    assert (await web.api(staff, "POST", f"/agreements/{agreement_id}/actions", json={"type": "submit"})).is_success
    moderator = await web.signed_in_client(staff)
    settings_page = await moderator.get("/ui/publishing")
    await moderator.post("/ui/publishing", data={"csrf": csrf_of(settings_page.text), "publish": "yes"})

    citizen = httpx.AsyncClient(base_url=web.base_url)
    page = await citizen.get(f"/public/agreements/{agreement_id}")
    assert page.status_code == 200
    path = f"/public/agreements/{agreement_id}/feedback"
    assert (await citizen.post(path, data={"message": "Tanpa token"})).status_code == 403
    assert (await citizen.post(path, data={"csrf": csrf_of(page.text), "message": ""})).status_code == 422
    sent = await citizen.post(
        path, data={"csrf": csrf_of(page.text), "name": "Budi", "message": "Tolong tambah halte."}
    )
    assert sent.status_code == 303
    shown = await citizen.get(f"/public/agreements/{agreement_id}?sent=1")
    assert "Tolong tambah halte." not in shown.text  # held for moderation
    second = await citizen.post(path, data={"csrf": csrf_of(page.text), "message": "Dan lampu jalan."})
    assert second.status_code == 303
    third = await citizen.post(path, data={"csrf": csrf_of(page.text), "message": "Sekali lagi."})
    assert third.status_code == 429

    # Another organisation's staff cannot moderate it; the initiator's staff can.
    queue = await moderator.get("/ui/feedback")
    assert "Tolong tambah halte." in queue.text and "Dan lampu jalan." in queue.text
    ids = re.findall(r'data-feedback="([^"]+)"', queue.text)
    outsider = await web.signed_in_client(web.user(regency, "staff"))
    outsider_page = await outsider.get("/ui/feedback")
    assert "Tolong tambah halte." not in outsider_page.text
    refused = await outsider.post(
        f"/ui/feedback/{ids[0]}", data={"csrf": csrf_of(outsider_page.text), "decision": "approve"}
    )
    assert refused.status_code == 404
    assert (await moderator.post(f"/ui/feedback/{ids[0]}", data={"decision": "approve"})).status_code == 403
    page_html = queue.text
    for feedback_id, decision in zip(ids, ("approve", "reject"), strict=True):
        done = await moderator.post(
            f"/ui/feedback/{feedback_id}", data={"csrf": csrf_of(page_html), "decision": decision}
        )
        assert done.status_code == 303
    public = await citizen.get(f"/public/agreements/{agreement_id}")
    assert "Tolong tambah halte." in public.text and "Budi" in public.text and "Dan lampu jalan." not in public.text

    portal = await browser.new_page()
    await portal.goto(f"{web.base_url}/public/agreements/{agreement_id}")
    assert await portal.title() == "Terminal bus · Pakta"
    assert await portal.locator("form").count() == 2  # the language switch and the feedback form
    assert outside_hosts(await portal.content(), web.base_url) == set()
    await screenshot(portal, "public-feedback")
    await portal.close()
    for client in (citizen, moderator, outsider):
        await client.aclose()
